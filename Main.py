"""Train the multilayer perceptron on MNIST and Iris from the command line.

    python Main.py --learning_rate 0.001 --epochs 30 --hidden_layers [256, 64]

For each data set it prints one line per epoch, then writes the plots, metrics.json and
model.npz to <output_dir>/<dataset>/. This file is the story of a run: prepare each data
set's run, build, fit, finish. The network is Model.py (with HiddenLayer.py and
OutputLayer.py); every other job, the other modes (--csv, --model, --explain, an
experiment, a search, --compare...) included, lives in the package mlp/.
"""

import os
import signal
import sys


def _interrupted_while_starting(signal_number, frame):
    os.write(2, b"Main.py: error: interrupted while starting; nothing was written\n")
    os._exit(130)


if __name__ == "__main__":  # Ctrl-C while the libraries below load: one line, not a traceback
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import functools
import time

import numpy as np
from threadpoolctl import threadpool_limits

from Model import DIVERGED, Model, one_hot

try:
    import mlp  # noqa: F401  (the package beside this file: everything but the network)
except ModuleNotFoundError as missing:
    if missing.name != "mlp":
        raise
    print(f"Main.py: error: the folder mlp/ is not beside {os.path.abspath(__file__)}; Main.py "
          f"needs it (and iris.data) as well as the three network files: copy the whole "
          f"project folder", file=sys.stderr)
    sys.exit(2)
from mlp import checkpoint, report
from mlp.callbacks import (
    Augment,
    EarlyStopping,
    LayerHealth,
    PrintProgress,
    StopOnRequest,
    StuckAtChance,
    health_sentence,
    save_examples,
)
from mlp.comparison import compare_folders
from mlp.datasets import DATASETS, csv_title, load_with, training_defaults
from mlp.diagnostics import assess
from mlp.errors import EXIT_FAILED, UserError
from mlp.experiments import run_experiment
from mlp.files import (
    OutputLock,
    check_output_dir,
    check_run_folder,
    make_folder,
    remove,
    remove_stale_temporaries,
    say,
)
from mlp.flags import parse_args
from mlp.gradients import explain, gradient_check
from mlp.optimizers import LearningRateScheduler, optimizer_for, weight_decay_problem
from mlp.process import (
    StopFlag,
    check_network_fits,
    choose_threads,
    refuse_network_too_large,
    run_from_command_line,
    scratch_step,
)
from mlp.record import CSV, FINISHED, STUCK, RunSettings, check_loaded
from mlp.saved_models import use_saved_model
from mlp.search import run_search, trial_of_run


def main(argv=None):
    """Run what the flags ask for; return the exit status. A user's mistake (a flag or a file)
    or a failed run ends in one line naming it."""
    # The plots are drawn without a window (Agg): a backend chosen for other programs, valid
    # or not, must not stop them.
    os.environ.pop("MPLBACKEND", None)
    try:
        return run_command(parse_args(argv))
    except UserError as error:
        say(f"Main.py: error: {error}", error=True)
        return error.exit_status


def run_command(command):
    """Do what the Command of the flags asks for; return the exit status."""
    training = command.training
    modes = {
        "explain": explain,
        "gradient_check": lambda: gradient_check(training.hidden_sizes, training.activation,
                                                 training.seed, training.dropout or 0.0),
        "compare": lambda: compare_folders(command.compare, command.output_dir),
        "experiment": lambda: run_experiment(command),
        "search": lambda: run_search(command),
        "model": lambda: use_saved_model(command),
        "train": lambda: train_command(command),
    }
    return modes[command.mode]()


def train_command(command):
    """Train on each data set the Command names; return the exit status."""
    # Checks before anything is written: the lock, the paths, the data; then the folder.
    with OutputLock(command.output_dir) as lock:
        check_network_fits(command.datasets, command.training)
        folders = [(kind, report.run_folder(command.output_dir, kind, command.data_file(CSV)))
                   for kind in command.datasets]
        check_output_dir(command.output_dir)
        for kind, folder in folders:
            check_run_folder(folder, command.data_file(kind))
        plans = checkpoint.plan_resume(command, folders)  # made once, before anything is written
        tasks = [prepare(kind, folder, command, plans[kind]) for kind, folder in folders]
        make_folder(command.output_dir)
        lock.take()
        checkpoint.keep_earlier_runs(tasks)
        with StopFlag() as stop_flag:
            outcomes = []
            for task in tasks:
                if stop_flag():
                    break
                outcomes.append(report.finished_before(task.title, task.folder, task.plan.status)
                                if isinstance(task.plan, checkpoint.Finished)
                                else train_one(task, stop_flag))
    report.print_summary(outcomes)
    # (a signal that came after the last epoch of every data set, as a pruned trial was told to
    # stop, stopped nothing: the run ends as it would have)
    if stop_flag() and (len(outcomes) < len(tasks)
                        or any(outcome.status not in FINISHED for outcome in outcomes)):
        report.print_stop_advice(any(os.path.exists(os.path.join(
            outcome.folder, checkpoint.FILE_NAME)) for outcome in outcomes))
        return stop_flag.exit_status
    return EXIT_FAILED if any(outcome.status == DIVERGED or outcome.dead
                              for outcome in outcomes) else 0


