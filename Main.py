"""Train the multilayer perceptron on MNIST and Iris from the command line.

    python Main.py --learning_rate 0.001 --epochs 30 --hidden_layers [256, 64]

For each data set it prints one line per epoch, then writes loss.png,
accuracy.png and metrics.json to <output_dir>/<dataset>/.
"""

import argparse
import json
import math
import os
import re
import signal
import sys
import tempfile
import time

import numpy as np

from Datasets import DataError, load_iris, load_mnist
from Optimizer import OPTIMIZERS

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = ("mnist", "iris")
DATASET_TITLES = {"mnist": "MNIST", "iris": "Iris"}
# Iris has 108 training rows: at batch 32 it would get 4 updates an epoch, too few
# to converge in 30 epochs at the assignment's learning rate. One row a step gives
# 108, and a rate held constant (a decaying one would halve the learning done).
DEFAULT_BATCH_SIZE = {"mnist": 32, "iris": 1}
DEFAULT_LR_SCHEDULE = {"mnist": "cosine", "iris": "constant"}
EXIT_DIVERGED = 1
EXIT_USAGE = 2
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
# Inputs and classes of each data set, known before it is loaded, for the memory estimate.
DATASET_SHAPES = {"mnist": (784, 10), "iris": (4, 3)}
# Copies of the parameter vector training keeps: weights, gradients, Adam's two
# running means and one scratch buffer.
PARAMETER_COPIES = 5


# ---------------------------------------------------------------- the flags

def parse_hidden_layers(text):
    """The list of hidden-layer widths a user typed, in any of the forms they type.

    "[256, 64]", "[256,64]", "256,64" and "256 64" all give [256, 64]; "[]" and
    "" give [] (no hidden layer). Raises ValueError saying what is wrong.
    """
    text = text.strip()
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError(f"unbalanced brackets in {text!r}")
        text = text[1:-1].strip()
    if "[" in text or "]" in text:
        raise ValueError("nested or extra brackets; expected one list such as [256, 64]")
    if not text:
        return []
    items = [item.strip() for item in text.split(",")] if "," in text else text.split()
    sizes = []
    for item in items:
        if not item:
            raise ValueError("an empty item between commas")
        if not re.fullmatch(r"[+-]?\d+", item):
            raise ValueError(f"{item!r} is not a whole number")
        size = int(item)
        if size < 1:
            raise ValueError(f"a layer of {size} units; every layer needs at least 1")
        sizes.append(size)
    return sizes


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; expected a positive number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number greater than 0")
    return value


def positive_int(text):
    if not re.fullmatch(r"\s*\+?\d+\s*", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return int(text)


def seed_int(text):
    if not re.fullmatch(r"\s*\+?\d+\s*", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 0")
    return int(text)


def open_fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; expected a fraction between 0 and 1") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a fraction strictly between 0 and 1")
    return value


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad flag costs one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = OneLineErrorParser(
        prog="Main.py",
        description="Train a multilayer perceptron written from scratch in numpy (sigmoid "
                    "hidden layers, softmax output, categorical cross-entropy, hand-written "
                    "backpropagation) on MNIST and Iris, and save its metric plots.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--learning_rate", type=positive_float, default=0.001,
                        help="step size of the optimizer")
    parser.add_argument("--epochs", type=positive_int, default=30,
                        help="passes over the training set")
    parser.add_argument("--hidden_layers", nargs="+", default=["[256, 64]"], metavar="SIZES",
                        help="widths of the sigmoid hidden layers, e.g. [256, 64] (quoted or "
                             "not), 256,64 or 256 64; [] for none (softmax regression)")
    parser.add_argument("--lr_schedule", choices=("cosine", "constant"), default=None,
                        help="cosine: each epoch's learning rate follows a half cosine from "
                             "--learning_rate down towards 0 at the last epoch; constant: "
                             "--learning_rate throughout (default: "
                             + ", ".join(f"{s} for {d}" for d, s in DEFAULT_LR_SCHEDULE.items()) + ")")
    parser.add_argument("--batch_size", type=positive_int, default=None,
                        help="rows per gradient step (default: "
                             + ", ".join(f"{n} for {d}" for d, n in DEFAULT_BATCH_SIZE.items()) + ")")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                        help="adam, plain sgd, or sgd with momentum 0.9")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the weights, the data split and the shuffling")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME",
                        help="which data sets to train on, in order: mnist, iris")
    parser.add_argument("--output_dir", default="results",
                        help="plots and metrics go to OUTPUT_DIR/<dataset>/")
    parser.add_argument("--mnist_path", default=None,
                        help="an npz file in the layout of Keras's mnist.npz (default: "
                             "$KERAS_HOME/datasets/mnist.npz if it exists, else Keras downloads it)")
    parser.add_argument("--iris_path", default=os.path.join(HERE, "iris.data"),
                        help="the UCI iris.data file (the project ships a copy)")
    parser.add_argument("--validation_split", type=open_fraction, default=0.1,
                        help="fraction of the training rows held out for validation")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="floating-point type of the weights and data")
    return parser


