"""Searches: --trials N runs drawn by Optuna from ranges and values, each an ordinary run.

    python Main.py --datasets iris --learning_rate 1e-3..1e-1 --dropout 0..0.3 \
        --hidden_layers [8] [16, 8] --trials 8 --output_dir search

A search is an experiment whose combinations Optuna chooses; Optuna's sampler,
pruners and storages do the work, and nothing here replaces them. Its TPE sampler,
seeded by --seed, draws each trial's values from the ranges (LOW..HIGH) and the
values given, learning from the trials that ended. Each trial is the command a
user could type alone with the values drawn, in its own folder and process,
exactly as an experiment's runs (mlp.experiments starts and watches them); its
objective is the lowest validation loss of its epochs. The run learns that it is
a trial from its environment (TRIAL_ENVIRONMENT) and reports each epoch's
validation loss to it, and stops, pruned, when the pruner says (ReportToTrial);
nothing else in it changes. The study lives in a journal file in OUTPUT_DIR
(Optuna's JournalStorage: several processes, no server), or in a database that
several machines share (--storage). With --jobs 1 a trial is drawn once the one
before has ended, so the same command draws the same trials again; with several
jobs, a trial is drawn while others still train, from what has ended so far, so
which values come when depends on which runs finish first. The runs are compared
at the end as an experiment's are, and Optuna draws its own pictures of the study.
"""

import contextlib
import json
import math
import os
import re
import shlex
import time

from mlp.comparison import compare_and_report, find_runs, metrics_files, plural, read_run
from mlp.errors import EXIT_FAILED, EXIT_SIGNAL, DataError, UserError
from mlp.experiments import (
    MARKER,
    SHORT,
    Job,
    Stopper,
    check_data_files,
    choose_jobs,
    run_jobs,
    run_settings,
    run_tokens,
    without_flags,
)
from mlp.files import make_folder, save_text, say, set_aside, write_atomically
from mlp.flags import Range, parse_args
from mlp.optimizers import weight_decay_problem
from mlp.record import PRUNED, setting_text
from Model import Callback

JOURNAL = "study.journal"   # in OUTPUT_DIR: the study, as Optuna's journal file
# Set by a search in each trial's environment: where its study is and which trial it is (JSON).
TRIAL_ENVIRONMENT = "MAIN_PY_TRIAL"


def hyperband(max_epochs):
    """Optuna's HyperbandPruner: brackets of trials, each stopping the worst two thirds of its
    trials at each of its rungs (1, 3, 9 epochs and on, up to max_epochs)"""
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs,
                                          reduction_factor=3)


def median(max_epochs):
    """Optuna's MedianPruner: stops a trial whose best validation loss so far is worse than the
    median of the trials before it at that epoch (from the sixth trial and the second epoch)"""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def successive_halving(max_epochs):
    """Optuna's SuccessiveHalvingPruner (asynchronous, ASHA): one bracket, keeping the best
    third of the trials at each rung (3, 9, 27 epochs and on: one epoch says too little of a
    small learning rate)"""
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=3, reduction_factor=3)


def no_pruning(max_epochs):
    """every trial trains all its epochs"""
    import optuna

    return optuna.pruners.NopPruner()


# The pruners --pruner chooses among: {name: the pruner for trials of up to max_epochs (its
# docstring says what it does)}. The default, asha, by measurement (docs/speed.md).
PRUNERS = {"asha": successive_halving, "hyperband": hyperband, "median": median,
           "none": no_pruning}
DEFAULT_PRUNER = "asha"


class ReportToTrial(Callback):
    """A trial's run reports each epoch's validation loss to its trial and stops, PRUNED, when
    the search's pruner says it has fallen behind. Synchronous: the report is stored before
    the run asks, so a pruned trial stops at the same epoch whenever the same trials came
    before it."""

    def __init__(self, trial):
        self.trial = trial

    def on_epoch_end(self, run, logs):
        self.trial.report(logs["val_loss"], run.epoch)
        if run.epoch < run.epochs and self.trial.should_prune():
            return PRUNED
        return None


def trial_of_run():
    """(the ReportToTrial callback, the record's study and trial entries) of a run a search
    started (TRIAL_ENVIRONMENT), else (None, {})."""
    text = os.environ.get(TRIAL_ENVIRONMENT)
    if not text:
        return None, {}
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = json.loads(text)
    study = optuna.load_study(study_name=spec["study"], storage=storage_of(spec["storage"]),
                              pruner=PRUNERS[spec["pruner"]](spec["max_epochs"]))
    return (ReportToTrial(optuna.trial.Trial(study, spec["trial_id"])),
            {"study": spec["study"], "trial": spec["number"]})


