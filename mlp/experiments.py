"""Experiments: several values for the training flags, each combination one ordinary run, and
runs side by side.

An experiment is the command Main.py would run, once per combination of the
values given, each in its own folder under OUTPUT_DIR and in its own process:
every run is exactly the command a user could type alone (its numbers, files,
checkpoint and --resume are that command's), with its printout in log.txt.
The runs go in parallel, a few at a time. Each run is a fresh interpreter
(subprocess, not fork): a forked child of a process whose BLAS has started its
threads can deadlock, and a run alone starts the same way.

The comparison (also --compare FOLDER...) only reads metrics.json files, so runs
made anywhere compare the same way: one picture and one table per data set. The
values that differ between a data set's runs name its lines and rows; runs that
differ only in their seed are one setting (their mean, and their spread as a band
and a standard deviation). Runs are ordered by validation accuracy: the test set
is reported, never used to choose.
"""

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from Model import HISTORY_KEYS
from mlp import checkpoint
from mlp.checkpoint import FINISHED
from mlp.datasets import DATASETS, defaults_for, load_dataset
from mlp.diagnostics import new_figure
from mlp.files import (EXIT_FAILED, DataError, UserError, available_memory_bytes, make_folder,
                       open_log, read_bytes, read_text_or_none, save_text, say, set_aside,
                       write_atomically)
from mlp.flags import EXPERIMENT_FLAGS, parse_args
from mlp.optimizers import weight_decay_problem
from mlp.process import (EXIT_SIGNAL, PARENT_ENVIRONMENT, StopFlag, estimated_training_bytes,
                         usable_cores)
from mlp.record import CSV, RECORD_FILE, RunSettings, data_file_flag, data_file_of, read_record


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
    flags: object = field(default=None, repr=False)  # the tokens parsed, as the run reads them
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


def flag_value(name, value):
    """A value as its flag takes it back, exactly: [256, 64], 0.001."""
    if name == "hidden_layers":
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value) if isinstance(value, float) else str(value)


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


def plan_jobs(args):
    """The experiment's jobs, every one checked as its run will check its flags; raises
    UserError naming the first bad value before anything is written."""
    names = list(args.varied)
    base = without_flags(args.tokens, {"--" + name for name in names}
                         | {"--output_dir", "--jobs", "--resume"})
    if "--threads" not in args.given_flags:
        base.append("--threads=1")
    jobs, tables = [], {}
    for combination in itertools.product(*(args.varied[name] for name in names)):
        values = dict(zip(names, combination))
        tokens = base + [f"--{name}={flag_value(name, value)}" for name, value in values.items()]
        folder = os.path.join(args.output_dir, "_".join(
            SHORT[name] + value_text(name, value) for name, value in values.items()))
        run_args = parse_args(tokens)
        for kind in run_args.datasets:
            data_file = data_file_of(run_args, kind)
            if data_file and not jobs and kind != CSV:  # the same file for every run: read once
                read_bytes(data_file, f"the data file {data_file_flag(kind)} names")
            settings = RunSettings.from_flags(kind, run_args, defaults_for(
                kind, train_rows(run_args, data_file, tables) if kind == CSV else None))
            problem = weight_decay_problem(settings.learning_rate, settings.weight_decay)
            if problem:
                raise UserError(f"{problem} (in the run {os.path.basename(folder)})")
        jobs.append(Job(values, folder, tokens + [f"--output_dir={folder}"], run_args))
    return jobs


def train_rows(run_args, data_file, tables):
    """The training rows of the CSV a run reads (which choose its defaults), read once for each
    way the runs split it; tables keeps them."""
    key = (data_file, run_args.target, run_args.validation_split, run_args.seed)
    if key not in tables:
        tables[key] = len(load_dataset(CSV, data_file, run_args.target, run_args.validation_split,
                                       run_args.seed, np.dtype(run_args.dtype)).X_train)
    return tables[key]


