"""Searches: --trials N runs drawn by Optuna from ranges and values, each an ordinary run.

    python Main.py --datasets iris --learning_rate 1e-3..1e-1 --dropout 0..0.3 \
        --hidden_layers [8] [16, 8] --trials 8 --output_dir search

A search is an experiment whose combinations Optuna chooses: its TPE sampler,
seeded by --seed, draws each trial's values from the ranges (LOW..HIGH) and the
values given, learning from the trials that ended. Each trial is the command a
user could type alone with the values drawn, in its own folder and process,
exactly as an experiment's runs (mlp.experiments starts and watches them); its
objective is the lowest validation loss of its epochs. The study lives in a
journal file in OUTPUT_DIR (Optuna's JournalStorage: several processes, no
server). With --jobs 1 a trial is drawn once the one before has ended, so the
same command draws the same trials again; with several jobs, a trial is drawn
while others still train, from what has ended so far, so which values come when
depends on which runs finish first. The runs are compared at the end as an
experiment's are.
"""

import json
import math
import os
import shlex

from mlp.comparison import compare_and_report, find_runs, metrics_files, read_run
from mlp.errors import EXIT_FAILED, EXIT_SIGNAL, DataError
from mlp.experiments import (
    MARKER,
    SHORT,
    Job,
    Stopper,
    choose_jobs,
    run_jobs,
    without_flags,
)
from mlp.files import make_folder, save_text, say, set_aside
from mlp.flags import Range, parse_args
from mlp.record import setting_text

JOURNAL = "study.journal"   # in OUTPUT_DIR: the study, as Optuna's journal file
STUDY = "search"


def distribution(values):
    """The Optuna distribution of a flag's values: a list of one Range, or values to choose
    among (as the texts their flag takes, so that any value, a network too, is a choice)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(values[0], Range):
        drawn = values[0]
        if drawn.whole:
            return IntDistribution(int(drawn.low), int(drawn.high), log=drawn.log)
        return FloatDistribution(drawn.low, drawn.high, log=drawn.log)
    return CategoricalDistribution([setting_text(value, exact=True) for value in values])


def folder_text(name, value):
    """A drawn value as a trial's folder name holds it: lr0.00123, h16-8."""
    if name == "hidden_layers":
        return "-".join(map(str, value)) or "none"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class Trials:
    """The trials still to run, each asked of the study when a process is free for it (len():
    how many are left; pop(0): the next trial's Job)."""

    def __init__(self, study, command, base):
        self.study, self.command, self.base = study, command, base
        self.distributions = {name: distribution(values)
                              for name, values in command.varied.items()}
        self.choices = {name: {setting_text(value, exact=True): value for value in values}
                        for name, values in command.varied.items()
                        if not isinstance(values[0], Range)}
        self.left = command.trials
        self.asked = {}     # folder: the trial
        self.tokens = {}    # folder: the trial's command, as a user would type it alone

    def __len__(self):
        return self.left

    def pop(self, index=0):
        trial = self.study.ask(self.distributions)
        values = {name: self.choices[name][drawn] if name in self.choices else drawn
                  for name, drawn in trial.params.items()}
        tokens = self.base + [f"--{name}={setting_text(value, exact=True)}"
                              for name, value in values.items()]
        folder = os.path.join(self.command.output_dir, f"t{trial.number}_" + "_".join(
            SHORT[name] + folder_text(name, value) for name, value in values.items()))
        self.left -= 1
        self.asked[folder] = trial
        self.tokens[folder] = tokens + [f"--output_dir={folder}"]
        return Job(values, folder, self.tokens[folder], parse_args(tokens))

    def tell(self, job):
        """Tell the study how the job's trial ended: its lowest validation loss, or failed."""
        import optuna

        trial = self.asked[job.folder]
        losses = [loss for path in metrics_files(job.folder) for loss in
                  read_run(path).history["val_loss"]] if job.returncode == 0 else []
        if losses and all(map(math.isfinite, losses)):
            self.study.tell(trial, min(losses))
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return self.best_so_far()

    def best_so_far(self):
        try:
            best = self.study.best_trial
        except ValueError:  # no trial has a value yet
            return ""
        return f"; best so far: trial {best.number}, val_loss {best.value:.4f}"