def storage_of(where):
    """The Optuna storage of where: {"journal": a journal file's path}, or {"url": a database
    URL} (a server that does not answer within CONNECT_SECONDS is given up on)."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if "journal" in where:
        return JournalStorage(JournalFileBackend(where["journal"]))
    url = where["url"]
    connect = {"connect_timeout": CONNECT_SECONDS} if url.startswith("postgresql") else {}
    return RDBStorage(url, engine_kwargs={"connect_args": connect}, skip_table_creation=False)


CONNECT_SECONDS = 10


def masked(url):
    """A database URL as it may be shown: its password as ***, as SQLAlchemy renders it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the URL given"


def open_storage(where):
    """storage_of(where) for a URL, or UserError in one line naming what is wrong with it (the
    password never shown): not a URL, no driver for it, a server that does not answer."""
    from sqlalchemy.exc import (
        ArgumentError,
        IntegrityError,
        NoSuchModuleError,
        OperationalError,
        ProgrammingError,
        SQLAlchemyError,
    )

    shown = masked(where["url"])
    try:
        for attempt in range(3):
            try:
                return storage_of(where)
            except (IntegrityError, ProgrammingError):  # another worker made the tables just now
                if attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as error:  # (an ArgumentError)
        raise UserError(f"argument --storage: no driver for {shown} ({error}); expected "
                        f"postgresql+psycopg:// with psycopg installed") from None
    except (ArgumentError, ValueError):
        raise UserError(f"argument --storage: {shown} is not a database URL; expected one such "
                        f"as postgresql+psycopg://USER@HOST/DATABASE") from None
    except OperationalError as error:
        reason = " ".join(str(error.orig or error).split()).replace(where["url"], shown)
        raise UserError(f"argument --storage: {shown} did not answer within "
                        f"{CONNECT_SECONDS} s or refused ({reason[:200]}); expected a running "
                        f"database server") from None
    except SQLAlchemyError as error:
        raise UserError(f"argument --storage: {shown}: {type(error).__name__}; expected a "
                        f"database Optuna can store a study in") from None


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

    def __init__(self, study, command, base, where, storage):
        self.study, self.command, self.base, self.where = study, command, base, where
        self.storage = storage
        self.distributions = {name: distribution(values)
                              for name, values in command.varied.items()}
        self.choices = {name: {setting_text(value, exact=True): value for value in values}
                        for name, values in command.varied.items()
                        if not isinstance(values[0], Range)}
        self.asked = {}     # folder: the trial's number
        self.tokens = {}    # folder: the trial's command, as a user would type it alone
        self.failed = 0     # trials of this process whose run failed
        self.again = []     # the Jobs of trials whose process died, to run again (--resume)
        self._counted = (0.0, 0)

    def __len__(self):
        """The trials still to run: those to run again, and the budget less every trial of the
        study (a shared study's other workers' too; counted at most once a second)."""
        checked, count = self._counted
        if time.monotonic() - checked > 1.0:
            count = len(self.study.get_trials(deepcopy=False))
            self._counted = (time.monotonic(), count)
        return len(self.again) + max(0, self.command.trials - count)

    def pop(self, index=0):
        """The next trial's Job, or None when the budget is spent (another worker of a shared
        study asked the last)."""
        if self.again:
            return self.again.pop(0)
        import optuna

        with one_asker(self.storage, self.command.study):
            self._counted = (0.0, 0)
            if not len(self):
                return None
            # The sampler of each trial is seeded by --seed and the trials the study holds: the
            # same draws again for the same command, and none repeated by a resumed search or by
            # another worker of a shared study (each asks under the lock, at another count).
            held = self._counted[1]
            self.study.sampler = optuna.samplers.TPESampler(seed=self.command.training.seed + held)
            trial = self.study.ask(self.distributions)
        self._counted = (0.0, 0)
        return self.job_for(trial)

    def run_again(self):
        """Take up the study's trials whose folders are in OUTPUT_DIR (--resume): those that
        ended are this search's (its table and best trial), those left running by a process that
        died are queued to run once more, from their checkpoints: each stays one trial."""
        for trial in self.study.get_trials(deepcopy=False):
            job = self.job_for(trial)
            if not os.path.isdir(job.folder):  # another worker's
                del self.asked[job.folder], self.tokens[job.folder]
            elif trial.state.name == "RUNNING":
                self.again.append(job)
        return len(self.again)

    def job_for(self, trial):
        """The Job of a trial (a Trial just asked, or a FrozenTrial to run again)."""
        values = {name: self.choices[name][drawn] if name in self.choices else drawn
                  for name, drawn in trial.params.items()}
        tokens = self.base + [f"--{name}={setting_text(value, exact=True)}"
                              for name, value in values.items()]
        folder = os.path.join(self.command.output_dir, f"t{trial.number}_" + "_".join(
            SHORT[name] + folder_text(name, value) for name, value in values.items()))
        self.asked[folder] = trial.number
        self.tokens[folder] = tokens + [f"--output_dir={folder}"]
        spec = {"storage": self.where, "study": self.command.study, "trial_id": trial._trial_id,
                "number": trial.number, "pruner": self.command.pruner,
                "max_epochs": most_epochs(self.command)}
        return Job(values, folder, self.tokens[folder], parse_args(tokens),
                   environment={TRIAL_ENVIRONMENT: json.dumps(spec)})

    def tell(self, job):
        """Tell the study how the job's trial ended: its lowest validation loss, pruned, or
        failed."""
        import optuna

        trial = self.asked[job.folder]
        if job.returncode in EXIT_SIGNAL.values():  # stopped: --resume runs it on
            return ""
        runs = [read_run(path) for path in metrics_files(job.folder)] if job.returncode == 0 else []
        losses = [loss for run in runs for loss in run.history["val_loss"]]
        if any(run.status == PRUNED for run in runs):
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif losses and all(map(math.isfinite, losses)):
            self.study.tell(trial, min(losses))
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self.failed += 1
        return self.best_so_far()

    def best_so_far(self):
        try:
            best = self.study.best_trial
        except ValueError:  # no trial has a value yet
            return ""
        return f"; best so far: trial {best.number}, val_loss {best.value:.4f}"