def bytes_per_job(jobs):
    """Memory one job of the experiment may need at most: its process, data and network."""
    most = 0
    for job in jobs:
        flags = job.flags
        for kind in flags.datasets:
            entry = DATASETS.get(kind)
            if entry is None:
                continue
            network, _ = estimated_training_bytes(entry.n_features, flags.hidden_layers,
                                                  entry.n_classes, np.dtype(flags.dtype).itemsize,
                                                  flags.optimizer)
            most = max(most, network + DATA_BYTES.get(kind, 0))
    return most + PROCESS_BYTES


def choose_jobs(args, jobs):
    """How many runs train at once: --jobs, or one per core (per --threads threads), no more
    than there are runs or than the memory available holds; raises UserError when --jobs asks
    for more than memory holds."""
    cores = usable_cores()
    per_job = bytes_per_job(jobs)
    available = available_memory_bytes()
    fits = max(1, available // per_job) if available else len(jobs)
    if args.jobs and args.jobs > fits:
        raise UserError(f"argument --jobs: {args.jobs} runs at once need about "
                        f"{args.jobs * per_job / 2**30:.1f} GiB and this machine has "
                        f"{available / 2**30:.1f} GiB available; expected --jobs {fits} or fewer")
    wanted = args.jobs or max(1, cores // (args.threads or 1))
    return max(1, min(wanted, len(jobs), fits))


def unfinished(folder):
    """Whether a run's folder holds a checkpoint in any of its data sets' folders."""
    return any(os.path.isfile(os.path.join(folder, name, checkpoint.FILE_NAME))
               for name in (os.listdir(folder) if os.path.isdir(folder) else ()))


def prepare_folder(args, jobs):
    """Make OUTPUT_DIR ready: a finished experiment there is moved aside (never written over);
    an unfinished one is continued only with --resume. Returns where an earlier one went."""
    marker = os.path.join(args.output_dir, MARKER)
    exists = os.path.isfile(marker)
    if args.resume:
        if not exists:
            raise DataError(f"argument --resume: nothing to resume: no {MARKER} in "
                            f"{args.output_dir}; run without --resume to start")
        return None
    if exists and any(unfinished(job.folder) for job in jobs):
        raise DataError(f"argument --resume: {args.output_dir} holds an unfinished experiment; "
                        f"add --resume to continue it, or choose another --output_dir")
    moved = set_aside(args.output_dir)[0] if exists else None
    make_folder(args.output_dir)
    save_text(json.dumps({"varied": args.varied, "runs": [job.name for job in jobs]}, indent=2)
              + "\n", marker)
    return moved


def run_experiment(args):
    """Train every combination of the values given, a few at once; compare them; return the
    exit status (0 when every run finished, 1 when one failed, 130/143 when stopped)."""
    jobs = plan_jobs(args)
    width = choose_jobs(args, jobs)
    moved = prepare_folder(args, jobs)
    if moved:
        say(f"The earlier experiment in {args.output_dir} was moved to {moved}")
    varied = ", ".join(f"--{name} x{len(values)}" for name, values in args.varied.items())
    say(f"Experiment: {len(jobs)} runs ({varied}) in {args.output_dir}, {width} at a time; "
        f"each run's printout is in its folder's {LOG}")
    stop = Stopper()
    with stop:
        run_jobs(jobs, width, stop, args.resume)
    failed = [job for job in jobs if job.returncode not in (0, None)]
    with_runs = [job.folder for job in jobs if metrics_files(job.folder)]
    if not stop.signal_number and with_runs:
        compare_and_report(find_runs(with_runs), args.output_dir)
    elif not stop.signal_number:
        say("No run left a record to compare: see each run's log.txt")
    if stop.signal_number:
        done = sum(job.returncode == 0 for job in jobs)
        say(f"Stopped: {done} of {len(jobs)} runs finished; run the same command with --resume "
            f"to continue the others from their last finished epoch.")
        return EXIT_SIGNAL[stop.signal_number]
    return EXIT_FAILED if failed else 0


def run_jobs(jobs, width, stop, resume):
    """Start the jobs, at most width at once, until all have ended or a stop was asked for."""
    waiting, running, ended = list(jobs), [], []
    stop.running = running  # the signal handler passes a signal on to these
    while waiting or running:
        while waiting and len(running) < width and not stop.signal_number:
            job = waiting.pop(0)
            start(job, resume)
            running.append(job)
        time.sleep(0.05)
        for job in [job for job in running if job.process.poll() is not None]:
            running.remove(job)
            job.returncode = job.process.returncode
            job.seconds = time.monotonic() - job.started
            job.log.close()
            ended.append(job)
            say_ended(job, ended, len(jobs), waiting, running, width)
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
                                   env={**os.environ, PARENT_ENVIRONMENT: str(os.getpid())})


def say_ended(job, ended, total, waiting, running, width):
    """One line for a run that ended: its values, its best validation accuracy per data set,
    its time, and how many are left and about how long they will take."""
    parts = []
    for path in metrics_files(job.folder):
        try:
            run = read_run(path)
        except DataError:
            continue
        how = "" if run.status == "completed" else f" ({run.status.replace('_', ' ')})"
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
        f"{job.seconds:.1f} s ({left} left{eta})")


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


