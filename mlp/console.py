"""What a training run prints: its header, the network before training, and the summary."""

import math
import textwrap
from dataclasses import dataclass
from typing import Optional

from Model import COMPLETED, cross_entropy
from mlp.callbacks import STUCK, StuckAtChance
from mlp.files import say
from mlp.record import network_text


# Console lines longer than this are wrapped (a terminal is often 100 or 120 columns wide).
WIDTH = 100


# ------------------------------------------------- a network and its settings, in words

def regularisation_text(settings):
    """", weight decay 0.05, dropout 0.1" for a run's RunSettings; "" when both are off."""
    parts = [f"{label} {getattr(settings, key):g}" for key, label in
             (("weight_decay", "weight decay"), ("dropout", "dropout"),
              ("augment_pixels", "augmented by shifts up to")) if getattr(settings, key)]
    return "".join(", " + part for part in parts)


def settings_text(network, settings):
    """How a network was trained (a RunSettings), in one line: the run's header and the plots'
    titles say it."""
    return (f"network {network} {settings.activation}, {settings.optimizer}, learning rate "
            f"{settings.learning_rate:g} ({settings.lr_schedule}), batch "
            f"{settings.batch_size}{regularisation_text(settings)}")


# ------------------------------------------------------------------ the lines of a run

@dataclass
class Outcome:
    """One data set's line of the summary: how its run ended, and where its files are."""
    title: str
    folder: str
    status: str
    test_loss: Optional[float] = None
    test_accuracy: Optional[float] = None
    calibration_error: Optional[float] = None
    health: str = ""
    earlier: bool = False       # it ended in an earlier command; its files are kept
    moved_to: Optional[str] = None  # where the files of an earlier run in folder went
    best_epoch: Optional[int] = None  # with --patience: the epoch whose weights were kept
    stuck: str = ""             # stuck_sentence: said first when the network learned nothing
    dead: bool = False          # stuck with its hidden units saturated: the run failed


def print_header(dataset, settings, threads):
    """The run's first line: the data's rows and where they came from, and how it trains
    (threads says how many BLAS threads, and why)."""
    network = network_text(dataset.n_features, settings.hidden_layers, dataset.n_classes)
    scale = (" (pixels already 0 to 1, used as they are)" if dataset.identity.pixel_scale == 1
             else "")
    say(wrapped(f"{dataset.title}: {len(dataset.X_train)} training, {len(dataset.X_val)} "
                  f"validation, {len(dataset.X_test)} test rows from {dataset.source}{scale}; "
                  f"{settings_text(network, settings)}; {threads}", "  "))


def wrapped(text, indent):
    """text broken at spaces into lines of at most WIDTH characters, the later ones indented
    (a word longer than that, such as a long path, stays whole)."""
    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def network_table(model):
    """The layers with their shapes and parameter counts, and the total, as lines of text
    (as Keras's Model.summary() prints them)."""
    lines = [f"  {'layer':<22}{'shape':>14}{'parameters':>14}"]
    kinds = [layer.activation for layer in model.hidden_layers] + ["softmax"]
    for name, kind, layer in zip(model.layer_names(), kinds, model.layers):
        lines.append(f"  {name + f' ({kind})':<22}{f'{layer.n_inputs} -> {layer.n_outputs}':>14}"
                     f"{layer.weights.size + layer.bias.size:>14,}")
    lines.append(f"  {'total':<22}{'':>14}{sum(p.size for p in model.parameters()):>14,}")
    return lines


def look_before_training(model, X_val, Y_val):
    """Print the layers and their parameter counts, and the untrained network's validation loss
    beside ln(number of classes), the loss of guessing uniformly (CS231n's first sanity check)."""
    for line in network_table(model):
        say(line)
    loss = cross_entropy(model.predict_proba(X_val), Y_val)
    expected = math.log(model.n_classes)
    verdict = ("as expected of an untrained network" if abs(loss - expected) <= 0.5 * expected
               else "far from it: check how the data is scaled and the weights initialised")
    say(f"  untrained validation loss {loss:.3f}; ln({model.n_classes}) = {expected:.3f}: "
        f"{verdict}")


def print_diverged(title, epoch, learning_rate):
    say(f"{title}: training diverged in epoch {epoch} (the loss blew up or stopped being "
        f"finite); stopped and kept the {epoch - 1} finished epochs; try a smaller "
        f"--learning_rate than {learning_rate:g}", error=True)