def open_study(command):
    """A new study in OUTPUT_DIR's journal file, its TPE sampler seeded by --seed."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is ours to print
    storage = JournalStorage(JournalFileBackend(os.path.join(command.output_dir, JOURNAL)))
    return optuna.create_study(storage=storage, study_name=STUDY, direction="minimize",
                               sampler=optuna.samplers.TPESampler(seed=command.training.seed))


def prepare_folder(command):
    """Make OUTPUT_DIR ready for a new search: an earlier experiment or search there is moved
    aside (never written over). Returns where it went."""
    if command.resume:
        raise DataError("argument --resume: a search is not resumed yet; run it again without "
                        "--resume (an earlier one in OUTPUT_DIR is moved aside)")
    earlier = os.path.isfile(os.path.join(command.output_dir, MARKER))
    moved = set_aside(command.output_dir)[0] if earlier else None
    make_folder(command.output_dir)
    varied = {name: [str(value) if isinstance(value, Range) else value for value in values]
              for name, values in command.varied.items()}
    save_text(json.dumps({"varied": varied, "trials": command.trials, "study": STUDY,
                          "journal": JOURNAL}, indent=2) + "\n",
              os.path.join(command.output_dir, MARKER))
    return moved


def run_search(command):
    """Run the trials of a search, a few at once; compare them; return the exit status (0 when
    every trial finished, 1 when one failed, 130/143/129 when stopped)."""
    names = list(command.varied)
    base = without_flags(list(command.tokens), {"--" + name for name in names}
                         | {"--output_dir", "--jobs", "--resume", "--trials"})
    if "--threads" not in command.given_flags:
        base.append("--threads=1")
    probe = [Job({}, command.output_dir, base, parse_args(without_flags(base, {"--hidden_layers"})
                                                          + [f"--hidden_layers={choice}"]))
             for choice in ([setting_text(value, exact=True) for value in
                             command.varied["hidden_layers"]]
                            if "hidden_layers" in command.varied else ["[256, 64]"])]
    width = choose_jobs(command.jobs, command.training.threads, probe * command.trials)
    moved = prepare_folder(command)
    if moved:
        say(f"The earlier experiment in {command.output_dir} was moved to {moved}")
    drawn = ", ".join(f"--{name} {values[0]}" if isinstance(values[0], Range)
                      else f"--{name} x{len(values)}" for name, values in command.varied.items())
    say(f"Search: {command.trials} trials ({drawn}) drawn by Optuna's TPE sampler in "
        f"{command.output_dir}, {width} at a time; each trial's printout is in its folder's "
        f"log.txt")
    trials = Trials(open_study(command), command, base)
    stop = Stopper()
    with stop:
        run_jobs(trials, width, stop, False, on_end=trials.tell)
    ended = list(trials.asked)
    with_runs = [folder for folder in ended if metrics_files(folder)]
    if with_runs and not stop.signal_number:
        compare_and_report(find_runs(with_runs), command.output_dir)
        say_best(trials)
    if stop.signal_number:
        say(f"Stopped after {len(ended)} of {command.trials} trials started.")
        return EXIT_SIGNAL[stop.signal_number]
    failed = [trial for trial in trials.study.trials if trial.state.name == "FAIL"]
    return EXIT_FAILED if failed else 0


def say_best(trials):
    """The best trial by Optuna's objective (lowest validation loss), and its command alone."""
    try:
        best = trials.study.best_trial
    except ValueError:
        return
    folder = next(folder for folder, trial in trials.asked.items()
                  if trial.number == best.number)
    say(f"Best trial by validation loss: {os.path.basename(folder)}, val_loss {best.value:.4f}; "
        f"alone it is: python Main.py {shlex.join(trials.tokens[folder])}")