@contextlib.contextmanager
def one_asker(storage, name):
    """Within it, no other worker of a study shared in PostgreSQL counts or asks trials (an
    advisory lock keyed by the study's name), so that two workers with --trials 10 make 10
    trials, not 11. A journal file has one asker already: the search's own process."""
    engine = getattr(storage, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"),
                               {"name": name})


def check_the_corner(command, run, tables):
    """UserError where the highest learning rate and the highest weight decay the search may
    draw together cannot train (experiments refuse such a run before it starts): every trial
    drawn near that corner would fail. run: the search's flags parsed without its choices;
    tables: experiments.train_rows' CSV rows read so far."""
    varied = command.varied
    if "learning_rate" not in varied and "weight_decay" not in varied:
        return
    for kind in run.datasets:
        settings = run_settings(run, kind, tables)
        rate, decay = (max(value.high if isinstance(value, Range) else value
                           for value in varied[name]) if name in varied
                       else getattr(settings, name) for name in ("learning_rate", "weight_decay"))
        if weight_decay_problem(rate, decay):
            raise UserError(f"argument --weight_decay: the search may draw --learning_rate "
                            f"{rate:g} with --weight_decay {decay:g}, and each step would then "
                            f"multiply the weights by 1 - {rate:g} x {decay:g} = "
                            f"{1 - rate * decay:g}; expected ranges whose highest learning rate "
                            f"x highest weight decay is below 1")


