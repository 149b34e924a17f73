"""What a run reports: the lines it prints (its header, the network before training, the
summary) and the files it leaves (plots, metrics.json, history.csv, model.npz).

Every file is written atomically; during training, LiveRecords keeps metrics.json,
history.csv and the plots up to date after each epoch."""

import math
import os
import textwrap
import time
from dataclasses import dataclass
from typing import Optional

from mlp.callbacks import StuckAtChance, timed, weights_per_layer
from mlp.datasets import DATASETS, csv_title
from mlp.diagnostics import (
    plot_calibration,
    plot_confusion_matrix,
    plot_hidden_weights,
    plot_layer_health,
    plot_misclassified,
    save_figure,
)
from mlp.files import append_text, csv_text, make_folder, save_text, say, write_atomically
from mlp.record import (
    CSV,
    RECORD_FILE,
    RUNNING,
    STUCK,
    RunRecord,
    network_text,
    status_words,
    write_record,
)
from mlp.saved_models import save_model
from Model import COMPLETED, Callback, cross_entropy, plot_history

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
    network = network_text(dataset.n_features, settings.hidden_sizes, dataset.n_classes)
    scale = (" (pixels already 0 to 1, used as they are)" if dataset.data.pixel_scale == 1
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
    how = "" if outcome.status == COMPLETED else f" ({status_words(outcome.status)})"
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
        dead=bool(assessment and assessment.chance and assessment.chance["cause"] == "saturated"))


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
            notes = [] if outcome.status == COMPLETED else [status_words(outcome.status)]
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


# ------------------------------------------------------------------ the files of a run

def run_folder(output_dir, kind, csv_path):
    """Where a data set's files go: OUTPUT_DIR/<data set>; a CSV's (csv_path) is named after its
    file, with _csv added where that name is a named data set's (iris.csv: OUTPUT_DIR/iris_csv)."""
    if kind != CSV:
        return os.path.join(output_dir, kind)
    title = csv_title(csv_path)
    return os.path.join(output_dir, f"{title}_csv" if title.lower() in DATASETS else title)


HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                   "seconds")
# Redrawing the two plots costs about 0.4 s. During training they are redrawn at most
# once in PLOT_INTERVAL seconds, and never sooner than the last redraw's time divided by
# PLOT_BUDGET, so that they cost at most that share of the run; always at the end.
PLOT_INTERVAL = 10.0
PLOT_BUDGET = 0.02
# Characters of a plot title's line that fit across the figure; longer lines are wrapped.
TITLE_WIDTH = 70


def save_history_plots(folder, title, network, settings, result, status=None, n_val=None):
    """loss.png and accuracy.png: training and validation per epoch, the best epoch marked.

    settings is the RunSettings; result a Model.FitResult; status, when given, is said
    instead of its own.
    """
    status = status or result.status
    text = settings_text(network, settings)
    if status != COMPLETED:
        text += f" ({status_words(status)})"
    text = textwrap.fill(text, TITLE_WIDTH)
    for metric in ("loss", "accuracy"):
        save_figure(plot_history(result.history, metric, f"{title}: {metric} per epoch\n{text}",
                                 best_epoch=result.extras.get("best_epoch"), n_val=n_val),
                    os.path.join(folder, f"{metric}.png"))


def run_record(dataset, settings, result, train_seconds, status=None, costs=None, threads=None,
               assessment=None):
    """The RunRecord of a run, with what the callbacks cost (costs: {name: seconds}), the BLAS
    threads (a process.ThreadChoice) and the test set's Assessment, as far as they are known."""
    measures = dict(costs or {}, **(threads.to_json() if threads else {}),
                    **(assessment.to_json() if assessment else {}))
    return RunRecord.of(dataset, settings, result, train_seconds, status, measures)


def history_csv(result):
    """history.csv's text: a header of HISTORY_COLUMNS and one row per finished epoch."""
    return csv_text((history_row(result, epoch) for epoch in range(len(result.learning_rates))),
                    HISTORY_COLUMNS)


def history_row(result, index):
    """The history.csv cells of epoch index + 1 of a Model.FitResult."""
    history = result.history
    return (index + 1, history["loss"][index], history["accuracy"][index],
            history["val_loss"][index], history["val_accuracy"][index],
            result.learning_rates[index], result.epoch_seconds[index])