def print_stuck(title, epoch, epochs):
    say(wrapped(f"{title}: stopped after epoch {epoch} of {epochs}: for {StuckAtChance.EPOCHS} "
                f"epochs it has answered one class at chance accuracy with its hidden units "
                f"saturated, and further epochs cannot change that (the summary says more)", "  "))


def finished_before(title, folder, status):
    """Say how a data set's run ended in an earlier command, and return its Outcome."""
    outcome = Outcome(title, folder, status, earlier=True)
    say(f"{title}: {ended_before(outcome)}")
    return outcome


def ended_before(outcome):
    how = "" if outcome.status == COMPLETED else f" ({outcome.status.replace('_', ' ')})"
    return f"finished before{how}; its files in {outcome.folder} are kept"


def outcome(title, folder, result, assessment, model, learning_rate, health, moved_to=None):
    """The summary's Outcome of a run that trained: result its FitResult, assessment its
    Assessment (None when it diverged), health the sentence on its layers."""
    best = result.extras.get("best_epoch")
    return Outcome(
        title, folder, result.status, moved_to=moved_to,
        best_epoch=best if best and best != len(result.learning_rates) else None,
        test_loss=assessment.loss if assessment else None,
        test_accuracy=assessment.accuracy if assessment else None,
        calibration_error=assessment.calibration_error if assessment else None, health=health,
        stuck=stuck_sentence(assessment, result, model, learning_rate),
        dead=bool(assessment and assessment.chance["cause"] == "saturated"))


def print_stop_advice(resumable):
    """What to do after a stop: --resume when a run left a checkpoint, else start again."""
    if resumable:
        say("To continue from the last finished epoch, run the same command with --resume.")
    else:
        say("No epoch had finished, so there is nothing to resume: run the same command again "
            "to start afresh.")


def stuck_sentence(assessment, result, model, learning_rate):
    """What the summary says first of a network that learned nothing (Assessment.chance says
    so): the evidence, and the likely cause and fix; "" for one that learned."""
    chance = assessment.chance if assessment else None
    if not chance or not chance["stuck"]:
        return ""
    stopped = (f"stopped after epoch {len(result.learning_rates)}, as it could not recover; "
               if result.status == STUCK else "")
    evidence = [f"test accuracy {chance['accuracy']:.4f}, where always answering the most common "
                f"class gets {chance['chance_level']:.4f} (give or take {chance['noise']:.2f})",
                f"it answers {chance['most_answered']!r} for {chance['most_answered_share']:.0%} "
                f"of the test rows"]
    if chance["cause"] == "saturated":
        name = model.layer_names()[chance["saturated_layer"]]
        evidence.append(f"{chance['saturation']:.0%} of {name}'s activations are saturated, "
                        f"so almost no gradient passes it")
        cause = (f"the learning rate {learning_rate:g} is likely too large: the first steps drove "
                 f"the hidden units into saturation, where they stop learning; try "
                 f"--learning_rate {learning_rate / 10:g}")
    else:
        cause = ("it has likely not trained enough yet: try more --epochs or a larger "
                 "--learning_rate")
    return (f"stuck at chance: the network learned nothing useful ({stopped}"
            f"{'; '.join(evidence)}). {cause[0].upper()}{cause[1:]}.")


def print_summary(outcomes):
    say("\nSummary")
    for outcome in outcomes:
        if outcome.earlier:
            say(f"  {outcome.title}: {ended_before(outcome)}")
            continue
        if outcome.stuck:
            say(wrapped(f"  {outcome.title}: {outcome.stuck}", "    "))
        if outcome.test_accuracy is None:
            say(f"  {outcome.title}: {outcome.status}, no test metrics; files in {outcome.folder}")
        else:
            notes = [] if outcome.status == COMPLETED else [outcome.status.replace("_", " ")]
            if outcome.best_epoch:
                notes.append(f"kept epoch {outcome.best_epoch}'s weights, the best on validation")
            note = f" ({'; '.join(notes)})" if notes else ""
            say(f"  {outcome.title}: test loss {outcome.test_loss:.4f}, test accuracy "
                f"{outcome.test_accuracy:.4f}, calibration error "
                f"{outcome.calibration_error:.4f}{note}; files in {outcome.folder}")
        if outcome.moved_to:
            say(f"    the earlier run's files were moved to {outcome.moved_to}")
        if outcome.health:
            say(wrapped(f"    {outcome.health}", "    "))
