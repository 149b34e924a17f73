"""Train the multilayer perceptron on MNIST and Iris from the command line.

    python Main.py --learning_rate 0.001 --epochs 30 --hidden_layers [256, 64]

For each data set it prints one line per epoch, then writes the plots,
metrics.json and model.npz to <output_dir>/<dataset>/. It also trains on a CSV
(--csv, --target), reuses a saved model (--model with --evaluate or --predict)
and checks the backward pass against finite differences (--gradient_check).
This is the only module that knows about flags, files and folders.
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

from Datasets import DataError, load_csv, load_iris, load_mnist
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
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; expected a fraction between 0 and 1") from None
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
    own = parser.add_argument_group("your own data")
    own.add_argument("--csv", default=None, metavar="FILE",
                     help="train on this CSV instead of MNIST and Iris: a header row, numeric "
                          "feature columns and a class column named by --target")
    own.add_argument("--target", default=None, metavar="COLUMN",
                     help="the class column of --csv")
    saved = parser.add_argument_group("a saved model (every run saves OUTPUT_DIR/<dataset>/model.npz)")
    saved.add_argument("--model", default=None, metavar="FILE",
                       help="use this saved model instead of training one")
    saved.add_argument("--evaluate", action="store_true",
                       help="with --model: test loss, accuracy and per-class scores on the test "
                            "split of the data set it was trained on")
    saved.add_argument("--predict", default=None, metavar="FILE",
                       help="with --model: class and probabilities for each row of a CSV of "
                            "features, or each image of an npz (x_test, or its only array); "
                            "written to OUTPUT_DIR/predictions.csv")
    parser.add_argument("--gradient_check", action="store_true",
                        help="check every layer's backward pass of a network with "
                             "--hidden_layers against finite differences on a small random "
                             "batch (float64), print the largest relative error per layer, "
                             "exit 0 if all are below 1e-6, else 1; needs no data")
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
        if name in DATASET_SHAPES:
            message = network_too_large(DATASET_TITLES[name], *DATASET_SHAPES[name],
                                        args.hidden_layers, dtype_size, available)
            if message:
                parser.error(f"argument --hidden_layers: {message}")


def network_too_large(title, n_features, n_classes, hidden_layers, dtype_size, available):
    """Why this network cannot be trained in the available memory, or None if it can."""
    needed, n_parameters = estimated_training_bytes(n_features, hidden_layers, n_classes, dtype_size)
    if available is None or needed <= available:
        return None
    network = network_text(n_features, hidden_layers, n_classes)
    return (f"the {title} network ({network}, {n_parameters:,} parameters) needs about "
            f"{needed / 2**30:,.1f} GiB to train and this machine has "
            f"{available / 2**30:,.1f} GiB available; expected smaller layers")


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


def joined_hidden_layers(argv):
    """argv with the tokens after --hidden_layers, up to the next --flag, joined into one.

    The shell splits the assignment's unquoted [256, 64] into two tokens, and
    argparse would take a token such as "-64]" for an unknown flag; passed as
    --hidden_layers=VALUE, the whole list reaches parse_hidden_layers, which
    says what is wrong with it.
    """
    joined = []
    position = 0
    while position < len(argv):
        token = argv[position]
        end = position + 1
        if token == "--hidden_layers":
            while end < len(argv) and not argv[end].startswith("--"):
                end += 1
            if end > position + 1:
                token = "--hidden_layers=" + " ".join(argv[position + 1:end])
        joined.append(token)
        position = end
    return joined


def parse_args(argv=None):
    """The parsed flags, with hidden_layers a list of ints and datasets a list of names.

    A bad value ends the program with argparse's usage message and exit status 2.
    """
    parser = build_parser()
    args = parser.parse_args(joined_hidden_layers(sys.argv[1:] if argv is None else list(argv)))
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
    if (args.csv is None) != (args.target is None):
        parser.error("argument --csv: --csv FILE and --target COLUMN go together")
    if args.csv is not None:
        args.datasets = ["csv"]
    if (args.evaluate or args.predict) and not args.model:
        parser.error("argument --model: --evaluate and --predict need --model FILE")
    if args.model and not (args.evaluate or args.predict):
        parser.error("argument --model: say what to do with it: --evaluate, --predict FILE, or both")
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


def network_text(n_features, hidden_layers, n_classes):
    """The widths of a network, input to output, as the text 784-256-64-10."""
    return "-".join(str(width) for width in [n_features, *hidden_layers, n_classes])


def dataset_title(dataset):
    return DATASET_TITLES.get(dataset.name, dataset.name)


def write_results(folder, dataset, run, model, assessment, result, train_seconds):
    """Everything one data set's run leaves in folder: plots, metrics.json, model.npz."""
    from Model import plot_confusion_matrix, plot_hidden_weights, plot_history, plot_misclassified
    from ModelFile import save_model

    os.makedirs(folder, exist_ok=True)
    title = dataset_title(dataset)
    network = network_text(dataset.n_features, run["hidden_layers"], dataset.n_classes)
    settings = (f"network {network}, {run['optimizer']}, learning rate {run['learning_rate']:g} "
                f"({run['lr_schedule']}), batch {run['batch_size']}")
    if result["status"] != "completed":
        settings += f" ({result['status']})"
    for metric in ("loss", "accuracy"):
        save_figure(plot_history(result["history"], metric, f"{title}: {metric} per epoch\n{settings}"),
                    os.path.join(folder, f"{metric}.png"))

    metrics = dict(run, dataset=dataset.name, source=dataset.source, network=network,
                   classes=dataset.class_names, n_train=len(dataset.X_train),
                   n_val=len(dataset.X_val), n_test=len(dataset.X_test),
                   status=result["status"], epochs_completed=len(result["history"]["train_loss"]),
                   history=result["history"], learning_rates=result["learning_rates"],
                   test_loss=None, test_accuracy=None,
                   epoch_seconds=result["epoch_seconds"], train_seconds=train_seconds)
    if "diverged_epoch" in result:
        metrics["diverged_epoch"] = result["diverged_epoch"]
    if assessment is not None:
        metrics.update(test_loss=assessment["loss"], test_accuracy=assessment["accuracy"],
                       per_class=assessment["per_class"],
                       confusion_matrix=assessment["confusion_matrix"].tolist())
        save_figure(plot_confusion_matrix(assessment["confusion_matrix"], dataset.class_names,
                                          f"{title}: test set, accuracy {assessment['accuracy']:.2%}"),
                    os.path.join(folder, "confusion_matrix.png"))
        if dataset.image_shape is not None:
            images = dataset.X_test.reshape(len(dataset.X_test), *dataset.image_shape)
            save_figure(plot_misclassified(images, dataset.y_test, assessment["probabilities"],
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
        options = dict(run, dataset=dataset.name, source=dataset.source,
                       feature_names=dataset.feature_names,
                       image_shape=list(dataset.image_shape) if dataset.image_shape else None)
        write_atomically(os.path.join(folder, "model.npz"),
                         lambda stream: save_model(stream, model, dataset.class_names,
                                                   dataset.feature_mean, dataset.feature_scale, options))
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


def load_dataset(name, args, rng, dtype, validation_split, csv_path=None, target=None):
    """The data set called name ("mnist", "iris" or "csv"), from the files the flags name."""
    if name == "mnist":
        return load_mnist(args.mnist_path, validation_split, rng, dtype)
    if name == "iris":
        return load_iris(args.iris_path, validation_split, rng, dtype)
    return load_csv(csv_path or args.csv, target or args.target, validation_split, rng, dtype)


def training_defaults(dataset):
    """(batch size, learning-rate schedule) when the flags leave them unset.

    MNIST and Iris have their own (see DEFAULT_BATCH_SIZE); a CSV trains like
    Iris when it has fewer than 1,000 training rows, like MNIST otherwise.
    """
    key = dataset.name if dataset.name in DEFAULT_BATCH_SIZE else (
        "iris" if len(dataset.X_train) < 1000 else "mnist")
    return DEFAULT_BATCH_SIZE[key], DEFAULT_LR_SCHEDULE[key]


def train_one(name, args, stop_flag):
    """Load, train, assess and write one data set; return its result dict."""
    from Model import Model, one_hot

    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    dataset = load_dataset(name, args, rng, dtype, args.validation_split)
    too_large = network_too_large(dataset_title(dataset), dataset.n_features, dataset.n_classes,
                                  args.hidden_layers, dtype.itemsize, available_memory_bytes())
    if too_large:
        raise DataError(too_large)
    default_batch_size, default_schedule = training_defaults(dataset)
    run = {"hidden_layers": args.hidden_layers, "learning_rate": args.learning_rate,
           "lr_schedule": args.lr_schedule or default_schedule, "epochs": args.epochs,
           "batch_size": args.batch_size or default_batch_size, "optimizer": args.optimizer,
           "seed": args.seed, "dtype": args.dtype, "validation_split": args.validation_split}
    if name == "csv":
        run["target"] = args.target
    title = dataset_title(dataset)
    network = network_text(dataset.n_features, args.hidden_layers, dataset.n_classes)
    print(f"{title}: {len(dataset.X_train)} training, {len(dataset.X_val)} validation, "
          f"{len(dataset.X_test)} test rows from {dataset.source}; network "
          f"{network}, {args.optimizer}, learning rate "
          f"{args.learning_rate:g} ({run['lr_schedule']}), batch {run['batch_size']}", flush=True)

    model = Model(dataset.n_features, args.hidden_layers, dataset.n_classes, rng, dtype)
    optimizer = model.build_optimizer(args.optimizer, args.learning_rate)
    Y_train = one_hot(dataset.y_train, dataset.n_classes, dtype)
    Y_val = one_hot(dataset.y_val, dataset.n_classes, dtype)
    width = len(str(args.epochs))

    def report(epoch, record):
        print(f"  epoch {epoch:{width}d}/{args.epochs}  loss {record['train_loss']:.4f}  "
              f"accuracy {record['train_accuracy']:.4f}  val_loss {record['val_loss']:.4f}  "
              f"val_accuracy {record['val_accuracy']:.4f}  lr {record['learning_rate']:.2e}  "
              f"{record['seconds']:.3g} s", flush=True)

    started = time.perf_counter()
    result = model.fit(dataset.X_train, Y_train, dataset.X_val, Y_val, optimizer,
                       args.epochs, run["batch_size"], rng, schedule=run["lr_schedule"],
                       on_epoch_end=report, stop_requested=stop_flag)
    train_seconds = time.perf_counter() - started

    assessment = None
    if result["status"] == "diverged":
        print(f"{title}: training diverged in epoch {result['diverged_epoch']} (the loss "
              f"blew up or stopped being finite); stopped and kept the "
              f"{result['diverged_epoch'] - 1} finished epochs; try a smaller "
              f"--learning_rate than {args.learning_rate:g}", file=sys.stderr, flush=True)
    else:
        assessment = model.assess(dataset.X_test, dataset.y_test, dataset.class_names)
    folder = os.path.join(args.output_dir, dataset.name)
    write_results(folder, dataset, run, model, assessment, result, train_seconds)
    result.update(title=title, folder=folder,
                  test_loss=assessment["loss"] if assessment else None,
                  test_accuracy=assessment["accuracy"] if assessment else None)
    return result


# ------------------------------------------------- a saved model, the check

def use_saved_model(args):
    """--model FILE with --evaluate and/or --predict FILE."""
    from ModelFile import load_model

    model, details = load_model(args.model)
    if args.evaluate:
        evaluate_saved_model(model, details, args)
    if args.predict:
        predict_with_saved_model(model, details, args)
    return 0


def evaluate_saved_model(model, details, args):
    """Print the saved model's test metrics on the split it was trained with."""
    options = details["options"]
    name = options.get("dataset")
    if name not in DATASETS:
        name = "csv"
    dataset = load_dataset(name, args, np.random.default_rng(options.get("seed", 0)), model.dtype,
                           options.get("validation_split", 0.1),
                           csv_path=args.csv or options.get("source"), target=options.get("target"))
    if dataset.n_features != model.n_features or dataset.class_names != details["class_names"]:
        raise DataError(f"{dataset.source}: its features or classes are not the ones "
                        f"{args.model} was trained on")
    assessment = model.assess(dataset.X_test, dataset.y_test, dataset.class_names)
    print(f"{dataset_title(dataset)}, model {args.model}: test loss {assessment['loss']:.4f}, "
          f"test accuracy {assessment['accuracy']:.4f} on {len(dataset.X_test)} test rows")
    width = max(len("class"), *(len(name) for name in dataset.class_names))
    print(f"  {'class':<{width}}  precision  recall  f1      support")
    for name, scores in assessment["per_class"].items():
        print(f"  {name:<{width}}  {scores['precision']:.4f}     {scores['recall']:.4f}  "
              f"{scores['f1']:.4f}  {scores['support']}")


def predict_with_saved_model(model, details, args):
    """Write OUTPUT_DIR/predictions.csv: each row's class and class probabilities."""
    from Datasets import images_to_features, read_feature_rows, read_images

    options = details["options"]
    if options.get("image_shape"):
        images = read_images(args.predict)
        X = images_to_features(images, model.dtype)
    else:
        features = read_feature_rows(args.predict, options.get("feature_names") or
                                     [f"feature_{i}" for i in range(model.n_features)])
        X = ((features - details["feature_mean"]) / details["feature_scale"]).astype(model.dtype)
    if X.shape[1] != model.n_features:
        raise DataError(f"{args.predict}: {X.shape[1]} features per row; the model takes "
                        f"{model.n_features}")
    P = model.predict_proba(X)
    predicted = P.argmax(axis=1)
    classes = details["class_names"]
    lines = ["row,predicted," + ",".join(f"probability_{name}" for name in classes)]
    for row, (label, probabilities) in enumerate(zip(predicted, P)):
        lines.append(f"{row},{classes[label]}," + ",".join(f"{p:.6g}" for p in probabilities))
    path = os.path.join(args.output_dir, "predictions.csv")
    text = "\n".join(lines) + "\n"
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))
    counts = np.bincount(predicted, minlength=len(classes))
    print(f"{len(X)} rows of {args.predict} predicted with {args.model}: "
          + ", ".join(f"{name} {count}" for name, count in zip(classes, counts) if count)
          + f"; classes and probabilities in {path}")


