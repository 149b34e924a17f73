"""Experiments: several values for the training flags, each combination one ordinary run.

An experiment is the command Main.py would run, once per combination of the
values given, each in its own folder under OUTPUT_DIR and in its own process:
every run is exactly the command a user could type alone (its numbers, files,
checkpoint and --resume are that command's), with its printout in log.txt.
The runs go in parallel, a few at a time. Each run is a fresh interpreter
(subprocess, not fork): a forked child of a process whose BLAS has started its
threads can deadlock, and a run alone starts the same way. When every run has
ended, mlp.comparison puts them side by side.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from mlp import checkpoint
from mlp.comparison import compare_and_report, find_runs, metrics_files, read_run
from mlp.datasets import DATASETS, defaults_for, load_dataset
from mlp.errors import EXIT_FAILED, EXIT_SIGNAL, DataError, UserError
from mlp.files import (
    available_memory_bytes,
    make_folder,
    open_log,
    read_bytes,
    read_text_or_none,
    save_text,
    say,
    set_aside,
)
from mlp.flags import parse_args
from mlp.optimizers import weight_decay_problem
from mlp.process import PARENT_ENVIRONMENT, StopFlag, estimated_training_bytes, usable_cores
from mlp.record import (
    COMPLETED,
    CSV,
    RunSettings,
    data_file_flag,
    setting_text,
    status_words,
)

# ------------------------------------------------------------------ the runs of an experiment

MARKER = "experiment.json"
LOG = "log.txt"
# How a varied setting is written in a run's folder name: lr0.01, h256-64, act-relu.
SHORT = {"hidden_layers": "h", "learning_rate": "lr", "epochs": "ep", "batch_size": "bs",
         "activation": "act-", "optimizer": "opt-", "lr_schedule": "sched-", "dropout": "drop",
         "weight_decay": "wd", "seed": "seed"}
# What one run's process holds besides its network: Python, numpy and matplotlib, and the data
# (MNIST as float32 with its shuffled copy; Iris and a CSV are small).
PROCESS_BYTES = 300 * 2**20
DATA_BYTES = {"mnist": 2 * 70_000 * 784 * 4}
MAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Main.py")


@dataclass
class Job:
    """One combination of the experiment: its values, folder and command line."""
    values: dict
    folder: str
    tokens: list
    command: object = field(default=None, repr=False)  # the tokens parsed, as the run reads them
    environment: dict = field(default_factory=dict)  # added to its process's (a search's trial)
    process: Optional[subprocess.Popen] = None
    started: float = 0.0
    seconds: float = 0.0
    returncode: Optional[int] = None
    log: object = field(default=None, repr=False)

    @property
    def name(self):
        return os.path.basename(self.folder)


def value_text(name, value):
    """A value as a folder name holds it: 0.001, 256-64 (none: no hidden layer), relu."""
    if name == "hidden_layers":
        return "-".join(map(str, value)) or "none"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def without_flags(tokens, flags):
    """tokens without the given flags and the values that follow each."""
    kept, skipping = [], False
    for token in tokens:
        if token.startswith("--") and token[2:3].isalpha():
            name, equals, _ = token.partition("=")
            skipping = name in flags and not equals
            if name in flags:
                continue
        elif skipping:
            continue
        kept.append(token)
    return kept


def plan_jobs(command):
    """The experiment's jobs, every one checked as its run will check its flags; raises
    UserError naming the first bad value before anything is written."""
    names = list(command.varied)
    base = run_tokens(command, {"--output_dir", "--jobs", "--resume"})
    jobs, tables = [], {}
    for combination in itertools.product(*(command.varied[name] for name in names)):
        values = dict(zip(names, combination))
        tokens = base + [f"--{name}={setting_text(value, exact=True)}"
                         for name, value in values.items()]
        folder = os.path.join(command.output_dir, "_".join(
            SHORT[name] + value_text(name, value) for name, value in values.items()))
        run = parse_args(tokens)
        if not jobs:  # the same files for every run: read once
            check_data_files(run, tables)
        for kind in run.datasets:
            settings = run_settings(run, kind, tables)
            problem = weight_decay_problem(settings.learning_rate, settings.weight_decay)
            if problem:
                raise UserError(f"{problem} (in the run {os.path.basename(folder)})")
        jobs.append(Job(values, folder, tokens + [f"--output_dir={folder}"], run))
    return jobs


def run_tokens(command, own_flags):
    """The tokens every run of an experiment or search shares: the command's, without the flags
    it varies and its own (own_flags), and one BLAS thread each unless --threads was given."""
    base = without_flags(list(command.tokens), {"--" + name for name in command.varied}
                         | own_flags)
    if "--threads" not in command.given_flags:
        base.append("--threads=1")
    return base


def run_settings(run, kind, tables):
    """The RunSettings a run (a parsed Command) will train data set kind with: its flags, and
    the defaults of that data set (of a CSV, for its training rows: tables keeps them)."""
    data_file = run.data_file(kind)
    return RunSettings.from_flags(kind, run.training, defaults_for(
        kind, train_rows(run.training, data_file, tables) if kind == CSV else None), data_file)


def check_data_files(run, tables):
    """Read the data files the run names (a parsed Command), as the run will: DataError naming
    the first that is missing or unreadable, or a CSV that is not a table of numbers, before
    anything is written. (A data set's default file is left to its run.)"""
    for kind in run.datasets:
        data_file = run.data_file(kind)
        if data_file and kind == CSV:
            train_rows(run.training, data_file, tables)
        elif data_file:
            read_bytes(data_file, f"the data file {data_file_flag(kind)} names")


def train_rows(flags, data_file, tables):
    """The training rows of the CSV a run reads (which choose its defaults), read once for each
    way the runs' training flags split it; tables keeps them."""
    key = (data_file, flags.target, flags.validation_split, flags.seed)
    if key not in tables:
        tables[key] = len(load_dataset(CSV, data_file, flags.target, flags.validation_split,
                                       flags.seed, np.dtype(flags.dtype)).X_train)
    return tables[key]


def bytes_per_job(jobs):
    """Memory one job of the experiment may need at most: its process, data and network."""
    most = 0
    for job in jobs:
        flags = job.command.training
        for kind in job.command.datasets:
            entry = DATASETS.get(kind)
            if entry is None:
                continue
            network, _ = estimated_training_bytes(entry.n_features, flags.hidden_sizes,
                                                  entry.n_classes, np.dtype(flags.dtype).itemsize,
                                                  flags.optimizer)
            most = max(most, network + DATA_BYTES.get(kind, 0))
    return most + PROCESS_BYTES


def choose_jobs(asked, threads, jobs):
    """How many runs train at once: asked (--jobs), or one per core (per --threads threads), no
    more than there are runs or than the memory available holds; raises UserError when --jobs
    asks for more than memory holds."""
    cores = usable_cores()
    per_job = bytes_per_job(jobs)
    available = available_memory_bytes()
    fits = max(1, available // per_job) if available else len(jobs)
    if asked and asked > fits:
        raise UserError(f"argument --jobs: {asked} runs at once need about "
                        f"{asked * per_job / 2**30:.1f} GiB and this machine has "
                        f"{available / 2**30:.1f} GiB available; expected --jobs {fits} or fewer")
    wanted = asked or max(1, cores // (threads or 1))
    return max(1, min(wanted, len(jobs), fits))


def unfinished(folder):
    """Whether a run's folder holds a checkpoint in any of its data sets' folders."""
    return any(os.path.isfile(os.path.join(folder, name, checkpoint.FILE_NAME))
               for name in (os.listdir(folder) if os.path.isdir(folder) else ()))


def prepare_folder(output_dir, resume, varied, jobs):
    """Make OUTPUT_DIR ready: a finished experiment there is moved aside (never written over);
    an unfinished one is continued only with --resume. Returns where an earlier one went."""
    marker = os.path.join(output_dir, MARKER)
    exists = os.path.isfile(marker)
    if resume:
        if not exists:
            raise DataError(f"argument --resume: nothing to resume: no {MARKER} in "
                            f"{output_dir}; run without --resume to start")
        return None
    if exists and any(unfinished(job.folder) for job in jobs):
        raise DataError(f"argument --resume: {output_dir} holds an unfinished experiment; "
                        f"add --resume to continue it, or choose another --output_dir")
    moved = set_aside(output_dir)[0] if exists else None
    make_folder(output_dir)
    save_text(json.dumps({"varied": varied, "runs": [job.name for job in jobs]}, indent=2)
              + "\n", marker)
    return moved


def run_experiment(command):
    """Train every combination of the values given, a few at once; compare them; return the
    exit status (0 when every run finished, 1 when one failed, 130/143 when stopped)."""
    jobs = plan_jobs(command)
    width = choose_jobs(command.jobs, command.training.threads, jobs)
    moved = prepare_folder(command.output_dir, command.resume, command.varied, jobs)
    if moved:
        say(f"The earlier experiment in {command.output_dir} was moved to {moved}")
    varied = ", ".join(f"--{name} x{len(values)}" for name, values in command.varied.items())
    say(f"Experiment: {len(jobs)} runs ({varied}) in {command.output_dir}, {width} at a time; "
        f"each run's printout is in its folder's {LOG}")
    stop = Stopper()
    with stop:
        run_jobs(jobs, width, stop, command.resume)
    failed = [job for job in jobs if job.returncode not in (0, None)]
    with_runs = [job.folder for job in jobs if metrics_files(job.folder)]
    if not stop.signal_number and with_runs:
        compare_and_report(find_runs(with_runs), command.output_dir)
    elif not stop.signal_number:
        say("No run left a record to compare: see each run's log.txt")
    if stop.signal_number:
        done = sum(job.returncode == 0 for job in jobs)
        say(f"Stopped: {done} of {len(jobs)} runs finished; run the same command with --resume "
            f"to continue the others from their last finished epoch.")
        return EXIT_SIGNAL[stop.signal_number]
    return EXIT_FAILED if failed else 0


def run_jobs(jobs, width, stop, resume, on_end=None):
    """Start the jobs, at most width at once, until all have ended or a stop was asked for.
    jobs is a list, or anything with len() (the jobs still to start) and pop(0) (the next, made
    when it starts: a search's trial); on_end(job), if given, hears of each that ended before
    its line is printed."""
    waiting, running, ended = jobs if not isinstance(jobs, list) else list(jobs), [], []
    total = len(waiting)
    stop.running = running  # the signal handler passes a signal on to these
    while waiting or running:
        while waiting and len(running) < width and not stop.signal_number:
            job = waiting.pop(0)
            if job is None:  # (a search whose last trial another worker took)
                break
            start(job, resume)
            running.append(job)
        time.sleep(0.05)
        for job in [job for job in running if job.process.poll() is not None]:
            running.remove(job)
            job.returncode = job.process.returncode
            job.seconds = time.monotonic() - job.started
            job.log.close()
            ended.append(job)
            extra = on_end(job) if on_end else ""
            say_ended(job, ended, total, waiting, running, width, extra)
        if stop.signal_number and not running:
            break


def start(job, resume):
    """Start a job's run in its own process, in its own session (a Ctrl-C reaches it once,
    from the experiment), its printout going to its folder's log; it ends when the experiment
    does, however that ends (process.end_with_parent)."""
    make_folder(job.folder)
    again = resume and (unfinished(job.folder) or bool(metrics_files(job.folder)))
    job.log = open_log(os.path.join(job.folder, LOG), append=again)
    job.started = time.monotonic()
    command = [sys.executable, MAIN, *job.tokens, *(["--resume"] if again else [])]
    job.process = subprocess.Popen(command, stdout=job.log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env={**os.environ, **job.environment,
                                        PARENT_ENVIRONMENT: str(os.getpid())})


def say_ended(job, ended, total, waiting, running, width, extra=""):
    """One line for a run that ended: its values, its best validation accuracy per data set,
    its time, and how many are left and about how long they will take (and extra, at its
    end)."""
    parts = []
    for path in metrics_files(job.folder):
        try:
            run = read_run(path)
        except DataError:
            continue
        how = "" if run.status == COMPLETED else f" ({status_words(run.status)})"
        parts.append(f"{run.title} best val_accuracy {run.best_val_accuracy:.4f} (epoch "
                     f"{run.best_epoch}){how}" if run.best_epoch else f"{run.title}{how}")
    if job.returncode in EXIT_SIGNAL.values():
        parts.append("stopped; its finished epochs are kept for --resume")
    elif job.returncode not in (0, None) and not parts:
        lines = (read_text_or_none(os.path.join(job.folder, LOG)) or "").strip().splitlines()
        parts.append(f"exit {job.returncode}: {lines[-1] if lines else 'no output'}")
    left = len(waiting) + len(running)
    mean = sum(done.seconds for done in ended) / len(ended)
    eta = f", about {mean * -(-left // width):.0f} s more" if left else ""
    say(f"[{len(ended)}/{total}] {job.name}: {'; '.join(parts) or 'no epoch finished'}; "
        f"{job.seconds:.1f} s ({left} left{eta}){extra}")


class Stopper(StopFlag):
    """Ctrl-C, SIGTERM or SIGHUP during an experiment: passed on once to every running run (each
    keeps its finished epochs and stops), and no further run starts; a second Ctrl-C is
    passed on too (each run quits at once)."""

    def __init__(self):
        super().__init__()
        self.running = []

    def _handle(self, signal_number, frame):
        if self.signal_number is None:
            say(f"\n{signal.Signals(signal_number).name}: stopping every run after its batch; "
                f"no further run starts", error=True)
        self.signal_number = self.signal_number or signal_number
        for job in self.running:
            if job.process and job.process.poll() is None:
                job.process.send_signal(signal_number)