# ------------------------------------------------------------------ runs side by side

# The settings that name a run, in this order; a run's other keys are its results.
SETTINGS = EXPERIMENT_FLAGS + ("dtype", "validation_split", "patience", "augment",
                               "augment_pixels", "target")
LABELS = {"hidden_layers": "hidden", "learning_rate": "lr", "batch_size": "batch",
          "lr_schedule": "schedule", "weight_decay": "weight decay"}
SEARCH_DEPTH = 3       # folders below a --compare FOLDER searched for runs


@dataclass
class ComparedRun:
    """What the comparison reads of one run's metrics.json."""
    path: str
    kind: str
    title: str
    settings: dict
    status: str
    history: dict
    test_loss: object
    test_accuracy: object
    seconds: float
    n_val: object = None

    @property
    def finished(self):
        return self.status in FINISHED

    @property
    def best_epoch(self):
        accuracy = self.history["val_accuracy"]
        return int(np.argmax(accuracy)) + 1 if accuracy else None

    @property
    def best_val_accuracy(self):
        return max(self.history["val_accuracy"], default=math.nan)

    @property
    def last_val_loss(self):
        return self.history["val_loss"][-1] if self.history["val_loss"] else math.nan


def read_run(path):
    """The ComparedRun of the metrics.json at path; DataError naming the field that is wrong."""
    record = read_record(path)
    settings = record.settings.record()
    return ComparedRun(path=path, kind=record.kind,
                       title=record.data.title if record.data else record.kind,
                       settings={name: settings[name] for name in SETTINGS if name in settings},
                       status=record.fit.status,
                       history={name: record.fit.history[name] for name in HISTORY_KEYS},
                       test_loss=record.measures.get("test_loss"),
                       test_accuracy=record.measures.get("test_accuracy"),
                       seconds=record.train_seconds, n_val=record.n_val)


def metrics_files(folder, depth=SEARCH_DEPTH):
    """The metrics.json files in folder and the folders below it, up to depth levels, sorted."""
    found, folder = [], os.fspath(folder)
    for root, folders, files in os.walk(folder):
        folders.sort()
        if root[len(folder):].count(os.sep) >= depth:
            folders.clear()
        if RECORD_FILE in files:
            found.append(os.path.join(root, RECORD_FILE))
    return found


def find_runs(folders):
    """Every run in the folders (a run's own folder, or any folder above runs), read; DataError
    for a folder that holds none."""
    runs = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise DataError(f"argument --compare: {folder}: no such folder; expected a run's or "
                            f"an experiment's folder")
        folder = os.fspath(folder)
        paths = metrics_files(folder)
        if not paths:
            raise DataError(f"argument --compare: {folder} holds no run (no {RECORD_FILE} in it or "
                            f"{SEARCH_DEPTH} folders below); expected a run's or an "
                            f"experiment's folder")
        runs += [read_run(path) for path in paths]
    return runs