def run_gradient_check(args):
    """Print each layer's largest relative error against finite differences; 0 if all pass."""
    from GradientCheck import TOLERANCE, check_model, random_problem

    rng = np.random.default_rng(args.seed)
    n_features, n_classes, n_samples = 5, 3, 8
    model, X, Y = random_problem(n_features, args.hidden_layers, n_classes, rng, n_samples)
    widths = [n_features, *args.hidden_layers, n_classes]
    network = network_text(n_features, args.hidden_layers, n_classes)
    print(f"Gradient check of a {network} network in float64 on "
          f"{n_samples} random rows: backward pass against central finite differences")
    errors = check_model(model, X, Y)
    for (name, error), n_in, n_out in zip(errors, widths, widths[1:]):
        verdict = "ok" if error < TOLERANCE else "FAILED"
        print(f"  {name:<16} ({n_in:>3} -> {n_out:<3})  largest relative error {error:.2e}  {verdict}")
    passed = all(error < TOLERANCE for _, error in errors)
    print("All layers agree with finite differences." if passed else
          f"Some layers differ from finite differences by more than {TOLERANCE:g}.")
    return 0 if passed else 1


def main(argv=None):
    args = parse_args(argv)
    if args.gradient_check:
        return run_gradient_check(args)
    if args.model:
        if args.predict:
            check_output_dir(build_parser(), args.output_dir)
        try:
            return use_saved_model(args)
        except DataError as error:
            print(f"Main.py: error: {error}", file=sys.stderr)
            return EXIT_USAGE
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
        summary.append(result)
        if result["status"] == "diverged":
            exit_status = EXIT_DIVERGED
        if stop_flag():
            break

    print("\nSummary")
    for result in summary:
        if result["test_accuracy"] is None:
            print(f"  {result['title']}: {result['status']}, no test metrics; files in {result['folder']}")
        else:
            note = "" if result["status"] == "completed" else f" ({result['status']})"
            print(f"  {result['title']}: test loss {result['test_loss']:.4f}, test accuracy "
                  f"{result['test_accuracy']:.4f}{note}; files in {result['folder']}")
    if stop_flag():
        return EXIT_SIGNAL[stop_flag.signal_number]
    return exit_status


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