def estimated_training_bytes(n_features, hidden_layers, n_classes, dtype_size):
    """Bytes that training this network needs beyond the data, roughly.

    The parameters, counted PARAMETER_COPIES times, and the activations of an
    evaluation chunk of 8192 rows (before and after each activation function).
    """
    widths = [n_features, *hidden_layers, n_classes]
    n_parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(widths, widths[1:]))
    activations = 8192 * sum(widths[1:]) * 2
    return (PARAMETER_COPIES * n_parameters + activations) * dtype_size, n_parameters


def available_memory_bytes():
    """MemAvailable from /proc/meminfo, or the physical memory size where there is none."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_network_fits(parser, args):
    """Refuse, before anything is allocated, a network too large for this machine's memory."""
    available = available_memory_bytes()
    if available is None:
        return
    dtype_size = np.dtype(args.dtype).itemsize
    for name in args.datasets:
        n_features, n_classes = DATASET_SHAPES[name]
        needed, n_parameters = estimated_training_bytes(n_features, args.hidden_layers,
                                                        n_classes, dtype_size)
        if needed > available:
            network = "-".join(map(str, [n_features, *args.hidden_layers, n_classes]))
            parser.error(f"argument --hidden_layers: the {DATASET_TITLES[name]} network "
                         f"({network}, {n_parameters:,} parameters) needs about "
                         f"{needed / 2**30:,.1f} GiB to train "
                         f"and this machine has {available / 2**30:,.1f} GiB available; "
                         f"expected smaller layers")


def check_output_dir(parser, path):
    """Refuse an --output_dir that is a file or cannot be written, before any training."""
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"argument --output_dir: {path} is a file; expected a folder (it is "
                     f"created if missing)")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        parser.error(f"argument --output_dir: cannot write to {path} ({error.strerror or error})")


