"""Train the multilayer perceptron on MNIST and Iris from the command line.

    python Main.py --learning_rate 0.001 --epochs 30 --hidden_layers [256, 64]

For each data set it prints one line per epoch, then writes the plots,
metrics.json and model.npz to <output_dir>/<dataset>/. It also trains on a CSV
(--csv, --target), reuses a saved model (--model with --evaluate or --predict),
checks the backward pass against finite differences (--gradient_check) and
works the assignment's written example (--explain).

This file is the story of a run, in sections: prepare a data set's run, choose
its callbacks, fit, finish. The network is Model.py (with HiddenLayer.py and
OutputLayer.py); every other job it calls on lives in the package mlp/.
"""

import functools
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from Model import DIVERGED, Model, one_hot
from mlp import checkpoint, console
from mlp.augment import Augment, save_examples
from mlp.callbacks import EarlyStopping, LayerHealth, PrintProgress, StopOnRequest, health_sentence
from mlp.datasets import DATASETS, csv_dataset_name, dataset_title, load_dataset, training_defaults
from mlp.errors import EXIT_FAILED, UserError
from mlp.explain import explain
from mlp.flags import (check_network_fits, data_file_flag, parse_args, refuse_network_too_large,
                       run_settings, weight_decay_problem)
from mlp.gradient_check import report as gradient_check_report
from mlp.metrics import assess
from mlp.optimizers import LearningRateScheduler, optimizer_for
from mlp.outputs import check_output_dir, check_predictions_path, check_run_folder
from mlp.prediction import use_saved_model
from mlp.records import LiveRecords, output_lock, remove_stale_temporaries, write_results
from mlp.signals import StopFlag
from mlp.threads import choose_threads, scratch_step


def main(argv=None):
    """Run what the flags ask for; return the exit status."""
    args = parse_args(argv)
    if args.explain:
        return explain()
    if args.gradient_check:
        return gradient_check_report(args.hidden_layers, args.activation, args.seed,
                                     args.dropout or 0.0)
    try:
        if args.model:
            if args.predict:
                check_predictions_path(args.output_dir, args.predict, args.model)
            return use_saved_model(args)
        check_network_fits(args)
        folders = [(name, output_folder(name, args)) for name in args.datasets]
        check_output_dir(args.output_dir)
        for name, folder in folders:
            check_run_folder(folder, getattr(args, data_file_flag(name)[2:]))
        plans = checkpoint.plan_resume(args, folders)  # made once, before anything is written
        os.makedirs(args.output_dir, exist_ok=True)
        with output_lock(args.output_dir), StopFlag() as stop_flag:
            outcomes = train_all(args, folders, plans, stop_flag)
    except UserError as error:
        print(f"Main.py: error: {error}", file=sys.stderr)
        return error.exit_status
    console.print_summary(outcomes)
    if stop_flag():
        print("To continue from the last finished epoch, run the same command with --resume.")
        return stop_flag.exit_status
    return EXIT_FAILED if any(outcome.status == DIVERGED for outcome in outcomes) else 0


def train_all(args, folders, plans, stop_flag):
    """Train each data set in its folder, as its plan says (see checkpoint.plan_resume)."""
    outcomes = []
    for name, folder in folders:
        if isinstance(plans[name], checkpoint.Finished):
            title = DATASETS[name].title if name in DATASETS else os.path.basename(folder)
            outcomes.append(console.finished_before(title, folder, plans[name].status))
            continue
        outcomes.append(train_one(name, folder, args, stop_flag, plans[name]))
        if stop_flag():
            break
    return outcomes


def output_folder(name, args):
    """Where a data set's files go: OUTPUT_DIR/<data set>, a CSV's named after its file."""
    return os.path.join(args.output_dir, csv_dataset_name(args.csv) if name == "csv" else name)