@dataclass
class Setting:
    """One line of the picture and one row of the table: the runs that share these values (with
    several seeds, one run per seed)."""
    values: dict
    runs: list

    def label(self):
        """Its values in words; where no value differs between the runs, its run's folder."""
        return ", ".join(f"{LABELS.get(name, name)} {shown(value)}"
                         for name, value in self.values.items()) or os.path.dirname(
                             self.runs[0].path)

    def mean(self, read):
        numbers = [read(run) for run in self.runs if read(run) is not None]
        return float(np.mean(numbers)) if numbers else math.nan

    def std(self, read):
        numbers = [read(run) for run in self.runs if read(run) is not None]
        return float(np.std(numbers)) if len(numbers) > 1 else math.nan

    @property
    def finished(self):
        return all(run.finished for run in self.runs)

    def status(self):
        """How its runs ended, where not all completed: "unfinished", "diverged", ...; "" when
        every run completed."""
        words = {"running": "unfinished", "interrupted": "unfinished"}
        ended = [words.get(run.status, run.status.replace("_", " ")) for run in self.runs
                 if run.status != "completed"]
        return ", ".join(dict.fromkeys(ended))


def shown(value):
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_of(runs):
    """The runs of one data set as Settings, by the values that differ between them (the seed
    aside: runs that differ only in it are one Setting), best validation accuracy first."""
    differ = [name for name in SETTINGS
              if len({json.dumps(run.settings.get(name)) for run in runs}) > 1]
    named = [name for name in differ if name != "seed"]
    groups = {}
    for run in runs:
        values = {name: run.settings.get(name) for name in named}
        key = json.dumps(values) if "seed" in differ else run.path
        groups.setdefault(key, Setting(values, []))
        groups[key].runs.append(run)
    return sorted(groups.values(), key=lambda setting: (
        -np.nan_to_num(setting.mean(lambda run: run.best_val_accuracy), nan=-1.0),
        np.nan_to_num(setting.mean(lambda run: run.last_val_loss), nan=np.inf)))


COLUMNS = (("best_val_accuracy", lambda run: run.best_val_accuracy),
           ("best_epoch", lambda run: run.best_epoch),
           ("last_val_loss", lambda run: run.last_val_loss),
           ("test_accuracy", lambda run: run.test_accuracy),
           ("test_loss", lambda run: run.test_loss),
           ("seconds", lambda run: run.seconds))


def table_rows(settings):
    """The table as rows of (column, value): the values, then each result's mean (and standard
    deviation over seeds), the runs' count, and whether all finished."""
    seeds = any(len(setting.runs) > 1 for setting in settings)
    rows = []
    for setting in settings:
        row = {name: shown(value) for name, value in setting.values.items()}
        for name, read in COLUMNS:
            row[name] = setting.mean(read)
            if seeds:
                row[name + "_std"] = setting.std(read)
        row.update(runs=len(setting.runs), finished=setting.finished,
                   status=setting.status(),
                   folders=" ".join(os.path.dirname(run.path) for run in setting.runs))
        rows.append(row)
    return rows


def table_csv(rows):
    header = list(rows[0])
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(csv_cell(row[name]) for name in header))
    return "\n".join(lines) + "\n"