def parse_args(argv=None):
    """The parsed flags, with hidden_layers a list of ints and datasets a list of names.

    A bad value ends the program with argparse's usage message and exit status 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.hidden_layers = parse_hidden_layers(" ".join(args.hidden_layers))
    except ValueError as error:
        parser.error(f"argument --hidden_layers: {error}; expected a list of positive "
                     f"whole numbers such as [256, 64]")
    names = [name.strip().lower() for token in args.datasets for name in token.split(",")]
    unknown = [name for name in names if name not in DATASETS]
    if unknown or not names:
        parser.error(f"argument --datasets: unknown data set {', '.join(map(repr, unknown))}; "
                     f"expected any of {', '.join(DATASETS)}")
    args.datasets = list(dict.fromkeys(names))
    return args


# ------------------------------------------------------------ the outputs

def write_atomically(path, write):
    """Call write(file_object) on a temporary file beside path, then rename it to path.

    A run killed part-way leaves the old file or the new one, never half of one.
    """
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_figure(figure, path):
    write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=120))


def save_json(data, path):
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def network_text(dataset, hidden_layers):
    return "-".join(str(width) for width in [dataset.n_features, *hidden_layers, dataset.n_classes])


def write_results(folder, dataset, args, batch_size, schedule, result, test_metrics, train_seconds):
    """loss.png, accuracy.png and metrics.json for one data set."""
    from Model import plot_history

    os.makedirs(folder, exist_ok=True)
    network = network_text(dataset, args.hidden_layers)
    for metric in ("loss", "accuracy"):
        title = (f"{DATASET_TITLES.get(dataset.name, dataset.name)}: {metric} per epoch\n"
                 f"network {network}, {args.optimizer}, learning rate {args.learning_rate:g} ({schedule}), "
                 f"batch {batch_size}")
        if result["status"] != "completed":
            title += f" ({result['status']})"
        save_figure(plot_history(result["history"], metric, title), os.path.join(folder, f"{metric}.png"))
    test_loss, test_accuracy = test_metrics
    metrics = {
        "dataset": dataset.name,
        "source": dataset.source,
        "network": network,
        "hidden_layers": args.hidden_layers,
        "learning_rate": args.learning_rate,
        "lr_schedule": schedule,
        "learning_rates": result["learning_rates"],
        "epochs": args.epochs,
        "epochs_completed": len(result["history"]["train_loss"]),
        "batch_size": batch_size,
        "optimizer": args.optimizer,
        "seed": args.seed,
        "dtype": args.dtype,
        "validation_split": args.validation_split,
        "classes": dataset.class_names,
        "n_train": len(dataset.X_train),
        "n_val": len(dataset.X_val),
        "n_test": len(dataset.X_test),
        "status": result["status"],
        "history": result["history"],
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "epoch_seconds": result["epoch_seconds"],
        "train_seconds": train_seconds,
    }
    if "diverged_epoch" in result:
        metrics["diverged_epoch"] = result["diverged_epoch"]
    save_json(metrics, os.path.join(folder, "metrics.json"))


# ------------------------------------------------------------- the run

class StopFlag:
    """Turns the first SIGINT or SIGTERM into a request to stop after the current batch.

    A second SIGINT ends the program at once.
    """

    def __init__(self):
        self.signal_number = None

    def install(self):
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

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
    if name == "mnist":
        return load_mnist(args.mnist_path, args.validation_split, rng, dtype)
    return load_iris(args.iris_path, args.validation_split, rng, dtype)


def train_one(name, args, stop_flag):
    """Load, train, evaluate and write one data set; return its result dict."""
    from Model import Model, one_hot

    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    dataset = load_dataset(name, args, rng, dtype)
    batch_size = args.batch_size or DEFAULT_BATCH_SIZE[name]
    schedule = args.lr_schedule or DEFAULT_LR_SCHEDULE[name]
    title = DATASET_TITLES.get(name, name)
    print(f"{title}: {len(dataset.X_train)} training, {len(dataset.X_val)} validation, "
          f"{len(dataset.X_test)} test rows from {dataset.source}; network "
          f"{network_text(dataset, args.hidden_layers)}, {args.optimizer}, learning rate "
          f"{args.learning_rate:g} ({schedule}), batch {batch_size}", flush=True)

    model = Model(dataset.n_features, args.hidden_layers, dataset.n_classes, rng, dtype)
    optimizer = model.build_optimizer(args.optimizer, args.learning_rate)
    Y_train = one_hot(dataset.y_train, dataset.n_classes, dtype)
    Y_val = one_hot(dataset.y_val, dataset.n_classes, dtype)
    Y_test = one_hot(dataset.y_test, dataset.n_classes, dtype)
    width = len(str(args.epochs))

    def report(epoch, record):
        print(f"  epoch {epoch:{width}d}/{args.epochs}  loss {record['train_loss']:.4f}  "
              f"accuracy {record['train_accuracy']:.4f}  val_loss {record['val_loss']:.4f}  "
              f"val_accuracy {record['val_accuracy']:.4f}  lr {record['learning_rate']:.2e}  "
              f"{record['seconds']:.3g} s", flush=True)

    started = time.perf_counter()
    result = model.fit(dataset.X_train, Y_train, dataset.X_val, Y_val, optimizer,
                       args.epochs, batch_size, rng, schedule=schedule,
                       on_epoch_end=report, stop_requested=stop_flag)
    train_seconds = time.perf_counter() - started

    if result["status"] == "diverged":
        print(f"{title}: training diverged in epoch {result['diverged_epoch']} (the loss "
              f"blew up or stopped being finite); stopped and kept the "
              f"{result['diverged_epoch'] - 1} finished epochs; try a smaller "
              f"--learning_rate than {args.learning_rate:g}", file=sys.stderr, flush=True)
        test_metrics = (None, None)
    else:
        test_metrics = model.evaluate(dataset.X_test, Y_test)
    folder = os.path.join(args.output_dir, name)
    write_results(folder, dataset, args, batch_size, schedule, result, test_metrics, train_seconds)
    result.update(test_loss=test_metrics[0], test_accuracy=test_metrics[1], folder=folder)
    return result


def main(argv=None):
    args = parse_args(argv)
    check_network_fits(build_parser(), args)
    check_output_dir(build_parser(), args.output_dir)
    stop_flag = StopFlag()
    stop_flag.install()
    summary = []
    exit_status = 0
    for name in args.datasets:
        try:
            result = train_one(name, args, stop_flag)
        except DataError as error:
            print(f"Main.py: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        summary.append((name, result))
        if result["status"] == "diverged":
            exit_status = EXIT_DIVERGED
        if stop_flag():
            break

    print("\nSummary")
    for name, result in summary:
        title = DATASET_TITLES.get(name, name)
        if result["test_accuracy"] is None:
            print(f"  {title}: {result['status']}, no test metrics; files in {result['folder']}")
        else:
            note = "" if result["status"] == "completed" else f" ({result['status']})"
            print(f"  {title}: test loss {result['test_loss']:.4f}, test accuracy "
                  f"{result['test_accuracy']:.4f}{note}; files in {result['folder']}")
    if stop_flag():
        return EXIT_SIGNAL[stop_flag.signal_number]
    return exit_status


if __name__ == "__main__":
    sys.exit(main())
