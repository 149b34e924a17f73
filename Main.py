"""Train the multilayer perceptron on MNIST and Iris from the command line.

    python Main.py --learning_rate 0.001 --epochs 30 --hidden_layers [256, 64]

For each data set it prints one line per epoch, then writes the plots,
metrics.json and model.npz to <output_dir>/<dataset>/. It also trains on a CSV
(--csv, --target), reuses a saved model (--model with --evaluate or --predict),
checks the backward pass against finite differences (--gradient_check) and
works the assignment's written example (--explain).

This module is the story of a run; each job it calls on lives in the module
named after it: Flags (the flags and their checks), Datasets (reading data),
Model (training, evaluating, plotting), Results (writing the files),
Prediction (using a saved model) and GradientCheck.
"""

import math
import os
import signal
import sys
import time

import numpy as np

import Checkpoint
import Datasets
from Callbacks import EarlyStopping, LayerHealth, PrintProgress, StopOnRequest, health_sentence
from Datasets import DATASETS, DataError, csv_dataset_name, dataset_title, training_defaults
from Flags import (EXIT_USAGE, available_memory_bytes, check_network_fits, check_output_dir,
                   data_file_flag, network_text, network_too_large, parse_args,
                   regularisation_text, run_settings)
from Results import output_lock

EXIT_FAILED = 1
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopFlag:
    """Turns the first SIGINT or SIGTERM into a request to stop after the current batch.

    A second SIGINT ends the program at once. Used as a context manager, it
    handles the signals inside the with block and restores the previous
    handlers after it.
    """

    def __init__(self):
        self.signal_number = None
        self._previous = {}

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._handle) for number in EXIT_SIGNAL}
        return self

    def __exit__(self, *exception):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, signal_number, frame):
        if self.signal_number is not None and signal_number == signal.SIGINT:
            print("\nSecond interrupt: quitting now.", file=sys.stderr, flush=True)
            os._exit(EXIT_SIGNAL[signal.SIGINT])
        self.signal_number = signal_number
        print(f"\n{signal.Signals(signal_number).name}: stopping after this batch "
              f"(press Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    def __call__(self):
        return self.signal_number is not None


def load_dataset(name, args, rng, dtype):
    """The data set called name (a key of DATASETS, or "csv"), from the files the flags name."""
    data_file = getattr(args, data_file_flag(name)[2:])
    return Datasets.load_dataset(name, data_file, args.target, args.validation_split, rng, dtype)


def output_folder(name, args):
    """Where a data set's files go: OUTPUT_DIR/<data set>, a CSV's named after its file."""
    return os.path.join(args.output_dir, csv_dataset_name(args.csv) if name == "csv" else name)


def train_one(name, args, stop_flag, plan):
    """Load, train, assess and write one data set; return its result dict.

    plan is "fresh", or the checkpoint (values, arrays) to continue from.
    """
    from Model import Model, one_hot
    from Results import LiveRecords, remove_stale_temporaries, write_results

    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    dataset = load_dataset(name, args, rng, dtype)
    title = dataset_title(dataset)
    too_large = network_too_large(title, dataset.n_features, dataset.n_classes, args,
                                  available_memory_bytes())
    if too_large:
        raise DataError(too_large)
    run = run_settings(name, args, training_defaults(dataset))
    folder = output_folder(name, args)
    if plan != "fresh":
        Checkpoint.check_same_run(name, args, plan[0]["settings"], folder)
    network = network_text(dataset.n_features, args.hidden_layers, dataset.n_classes)
    print(f"{title}: {len(dataset.X_train)} training, {len(dataset.X_val)} validation, "
          f"{len(dataset.X_test)} test rows from {dataset.source}; network "
          f"{network} {args.activation}, {args.optimizer}, learning rate "
          f"{args.learning_rate:g} ({run['lr_schedule']}), batch {run['batch_size']}"
          f"{regularisation_text(run)}", flush=True)

    model = Model(dataset.n_features, args.hidden_layers, dataset.n_classes, rng, dtype,
                  args.activation, run["dropout"])
    optimizer = model.build_optimizer(args.optimizer, args.learning_rate, run["weight_decay"])
    Y_train = one_hot(dataset.y_train, dataset.n_classes, dtype)
    Y_val = one_hot(dataset.y_val, dataset.n_classes, dtype)
    look_before_training(model, dataset.X_val, Y_val)
    stateful = [EarlyStopping(args.patience)] if args.patience else []
    checkpoint_path = os.path.join(folder, Checkpoint.FILE_NAME)
    checkpoint = Checkpoint.Checkpoint(checkpoint_path, dict(run, dataset=name), stateful)
    records = LiveRecords(folder, dataset, run)
    resume_from, earlier_seconds = None, 0.0
    if plan != "fresh":
        resume_from = Checkpoint.restore(checkpoint_path, *plan, model, optimizer, rng, stateful)
        earlier_seconds = sum(resume_from["result"]["epoch_seconds"])
        print(f"{title}: resuming after epoch {resume_from['epoch']} from {checkpoint_path}",
              flush=True)
    remove_stale_temporaries(folder)
    health = LayerHealth(dataset.X_val)
    augment = []
    if run["augment"]:
        from Augment import Augment, save_examples
        augment = [Augment(dataset.image_shape, run["augment_pixels"])]
        save_examples(os.path.join(folder, "augmented.png"), title, dataset, run["augment_pixels"],
                      args.seed)
    started = time.perf_counter()
    result = model.fit(dataset.X_train, Y_train, dataset.X_val, Y_val, optimizer,
                       args.epochs, run["batch_size"], rng, schedule=run["lr_schedule"],
                       callbacks=[*augment, PrintProgress(), health, *stateful, checkpoint,
                                  records, StopOnRequest(stop_flag)],
                       resume_from=resume_from)
    train_seconds = earlier_seconds + time.perf_counter() - started

    assessment = None
    if result["status"] == "diverged":
        print(f"{title}: training diverged in epoch {result['diverged_epoch']} (the loss "
              f"blew up or stopped being finite); stopped and kept the "
              f"{result['diverged_epoch'] - 1} finished epochs; try a smaller "
              f"--learning_rate than {args.learning_rate:g}", file=sys.stderr, flush=True)
    else:
        assessment = model.assess(dataset.X_test, dataset.y_test, dataset.class_names)
    writing = checkpoint.seconds + records.seconds
    write_results(folder, dataset, run, model, assessment, result, train_seconds,
                  extra={"checkpoint_and_records_seconds": writing,
                         "layer_health_seconds": health.seconds,
                         "augment_seconds": augment[0].seconds if augment else 0.0})
    if result["status"] in Checkpoint.FINISHED and os.path.exists(checkpoint_path):
        os.remove(checkpoint_path)  # nothing left to resume; metrics.json says it finished
    result.update(title=title, folder=folder,
                  test_loss=assessment["loss"] if assessment else None,
                  test_accuracy=assessment["accuracy"] if assessment else None,
                  calibration_error=(assessment["calibration"]["expected_calibration_error"]
                                     if assessment else None),
                  health=health_sentence(result["layer_health"], model))
    return result


def look_before_training(model, X_val, Y_val):
    """Print the layers and their parameter counts, and the untrained network's validation loss
    beside ln(number of classes), the loss of guessing uniformly (CS231n's first sanity check)."""
    for line in model.summary():
        print(line)
    loss = model.loss_function.value(model.predict_proba(X_val), Y_val)
    expected = math.log(model.n_classes)
    verdict = ("as expected of an untrained network" if abs(loss - expected) <= 0.5 * expected
               else "far from it: check how the data is scaled and the weights initialised")
    print(f"  untrained validation loss {loss:.3f}; ln({model.n_classes}) = {expected:.3f}: {verdict}",
          flush=True)


def print_summary(summary):
    print("\nSummary")
    for result in summary:
        if result["status"] == "finished":
            print(f"  {result['title']}: finished before; its files in {result['folder']} are kept")
        elif result["test_accuracy"] is None:
            print(f"  {result['title']}: {result['status']}, no test metrics; files in {result['folder']}")
        else:
            note = "" if result["status"] == "completed" else f" ({result['status']})"
            print(f"  {result['title']}: test loss {result['test_loss']:.4f}, test accuracy "
                  f"{result['test_accuracy']:.4f}, calibration error "
                  f"{result['calibration_error']:.4f}{note}; files in {result['folder']}")
        if result.get("health"):
            print(f"    {result['health']}")


def main(argv=None):
    args = parse_args(argv)
    if args.explain:
        from Explain import explain
        return explain()
    if args.gradient_check:
        from GradientCheck import report
        return report(args.hidden_layers, args.activation, args.seed, args.dropout or 0.0)
    if args.model:
        if args.predict:
            check_output_dir(args.output_dir)
        try:
            from Prediction import use_saved_model
            return use_saved_model(args)
        except DataError as error:
            print(f"Main.py: error: {error}", file=sys.stderr)
            return EXIT_USAGE
    check_network_fits(args)
    check_output_dir(args.output_dir)
    try:
        with output_lock(args.output_dir), StopFlag() as stop_flag:
            summary, exit_status = train_all(args, stop_flag)
    except DataError as error:
        print(f"Main.py: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Checkpoint.CheckpointError as error:
        print(f"Main.py: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print_summary(summary)
    if stop_flag():
        print("To continue from the last finished epoch, run the same command with --resume.")
        return EXIT_SIGNAL[stop_flag.signal_number]
    return exit_status


def train_all(args, stop_flag):
    """Train each data set the flags name, as the resume plan says; (results, exit status)."""
    folders = [(name, output_folder(name, args)) for name in args.datasets]
    plans = Checkpoint.plan_resume(args, folders)
    summary = []
    exit_status = 0
    for name, folder in folders:
        if plans[name] == "finished":
            title = DATASETS[name].title if name in DATASETS else os.path.basename(folder)
            print(f"{title}: finished before; its files in {folder} are kept", flush=True)
            summary.append({"title": title, "folder": folder, "status": "finished"})
            continue
        result = train_one(name, args, stop_flag, plans[name])
        summary.append(result)
        if result["status"] == "diverged":
            exit_status = EXIT_FAILED
        if stop_flag():
            break
    return summary, exit_status


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