def csv_cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def plot_comparison(settings, title, n_val=None):
    """A Figure of validation loss and accuracy per epoch, one line per Setting (the mean over
    its runs, with the band from the lowest to the highest where it has several); the legend
    says how a setting's runs ended where not all completed, and names one that finished no
    epoch (a line-less entry)."""
    from matplotlib.ticker import MaxNLocator

    figure = new_figure(11, 4.6)
    axes = figure.subplots(1, 2)
    longest = max((len(run.history["val_loss"]) for setting in settings for run in setting.runs),
                  default=0)
    for metric, ax in zip(("val_loss", "val_accuracy"), axes):
        for setting in settings:
            label = setting.label() + (f" ({setting.status()})" if setting.status() else "")
            curves = [run.history[metric] for run in setting.runs if run.history[metric]]
            if not curves:
                ax.plot([], [], linestyle="none", label=label + ": no epoch finished")
                continue
            epochs = max(map(len, curves))
            stacked = np.full((len(curves), epochs), np.nan)
            for index, curve in enumerate(curves):
                stacked[index, :len(curve)] = curve
            x = np.arange(1, epochs + 1)
            line, = ax.plot(x, np.nanmean(stacked, axis=0), marker="o" if longest < 20 else None,
                            markersize=3, linestyle="-" if setting.finished else "--", label=label)
            if len(curves) > 1:
                ax.fill_between(x, np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0),
                                color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole, as in loss.png
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    seeds = any(len(setting.runs) > 1 for setting in settings)
    rows = f" ({n_val} rows)" if n_val else ""
    figure.suptitle(f"{title}: validation{rows} per epoch, {len(settings)} settings"
                    + (" (mean over seeds; band: lowest to highest)" if seeds else ""))
    return figure


def table_text(rows):
    """The table as printed: one line per setting, best validation accuracy first."""
    seeds = any("best_val_accuracy_std" in row for row in rows)
    names = [name for name in rows[0] if name not in dict(COLUMNS) and not name.endswith("_std")
             and name not in ("runs", "finished", "status", "folders")] or ["folders"]
    numbers = [("best_val_accuracy", "best val_acc"), ("best_epoch", "epoch"),
               ("last_val_loss", "val_loss"), ("test_accuracy", "test_acc"),
               ("test_loss", "test_loss"), ("seconds", "seconds")]

    def cell(row, name):
        value = row[name]
        if math.isnan(value):
            return "-"
        digits = 0 if name == "best_epoch" else 1 if name == "seconds" else 4
        text = f"{value:.{digits}f}"
        spread = row.get(name + "_std", math.nan)
        return text + (f"±{spread:.{digits}f}" if seeds and not math.isnan(spread) else "")

    table = [[*(row[name] for name in names), *(cell(row, name) for name, _ in numbers),
              row["status"]] for row in rows]
    header = [*names, *(label for _, label in numbers), ""]
    widths = [max(len(line[column]) for line in [header, *table]) for column in range(len(header))]
    return ["  " + "  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
            for line in [header, *table]]


def compare_and_report(runs, output_dir):
    """For each data set among runs: comparison_<kind>.png and .csv in output_dir, the table
    printed, and the best setting by validation named."""
    make_folder(output_dir)
    for kind in dict.fromkeys(run.kind for run in runs):
        of_kind = [run for run in runs if run.kind == kind]
        settings = settings_of(of_kind)
        title = of_kind[0].title
        rows = table_rows(settings)
        picture = os.path.join(output_dir, f"comparison_{kind}.png")
        figure = plot_comparison(settings, title, of_kind[0].n_val)
        write_atomically(picture, lambda stream: figure.savefig(stream, format="png", dpi=120))
        save_text(table_csv(rows), os.path.join(output_dir, f"comparison_{kind}.csv"))
        say(f"{title}: {plural(len(of_kind), 'run')}, {plural(len(settings), 'setting')}, "
            f"by best validation "
            f"accuracy ({picture}):")
        for line in table_text(rows):
            say(line)
        best = settings[0]
        say(f"  best by validation: {best.label()}, val_accuracy "
            f"{best.mean(lambda run: run.best_val_accuracy):.4f}; its test accuracy "
            f"{best.mean(lambda run: run.test_accuracy):.4f} is reported, not used to choose")


def compare_folders(args):
    """--compare FOLDER...: the comparison of the runs they hold; the exit status."""
    compare_and_report(find_runs(args.compare), args.output_dir)
    return 0


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"