def train_one(name, folder, args, stop_flag, plan):
    """Prepare, fit and finish one data set's run; plan is "fresh" or the checkpoint to resume."""
    # --- prepare: the data, its settings, the network and its optimizer, one generator for all
    rng = np.random.default_rng(args.seed)
    dtype = np.dtype(args.dtype)
    dataset = load_dataset(name, getattr(args, data_file_flag(name)[2:]), args.target,
                           args.validation_split, rng, dtype)
    refuse_network_too_large(dataset_title(dataset), dataset.n_features, dataset.n_classes, args)
    settings = run_settings(name, args, training_defaults(dataset))
    problem = weight_decay_problem(settings["learning_rate"], settings["weight_decay"])
    if problem:
        raise UserError(problem)
    model = Model(dataset.n_features, args.hidden_layers, dataset.n_classes, rng, dtype,
                  args.activation, settings["dropout"])
    make_optimizer = functools.partial(optimizer_for, name=args.optimizer,
                                       learning_rate=args.learning_rate,
                                       weight_decay=settings["weight_decay"])
    optimizer = make_optimizer(model)
    Y_train = one_hot(dataset.y_train, dataset.n_classes, dtype)
    Y_val = one_hot(dataset.y_val, dataset.n_classes, dtype)
    saved_threads = plan[0].get("threads") if plan != "fresh" else None
    threads = choose_threads(args.threads, saved_threads, lambda: scratch_step(
        model, dataset.X_train, Y_train, settings["batch_size"], make_optimizer))
    console.print_header(dataset, settings, threads.text())
    console.look_before_training(model, dataset.X_val, Y_val)

    # --- callbacks: what runs between the steps, each one job
    stateful = [EarlyStopping(args.patience)] if args.patience else []
    saver = checkpoint.Checkpoint(os.path.join(folder, checkpoint.FILE_NAME),
                                  dict(settings, dataset=name), stateful, threads.count)
    records = LiveRecords(folder, dataset, settings)
    health = LayerHealth(dataset.X_val)
    augment = [Augment(dataset.image_shape, settings["augment_pixels"])] if settings["augment"] else []
    callbacks = [LearningRateScheduler(settings["lr_schedule"]), *augment, PrintProgress(), health,
                 *stateful, saver, records, StopOnRequest(stop_flag)]
    resume_from = None
    if plan != "fresh":
        resume_from = checkpoint.restore(saver.path, *plan, model, optimizer, rng, stateful)
        print(f"{dataset_title(dataset)}: resuming after epoch {resume_from['epoch']} from "
              f"{saver.path}", flush=True)
    remove_stale_temporaries(folder)
    if augment:
        save_examples(os.path.join(folder, "augmented.png"), dataset_title(dataset), dataset,
                      settings["augment_pixels"], args.seed)

    # --- fit
    started = time.perf_counter()
    with threadpool_limits(limits=threads.count, user_api="blas"):
        result = model.fit(dataset.X_train, Y_train, dataset.X_val, Y_val, epochs=args.epochs,
                           batch_size=settings["batch_size"], rng=rng, optimizer=optimizer,
                           callbacks=callbacks, resume_from=resume_from)
    earlier_seconds = sum(resume_from["result"].epoch_seconds) if resume_from else 0.0

    # --- finish: assess on the test set, write everything, say how it went
    train_seconds = time.perf_counter() - started + earlier_seconds
    assessment = None
    if result.status == DIVERGED:
        console.print_diverged(dataset_title(dataset), result.diverged_epoch, args.learning_rate)
    else:
        assessment = assess(model, dataset.X_test, dataset.y_test, dataset.class_names)
    write_results(folder, dataset, settings, model, assessment, result, train_seconds,
                  extra={"checkpoint_and_records_seconds": saver.seconds + records.seconds,
                         "layer_health_seconds": health.seconds,
                         "augment_seconds": augment[0].seconds if augment else 0.0,
                         **threads.record()})
    if result.status in checkpoint.FINISHED and os.path.exists(saver.path):
        os.remove(saver.path)  # nothing left to resume; metrics.json says it finished
    return console.Outcome(
        dataset_title(dataset), folder, result.status,
        test_loss=assessment["loss"] if assessment else None,
        test_accuracy=assessment["accuracy"] if assessment else None,
        calibration_error=(assessment["calibration"]["expected_calibration_error"]
                           if assessment else None),
        health=health_sentence(result.extras["layer_health"], model))


def run_from_command_line():
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (python Main.py ... | head): stop quietly, as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    sys.exit(status)


if __name__ == "__main__":
    run_from_command_line()