class LiveRecords(Callback):
    """Keeps a run's records up to date while it trains, in its folder.

    After every epoch: a row appended to history.csv (so tail -f and a
    spreadsheet see it), metrics.json rewritten with "status": "running", and
    the loss and accuracy plots redrawn when their time has come (see
    PLOT_INTERVAL). seconds counts the time spent writing.
    """

    def __init__(self, folder, dataset, settings, clock=time.monotonic):
        self.folder, self.dataset, self.settings = folder, dataset, settings
        self.path = os.path.join(folder, "history.csv")
        self.clock = clock
        self.seconds = 0.0
        self._next_plot = None

    def on_train_begin(self, run):
        # Loaded here, not counted: the plots at the end load it anyway.
        import matplotlib.figure  # noqa: F401

        with timed(self):
            make_folder(self.folder)
            save_text(history_csv(run.result), self.path)
        self._next_plot = self.clock() + PLOT_INTERVAL

    def on_epoch_end(self, run, logs):
        with timed(self):
            append_text(self.path,
                        csv_text([history_row(run.result, len(run.result.learning_rates) - 1)]))
            record = run_record(self.dataset, self.settings, run.result,
                                sum(run.result.epoch_seconds), status=RUNNING)
            write_record(record, os.path.join(self.folder, RECORD_FILE))
            started = self.clock()
            if started >= self._next_plot:
                network = network_text(self.dataset.n_features, self.settings.hidden_sizes,
                                       self.dataset.n_classes)
                save_history_plots(self.folder, self.dataset.title, network,
                                   self.settings, run.result, status=COMPLETED,
                                   n_val=len(self.dataset.X_val))
                finished = self.clock()
                self._next_plot = finished + max(PLOT_INTERVAL, (finished - started) / PLOT_BUDGET)
        return None


def write_results(folder, dataset, settings, model, result, train_seconds, costs, threads,
                  assessment):
    """Everything one data set's run leaves in folder: plots, metrics.json, model.npz.

    settings is the run's RunSettings; result is the FitResult of Model.fit;
    costs, threads and assessment (mlp.diagnostics.assess on the test set, None when
    training diverged) as run_record takes them.
    """
    make_folder(folder)
    title = dataset.title
    network = network_text(dataset.n_features, settings.hidden_sizes, dataset.n_classes)
    save_history_plots(folder, title, network, settings, result, n_val=len(dataset.X_val))
    health = result.extras.get("layer_health", {})
    if health.get("gradient_norm"):
        save_figure(plot_layer_health(health, f"{title}: each layer's health per epoch "
                                              f"({network} {settings.activation})",
                                      weights_per_layer(model), result.learning_rates),
                    os.path.join(folder, "layer_health.png"))
    record = run_record(dataset, settings, result, train_seconds, costs=costs, threads=threads,
                        assessment=assessment)
    if assessment is not None:
        save_figure(plot_calibration(assessment.calibration_bins, assessment.calibration_error,
                                     f"{title}: test set reliability"),
                    os.path.join(folder, "calibration.png"))
        save_figure(plot_confusion_matrix(assessment.confusion_matrix, dataset.class_names,
                                          f"{title}: test set, accuracy {assessment.accuracy:.2%}"),
                    os.path.join(folder, "confusion_matrix.png"))
        if dataset.image_shape is not None:
            write_image_plots(folder, title, dataset, model, assessment)
        write_atomically(os.path.join(folder, "model.npz"),
                         lambda stream: save_model(stream, model, dataset.class_names,
                                                   dataset.feature_mean, dataset.feature_scale,
                                                   record))
    write_record(record, os.path.join(folder, RECORD_FILE))


def write_image_plots(folder, title, dataset, model, assessment):
    """For a data set of images: the most confidently misclassified ones, and the first layer's
    weights."""
    images = dataset.X_test.reshape(len(dataset.X_test), *dataset.image_shape)
    save_figure(plot_misclassified(images, dataset.y_test, assessment.probabilities,
                                   dataset.class_names,
                                   f"{title}: the test images most confidently misclassified"),
                os.path.join(folder, "misclassified.png"))
    first = model.layers[0]
    what = "first hidden layer" if model.hidden_layers else "output layer (no hidden layer)"
    save_figure(plot_hidden_weights(first.weights, dataset.image_shape,
                                    f"{title}: incoming weights of the {what}, "
                                    f"{min(64, first.weights.shape[1])} of "
                                    f"{first.weights.shape[1]} units"),
                os.path.join(folder, "hidden_weights.png"))
