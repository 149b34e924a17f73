"""What the tests share: running Main.py (in a new process or in this one), and small data files."""

import os
import signal
import struct
import subprocess
import sys
from types import SimpleNamespace

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "Main.py")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DIE_AT = os.path.join(ROOT, "tests", "die_at.py")
# A short Iris run, and a short run on MNIST-like images (with --mnist_path), for the tests of
# what runs leave and refuse.
IRIS = ("--datasets", "iris", "--epochs", "2", "--hidden_layers", "[4]")
RUN = ("--datasets", "mnist", "--epochs", "5", "--hidden_layers", "[16]", "--batch_size", "16")


def run_main(*args, env=None, timeout=300):
    """Run Main.py in a fresh interpreter; return the CompletedProcess (text output).

    For what only a process shows: exit statuses through sys.exit, signals,
    what reaches stderr from outside Python.
    """
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run([sys.executable, MAIN, *map(str, args)], capture_output=True,
                          text=True, env=environment, timeout=timeout)


def run_in_process(capsys, *args):
    """Main.main(args) in this interpreter, shaped like run_main's result.

    returncode is what main returned or the status it exited with (argparse
    exits); stdout and stderr are what it printed. An exception is not caught:
    it fails the test, as a traceback would.
    """
    import Main

    capsys.readouterr()
    try:
        status = Main.main([str(arg) for arg in args])
    except SystemExit as exit_:
        status = exit_.code
    printed = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=printed.out, stderr=printed.err)


def kill_at(point, *args, env=None):
    """Run Main.py in the wrapper that dies by SIGKILL at point ("checkpoint:EPOCH[:DATASET]",
    half-way through writing that checkpoint, or "batch:N"; see die_at.py); env adds to the
    environment."""
    result = subprocess.run([sys.executable, DIE_AT, point, *map(str, args)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, **(env or {})})
    assert result.returncode == -signal.SIGKILL, result.stderr
    return result


def assert_one_line_error(result, *expected):
    """Exit status 2, no traceback, and one error line holding every expected text; returns it."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1, result.stderr
    for text in expected:
        assert text in error_lines[0], (text, error_lines[0])
    return error_lines[0]


def npz(path, **arrays):
    """An npz file of these arrays at path; returns path."""
    np.savez(path, **arrays)
    return path


def png_size(path):
    """(width, height) from a PNG file's IHDR chunk; fails unless it is a PNG."""
    with open(path, "rb") as stream:
        header = stream.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def make_mnist_like(path, n_train=1000, n_test=200, seed=0, learnable=True, label_noise=0.0):
    """A small npz in Keras's mnist.npz layout whose digit d lights row band d of the image.

    With learnable=False the labels are shuffled afterwards, so nothing can be learned;
    label_noise is the share of training and test labels replaced by random digits (a
    network that learns those by heart overfits, and its validation loss rises).
    """
    rng = np.random.default_rng(seed)

    def part(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for digit in range(10):
            rows = 2 + 2 * digit
            images[labels == digit, rows:rows + 2, 4:24] = 255
        if not learnable:
            labels = rng.permutation(labels)
        noisy = rng.random(n) < label_noise
        labels[noisy] = rng.integers(0, 10, size=int(noisy.sum()))
        return images, labels

    x_train, y_train = part(n_train)
    x_test, y_test = part(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def make_csv(path, n_per_class=80, seed=0):
    """Three well-separated Gaussian blobs in 3 features, named classes, and a header row."""
    rng = np.random.default_rng(seed)
    centres = {"low": (-2, 0, 1), "mid": (0, 2, -1), "high": (2, -2, 0)}
    lines = ["width,height,depth,kind"]
    for name, centre in centres.items():
        for row in rng.normal(centre, 0.7, size=(n_per_class, 3)):
            lines.append(",".join(f"{v:.4f}" for v in row) + f",{name}")
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(folder):
    """Every file and folder below folder, files with their bytes, for 'nothing changed' checks
    (but .lock, which each run rewrites with its process number)."""
    found = {}
    for top, folders, names in os.walk(folder):
        found.update({os.path.relpath(os.path.join(top, name),
                                      folder) + "/": b"" for name in folders})
        for name in set(names) - {".lock"}:
            path = os.path.join(top, name)
            with open(path, "rb") as stream:
                found[os.path.relpath(path, folder)] = stream.read()
    return found


def words(text):
    """text with every run of spaces and line breaks made one space: printed lines are wrapped
    at 100 columns, so a phrase may span two."""
    return " ".join(text.split())


def tiny_record(result=None):
    """The RunRecord of a 3-2-2 network trained for one epoch, its data not recorded; fit, the
    FitResult it holds (an empty one by default)."""
    from mlp.record import RunRecord, RunSettings
    from Model import FitResult

    settings = RunSettings(hidden_sizes=[2], activation="sigmoid", learning_rate=0.01,
                           lr_schedule="constant", epochs=1, batch_size=4, optimizer="adam",
                           weight_decay=0.0, dropout=0.0, augment=False, augment_pixels=None,
                           seed=0, dtype="float32", validation_split=0.1, patience=None,
                           threads=None, data_file=None)
    return RunRecord(settings=settings, kind="iris", data=None, source=None, network="3-2-2",
                     classes=["a", "b"], n_train=8, n_val=8, n_test=8, feature_names=None,
                     image_shape=None, result=result or FitResult(), train_seconds=0.0, measures={})
