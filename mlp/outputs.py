"""Every path a command will write, checked before it writes anything: a refused command
creates nothing and changes nothing of the user's."""

import os

from mlp.datasets import DATASETS, csv_title
from mlp.errors import DataError
from mlp.checkpoint import Fresh
from mlp.guarded import LOCK, cannot_write_in, say, set_aside
from mlp.run_record import CSV

# What a training run may write into its data set's folder.
RUN_FILES = ("metrics.json", "history.csv", "model.npz", "checkpoint.npz", "loss.png",
             "accuracy.png", "confusion_matrix.png", "calibration.png", "layer_health.png",
             "misclassified.png", "hidden_weights.png", "augmented.png")
PREDICTIONS = "predictions.csv"


def run_folder(kind, args):
    """Where a data set's files go: OUTPUT_DIR/<data set>; a CSV's is named after its file, with
    _csv added where that name is a named data set's (iris.csv: OUTPUT_DIR/iris_csv)."""
    if kind != CSV:
        return os.path.join(args.output_dir, kind)
    title = csv_title(args.csv)
    return os.path.join(args.output_dir, f"{title}_csv" if title.lower() in DATASETS else title)


def same_file(path, other):
    """Whether two paths, however written (relative, through links), name the same place."""
    return other is not None and os.path.realpath(path) == os.path.realpath(other)


def check_writable_folder(path, flag="--output_dir"):
    """Raise DataError unless path is a folder this process can write in, or could be created
    as one (its nearest existing folder above is writable). Nothing is created."""
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(os.path.abspath(existing))
    if os.path.islink(existing) and not os.path.exists(existing):
        raise DataError(f"argument {flag}: {existing} is a link to {os.readlink(existing)}, which "
                        f"does not exist; expected a folder (it is created if missing)")
    if not os.path.isdir(existing):
        where = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise DataError(f"argument {flag}: {path} {where}; expected a folder (it is created "
                        f"if missing)")
    reason = cannot_write_in(existing)
    if reason:
        raise DataError(f"argument {flag}: cannot write to {path} ({reason})")


def check_output_dir(path):
    """Raise DataError unless the run can write in --output_dir and take its lock there."""
    check_writable_folder(path)
    lock = os.path.join(path, LOCK)
    if os.path.lexists(lock) and not os.path.isfile(lock):
        raise DataError(f"argument --output_dir: {lock}, the lock that keeps two runs out of one "
                        f"folder, is not a file; remove it or choose another --output_dir")


def check_run_folder(folder, data_file):
    """Raise DataError when a training run could not write its files into folder, or would
    write over its own data file; data_file is None where the data set has no file flag set."""
    if same_file(folder, data_file):
        raise DataError(f"argument --output_dir: {folder}, the folder for the results of "
                        f"{data_file}, is that data file itself; choose another --output_dir")
    check_writable_folder(folder)
    for name in RUN_FILES:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            raise DataError(f"argument --output_dir: {path} is a folder, where the run writes "
                            f"a file; move it away or choose another --output_dir")
        if same_file(path, data_file):
            raise DataError(f"argument --output_dir: the run would write {path} over its own "
                            f"data file; choose another --output_dir")


def check_predictions_path(output_dir, predict_file, model_file):
    """Raise DataError when OUTPUT_DIR/predictions.csv could not be written, or would replace
    the file of rows to predict or the model."""
    check_writable_folder(output_dir)
    path = os.path.join(output_dir, PREDICTIONS)
    if os.path.isdir(path):
        raise DataError(f"argument --output_dir: {path} is a folder, where the predictions go; "
                        f"move it away or choose another --output_dir")
    for other, flag in ((predict_file, "--predict"), (model_file, "--model")):
        if same_file(path, other):
            raise DataError(f"argument --output_dir: the predictions would be written over "
                            f"{other}, the {flag} file; choose another --output_dir")


def keep_earlier_runs(runs):
    """A fresh run never writes over a finished one: the folders that hold one (its
    metrics.json) are renamed to <folder>.N first, N the first number free for all of them,
    and each run says where its folder went."""
    finished = [run for run in runs if isinstance(run.plan, Fresh)
                and os.path.isfile(os.path.join(run.folder, "metrics.json"))]
    for run, moved_to in zip(finished, set_aside(*(run.folder for run in finished))):
        run.moved_to = moved_to
        say(f"{run.title}: the earlier run's files in {run.folder} were moved to {moved_to}")