def prepare(kind, folder, command, plan):
    """Read and check a data set's data and settings, for a run that plan says to train."""
    if isinstance(plan, checkpoint.Finished):
        return checkpoint.Task(kind, folder, plan, DATASETS[kind].title if kind in DATASETS
                               else csv_title(command.data_file(CSV)))
    resuming = isinstance(plan, checkpoint.Resume)
    flags = command.training
    rng = np.random.default_rng(flags.seed)
    data_file = plan.data_file if resuming else command.data_file(kind)
    dataset = load_with(kind, data_file, flags.target, flags.validation_split, rng,
                        np.dtype(flags.dtype), flags.seed)
    if resuming and plan.record.data is not None:
        check_loaded(plan.record.data, dataset.data, f"the run in {folder}")
    # (a CSV's shape, which check_network_fits could not know before the file was read)
    refuse_network_too_large(dataset.title, dataset.n_features, dataset.n_classes, flags)
    if flags.augment and training_defaults(dataset).augment_pixels and dataset.image_shape is None:
        raise UserError(f"argument --augment: {dataset.source} holds its images flat, "
                        f"{dataset.n_features} pixels a row; expected images of (n, 28, 28) "
                        f"to shift")
    settings = RunSettings.from_flags(kind, flags, training_defaults(dataset),
                                      checkpoint.resumed_data_file(kind, command, plan))
    problem = weight_decay_problem(settings.learning_rate, settings.weight_decay)
    if problem:
        raise UserError(problem)
    return checkpoint.Task(kind, folder, plan, dataset.title, dataset, rng, settings)


def train_one(task, stop_flag):
    """Build, fit and finish the run of one prepared Task."""
    # --- build: the network and its optimizer, drawing on the run's one generator
    dataset, settings, folder = task.dataset, task.settings, task.folder
    dtype = np.dtype(settings.dtype)
    model = Model(dataset.n_features, settings.hidden_sizes, dataset.n_classes, task.rng, dtype,
                  settings.activation, settings.dropout)
    make_optimizer = functools.partial(optimizer_for, name=settings.optimizer,
                                       learning_rate=settings.learning_rate,
                                       weight_decay=settings.weight_decay)
    optimizer = make_optimizer(model)
    Y_train = one_hot(dataset.y_train, dataset.n_classes, dtype)
    Y_val = one_hot(dataset.y_val, dataset.n_classes, dtype)
    resuming = isinstance(task.plan, checkpoint.Resume)
    threads = choose_threads(settings.threads, task.plan.values.get("threads") if resuming
                             else None, lambda: scratch_step(model, dataset.X_train, Y_train,
                                                             settings.batch_size, make_optimizer))
    report.print_header(dataset, settings, threads.text())
    report.look_before_training(model, dataset.X_val, Y_val)

    # --- callbacks: what runs between the steps, each one job
    stateful = [EarlyStopping(settings.patience)] if settings.patience else []
    report_to_trial, trial = trial_of_run()  # (a search's trial reports to its study)
    saver = checkpoint.Checkpoint(os.path.join(folder, checkpoint.FILE_NAME), dataset, settings,
                                  stateful, threads.count)
    records, health = report.LiveRecords(folder, dataset, settings), LayerHealth(dataset.X_val)
    augment = [Augment(dataset.image_shape, settings.augment_pixels)] if settings.augment else []
    callbacks = [LearningRateScheduler(settings.lr_schedule), *augment, PrintProgress(), health,
                 StuckAtChance(dataset.X_val, dataset.y_val, dataset.n_classes), *stateful,
                 saver, records, *([report_to_trial] if report_to_trial else []),
                 StopOnRequest(stop_flag)]
    resume_from = checkpoint.restore(saver.path, task.plan, model, optimizer, task.rng, stateful,
                                     dataset.title) if resuming else None
    remove_stale_temporaries(folder)
    if augment:
        save_examples(os.path.join(folder, "augmented.png"), dataset.title, dataset,
                      settings.augment_pixels, settings.seed)

    # --- fit (a resumed run's time counts its earlier epochs too: fit appends to their list)
    earlier_seconds = sum(resume_from.epoch_seconds) if resume_from else 0.0
    started = time.perf_counter()
    with threadpool_limits(limits=threads.count, user_api="blas"):
        result = model.fit(dataset.X_train, Y_train, dataset.X_val, Y_val, epochs=settings.epochs,
                           batch_size=settings.batch_size, rng=task.rng, optimizer=optimizer,
                           callbacks=callbacks, resume_from=resume_from)
    train_seconds = time.perf_counter() - started + earlier_seconds
    costs = {"checkpoint_and_records_seconds": saver.seconds + records.seconds,
             "layer_health_seconds": health.seconds,
             "augment_seconds": augment[0].seconds if augment else 0.0, **trial}
    return finish(task, model, result, train_seconds, costs, threads)


def finish(task, model, result, train_seconds, costs, threads):
    """Assess a fitted run on the test set, write everything, say how it went (an Outcome)."""
    dataset, settings, folder = task.dataset, task.settings, task.folder
    assessment = None
    if result.status == STUCK:
        report.print_stuck(dataset.title, len(result.learning_rates), settings.epochs)
    if result.status == DIVERGED:
        report.print_diverged(dataset.title, result.diverged_epoch, settings.learning_rate)
    else:  # (a run stopped in its first epoch has no saturation to judge it by)
        saturation = result.extras["layer_health"]["saturation"]
        assessment = assess(model, dataset.X_test, dataset.y_test, dataset.class_names,
                            saturation[-1] if saturation else None)
    report.write_results(folder, dataset, settings, model, result, train_seconds, costs, threads,
                         assessment)
    if result.status in checkpoint.FINISHED:  # nothing left to resume: metrics.json says so
        remove(os.path.join(folder, checkpoint.FILE_NAME))
    return report.outcome(dataset.title, folder, result, assessment, model, settings.learning_rate,
                          health_sentence(result.extras["layer_health"], model), task.moved_to)


if __name__ == "__main__":
    run_from_command_line(main)