def open_study(command, where, storage):
    """The study --study names at where (a new one, or, in a database, the one other workers
    share), its pruner the one --pruner names (its sampler is set for each trial: Trials.pop);
    UserError when a study of that name searches anything else."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial is ours to print
    study = optuna.create_study(storage=storage, study_name=command.study, direction="minimize",
                                pruner=PRUNERS[command.pruner](most_epochs(command)),
                                load_if_exists=True)
    searched = definition(command)
    shown = masked(where["url"]) if "url" in where else where["journal"]
    if study.user_attrs.get("search") is None:
        study.set_user_attr("search", searched)
    # (a study of an older version also held its budget there: --trials=N)
    elif re.sub(r" --trials=\d+", "", study.user_attrs["search"]) != searched:
        raise UserError(f"argument --study: the study {command.study!r} in {shown} searches "
                        f"{study.user_attrs['search']}, not {searched}; expected the same "
                        f"flags as its other workers, or another --study")
    budget = study.user_attrs.get("trials", command.trials)
    if budget != command.trials and not command.resume:
        raise UserError(f"argument --trials: the study {command.study!r} in {shown} has a budget "
                        f"of {plural(budget, 'trial')}, not {command.trials}; expected --trials "
                        f"{budget}, or --resume to make it {command.trials}")
    return study


def set_budget(study, command):
    """The study's budget (its user attribute "trials") made --trials: a new study's, or one
    --resume changes (open_study has refused a change without it)."""
    budget = study.user_attrs.get("trials", command.trials)
    if budget != command.trials:
        say(f"The study's budget was {plural(budget, 'trial')}; it is {command.trials} now")
        write_marker(command)
    study.set_user_attr("trials", command.trials)


def definition(command):
    """What a search searches, as a text every worker of a shared study must agree on: the
    command's tokens without its own folder, jobs, storage and budget, and its pruner. (The
    budget, --trials, is the study's user attribute "trials": --resume may change it.)"""
    tokens = without_flags(list(command.tokens), OWN_FLAGS)
    return " ".join(tokens + [f"--pruner={command.pruner}"])


# The flags of the search itself, which its trials' commands leave out.
OWN_FLAGS = {"--output_dir", "--jobs", "--resume", "--trials", "--pruner", "--storage",
             "--study"}


def most_epochs(command):
    """The most epochs a trial may train: the pruner's last rung."""
    epochs = command.varied.get("epochs", [command.training.epochs])
    return int(max(value.high if isinstance(value, Range) else value for value in epochs))


def prepare_folder(command):
    """Make OUTPUT_DIR ready: for a new search, an earlier experiment or search there is moved
    aside (never written over); --resume continues the search there. Returns where an earlier
    one went."""
    marker = os.path.join(command.output_dir, MARKER)
    if command.resume:
        journal = os.path.join(command.output_dir, JOURNAL)
        if not os.path.isfile(marker) or not (command.storage or os.path.isfile(journal)):
            raise DataError(f"argument --resume: nothing to resume: no search in "
                            f"{command.output_dir} ({MARKER} and {JOURNAL}); run without "
                            f"--resume to start")
        return None
    earlier = os.path.isfile(marker)
    moved = set_aside(command.output_dir)[0] if earlier else None
    make_folder(command.output_dir)
    write_marker(command)
    return moved


def write_marker(command):
    """OUTPUT_DIR's MARKER: what the search varies, its budget, its study and journal."""
    varied = {name: [str(value) if isinstance(value, Range) else value for value in values]
              for name, values in command.varied.items()}
    save_text(json.dumps({"varied": varied, "trials": command.trials, "study": command.study,
                          "journal": None if command.storage else JOURNAL}, indent=2) + "\n",
              os.path.join(command.output_dir, MARKER))


def run_search(command):
    """Run the trials of a search, a few at once; compare them; return the exit status (0 when
    every trial finished, 1 when one failed, 130/143/129 when stopped)."""
    base = run_tokens(command, OWN_FLAGS)
    # A run of each network the search may draw (the one given, where none is drawn): the
    # checks below and --jobs' memory estimate read them.
    networks = ([[f"--hidden_layers={setting_text(value, exact=True)}"]
                 for value in command.varied["hidden_layers"]]
                if "hidden_layers" in command.varied else [[]])
    probe = [Job({}, command.output_dir, base, parse_args(base + network)) for network in networks]
    tables = {}     # (a CSV's training rows, read once for both checks)
    check_data_files(probe[0].command, tables)
    check_the_corner(command, probe[0].command, tables)
    width = choose_jobs(command.jobs, command.training.threads, probe * command.trials)
    if command.storage:
        where = {"url": command.storage}
        storage = open_storage(where)
        study = open_study(command, where, storage)  # (refused before OUTPUT_DIR is touched)
    moved = prepare_folder(command)
    if moved:
        say(f"The earlier experiment in {command.output_dir} was moved to {moved}")
    if not command.storage:
        where = {"journal": os.path.abspath(os.path.join(command.output_dir, JOURNAL))}
        storage = storage_of(where)
        study = open_study(command, where, storage)
    set_budget(study, command)
    drawn = ", ".join(f"--{name} {values[0]}" if isinstance(values[0], Range)
                      else f"--{name} x{len(values)}" for name, values in command.varied.items())
    say(f"Search: {plural(command.trials, 'trial')} ({drawn}) drawn by Optuna's TPE sampler, study "
        f"{command.study!r} in {masked(command.storage) if command.storage else JOURNAL}; "
        f"{width} at a time here, in {command.output_dir}; each trial's printout is in its "
        f"folder's log.txt")
    trials = Trials(study, command, base, where, storage)
    if command.resume:
        again = trials.run_again()
        say(f"Resuming: {len(study.get_trials(deepcopy=False)) - again} trials of the study "
            f"ended and are kept; {again} whose process died run again from their checkpoints")
    stop = Stopper()
    with stop:
        run_jobs(trials, width, stop, command.resume, on_end=trials.tell)
    ended = list(trials.asked)
    with_runs = [folder for folder in ended if metrics_files(folder)]
    if with_runs and not stop.signal_number:
        runs = find_runs(with_runs)
        compare_and_report(runs, command.output_dir)
        written = save_pictures(trials.study, runs[0].title, command.output_dir)
        if not written:
            say("Optuna's pictures of the study: none, since no trial finished (the pruned and "
                "the failed are not drawn)")
        else:
            missing = ("; no search_importance.png, which needs two finished trials"
                       if IMPORTANCE not in map(os.path.basename, written) else "")
            say(f"Optuna's pictures of the study: {', '.join(written)}{missing}")
        say_best(trials)
    if stop.signal_number:
        say(f"Stopped after {len(ended)} of {command.trials} trials started.")
        return EXIT_SIGNAL[stop.signal_number]
    return EXIT_FAILED if trials.failed else 0


# Optuna's own pictures of a study: {file in OUTPUT_DIR: (its function in
# optuna.visualization.matplotlib, what the title says, the value axis's label)}.
PICTURES = {"search_history.png": ("plot_optimization_history", "each trial's lowest validation "
                                   "loss, and the best so far", "lowest validation loss"),
            "search_parallel.png": ("plot_parallel_coordinate", "each trial's values, coloured "
                                    "by its lowest validation loss", None),
            "search_importance.png": ("plot_param_importances", "how much each flag mattered "
                                      "(fANOVA)", None)}
IMPORTANCE = "search_importance.png"   # (drawn from two finished trials on)


def draw_study(study, title):
    """{file name: matplotlib Figure} of Optuna's pictures of the study's finished trials (those
    it can draw yet: the importances need two), each titled with title and what it shows."""
    import warnings

    from optuna.visualization import matplotlib as pictures

    drawn = {}
    every = study.get_trials(deepcopy=False)
    finished = [trial for trial in every if trial.state.name == "COMPLETE"]
    for name, (function, words, value_label) in PICTURES.items():
        if not finished or (name == IMPORTANCE and len(finished) < 2):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks these functions experimental
            axes = getattr(pictures, function)(study, target_name="lowest validation loss")
        figure = axes.figure
        for side in ("left", "right"):  # (Optuna titles some on the left)
            axes.set_title("", loc=side)
        axes.set_title(f"{title}: {words}\n{len(finished)} finished trials of {len(every)} (the "
                       f"pruned not drawn), study {study.study_name!r}", fontsize=11)
        if value_label:
            axes.set_ylabel(value_label)
        figure.set_size_inches(10, 5)
        figure.tight_layout()
        drawn[name] = figure
    return drawn


def save_pictures(study, title, output_dir):
    """Write Optuna's pictures of the study into output_dir; the names written."""
    from matplotlib import pyplot

    written = []
    for name, figure in draw_study(study, title).items():
        path = os.path.join(output_dir, name)
        write_atomically(path, lambda stream, figure=figure: figure.savefig(stream, format="png",
                                                                           dpi=120))
        pyplot.close(figure)  # (Optuna draws with pyplot)
        written.append(path)
    return written


def say_best(trials):
    """The best trial by Optuna's objective (lowest validation loss), and its command alone."""
    try:
        best = trials.study.best_trial
    except ValueError:
        return
    folder = next((folder for folder, number in trials.asked.items()
                   if number == best.number), None)
    if folder is None:  # another worker's
        say(f"Best trial by validation loss: trial {best.number} (another worker's), val_loss "
            f"{best.value:.4f}, values {best.params}")
        return
    say(f"Best trial by validation loss: {os.path.basename(folder)}, val_loss {best.value:.4f}; "
        f"alone it is: python Main.py {shlex.join(trials.tokens[folder])}")
