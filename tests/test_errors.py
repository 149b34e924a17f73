"""Whatever a user gets wrong costs one clear line, and what they already have is kept.

Each case runs Main.main in the test process and checks the exit status and
what it printed: exit status 2, one line naming the flag or file, no traceback
(an exception would fail the test). What only a whole process shows (the exit
status through sys.exit, signals) runs Main.py in a fresh interpreter.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from Model import DIVERGED
from mlp import flags, guarded
from helpers import MAIN, assert_one_line_error, make_mnist_like, png_size, run_in_process, run_main


# ------------------------------------------------------------------ flags

@pytest.mark.parametrize("flag, value", [
    ("--learning_rate", "-0.1"), ("--learning_rate", "0"), ("--learning_rate", "nan"),
    ("--learning_rate", "inf"), ("--learning_rate", "fast"),
    ("--epochs", "0"), ("--epochs", "-3"), ("--epochs", "2.5"), ("--epochs", "ten"),
    ("--batch_size", "0"), ("--batch_size", "1.5"), ("--seed", "-1"),
    ("--validation_split", "0"), ("--validation_split", "1"), ("--validation_split", "1.5"),
    ("--validation_split", "nan"), ("--validation_split", "most"),
    ("--optimizer", "rmsprop"), ("--datasets", "cifar10"), ("--dtype", "float16"),
    ("--activation", "softplus"), ("--lr_schedule", "step"),
])
def test_bad_flag_values(capsys, tmp_path, flag, value):
    # A missing MNIST file is given too: the flag must be refused before any data is read.
    result = run_in_process(capsys, flag, value, "--mnist_path", tmp_path / "absent.npz", "--output_dir", tmp_path)
    assert_one_line_error(result, f"argument {flag}")


@pytest.mark.parametrize("tokens, reason", [
    (["[256, 0]"], "at least 1"), (["[-5]"], "at least 1"), (["[256,", "-64]"], "at least 1"),
    (["-5"], "at least 1"), (["[256,", "abc]"], "'abc'"),
    (["[1.5]"], "'1.5'"), (["[256,", "64"], "unbalanced"), (["256,", "64]"], "unbalanced"),
    (["[256,,64]"], "empty item"), (["[256,", "64,]"], "empty item"), (["[[256]]"], "brackets"),
])
def test_bad_hidden_layers(capsys, tmp_path, tokens, reason):
    result = run_in_process(capsys, "--hidden_layers", *tokens, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --hidden_layers", reason)


def test_a_network_too_large_for_memory_is_refused_before_allocating(capsys, tmp_path):
    started = time.perf_counter()
    result = run_in_process(capsys, "--hidden_layers", "[100000000]", "--output_dir", tmp_path)
    line = assert_one_line_error(result, "argument --hidden_layers", "GiB")
    assert "784-100000000-10, 79,500,000,010 parameters" in line  # 785 * 1e8 + (1e8 + 1) * 10
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("optimizer, copies", [("adam", 5), ("momentum", 4), ("sgd", 3)])
def test_memory_estimate_counts_parameters_and_the_optimizers_copies(optimizer, copies):
    # Weights and gradients, plus Adam's two running means and a scratch buffer (momentum:
    # velocity and scratch; sgd: scratch).
    needed, n_parameters = flags.estimated_training_bytes(784, [256, 64], 10, 4, optimizer)
    assert n_parameters == 785 * 256 + 257 * 64 + 65 * 10 == 218058
    assert needed == (copies * 218058 + 8192 * (256 + 64 + 10) * 2) * 4


def test_a_bad_flag_through_the_real_entry_point():
    """The one whole-process flag case: exit status 2 from sys.exit, one line, nothing else."""
    result = run_main("--epochs", "2.5")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("Main.py: error: argument --epochs: '2.5': expected a whole number "
                             "of at least 1 (see Main.py --help)\n")


def test_an_unknown_activation_names_the_choices(capsys, tmp_path):
    result = run_in_process(capsys, "--activation", "softplus", "--mnist_path", tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --activation", "'softplus'", "sigmoid", "tanh", "relu")


def test_output_dir_that_is_a_file(capsys, tmp_path):
    occupied = tmp_path / "results"
    occupied.write_text("my notes\n")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", occupied)
    assert_one_line_error(result, "argument --output_dir", "is a file")
    assert occupied.read_text() == "my notes\n"


def test_output_dir_under_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", tmp_path / "file" / "results")
    assert_one_line_error(result, "argument --output_dir", f"under {tmp_path / 'file'}, which is a file")


# ------------------------------------------------------------------ files

def npz_with(path, **overrides):
    """A small valid MNIST-layout file, with some arrays replaced (None removes one)."""
    make_mnist_like(path, n_train=50, n_test=20)
    with np.load(path) as archive:
        arrays = dict(archive)
    for key, value in overrides.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(path, **arrays)
    return path


def mnist_cases(tmp_path):
    good = make_mnist_like(tmp_path / "good.npz", n_train=50, n_test=20)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file\n" * 20)
    (tmp_path / "folder.npz").mkdir()
    images = np.zeros((50, 28, 28), np.uint8)
    float_images = images.astype(np.float32)
    float_images[3, 4, 5] = np.nan
    return {
        "missing": (tmp_path / "absent.npz", "no such file"),
        "folder": (tmp_path / "folder.npz", "is a folder"),
        "truncated": (truncated, "not a readable npz"),
        "garbage": (garbage, "not a readable npz"),
        "keys": (npz_with(tmp_path / "keys.npz", y_test=None), "missing arrays y_test"),
        "dtype": (npz_with(tmp_path / "dtype.npz", x_train=np.full((50, 28, 28), "a")), "dtype"),
        "shape": (npz_with(tmp_path / "shape.npz", x_train=np.zeros(50, np.uint8)), "shape"),
        "lengths": (npz_with(tmp_path / "lengths.npz", y_train=np.zeros(49, np.uint8)),
                    "50 images but y_train has 49 labels"),
        "labels": (npz_with(tmp_path / "labels.npz", y_train=np.full(50, 10, np.uint8)),
                   "expected digits 0 to 9"),
        "nan": (npz_with(tmp_path / "nan.npz", x_train=float_images), "NaN or infinite"),
        "pixels": (npz_with(tmp_path / "pixels.npz", x_test=np.full((20, 28, 28), 300, np.int32)),
                   "expected 0 to 255"),
        "image shapes": (npz_with(tmp_path / "sizes.npz", x_test=np.zeros((20, 14, 14), np.uint8)),
                         "expected the same shape"),
    }


MNIST_CASES = ["missing", "folder", "truncated", "garbage", "keys", "dtype", "shape", "lengths",
               "labels", "nan", "pixels", "image shapes"]


@pytest.mark.parametrize("case", MNIST_CASES)
def test_bad_mnist_files(capsys, tmp_path, case):
    path, reason = mnist_cases(tmp_path)[case]
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir", tmp_path / "out")
    assert_one_line_error(result, str(path), reason)


IRIS_ROW = "5.1,3.5,1.4,0.2,Iris-setosa\n"
IRIS_CASES = {
    "empty": ("", "not a readable CSV"),
    "missing value": ("5.1,3.5,,0.2,Iris-setosa\n" + IRIS_ROW * 20, "missing values"),
    "non-numeric": ("5.1,3.5,wide,0.2,Iris-setosa\n" + IRIS_ROW * 20, "'wide'"),
    "one class": (IRIS_ROW * 30, "single class"),
    "too few rows": (IRIS_ROW * 5 + "6.0,3.0,4.5,1.5,Iris-versicolor\n" * 2, "needs at least 3"),
    "columns": ("5.1,3.5,1.4,Iris-setosa\n" * 10, "4 columns; expected 5"),
    "binary": (None, "not a readable CSV"),
}


@pytest.mark.parametrize("case", sorted(IRIS_CASES))
def test_bad_iris_files(capsys, tmp_path, case):
    text, reason = IRIS_CASES[case]
    path = tmp_path / "iris.data"
    if text is None:
        path.write_bytes(bytes(range(256)) * 8)
    else:
        path.write_text(text)
    result = run_in_process(capsys, "--datasets", "iris", "--iris_path", path, "--output_dir", tmp_path / "out")
    assert_one_line_error(result, str(path), reason)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file whatever its permissions")
def test_unreadable_file(capsys, tmp_path):
    path = make_mnist_like(tmp_path / "locked.npz", n_train=50, n_test=20)
    path.chmod(0)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir", tmp_path)
    assert_one_line_error(result, str(path), "not readable")


# ------------------------------------------------------------- divergence

def test_divergence_stops_that_data_set_keeps_its_files_and_runs_the_next(capsys, tmp_path):
    # Random labels: at a learning rate of 1000 the weights blow up into confident nonsense.
    # (Without weight decay, which at such a rate is refused: see the test after this one.)
    noise = make_mnist_like(tmp_path / "noise.npz", learnable=False)
    result = run_in_process(capsys, "--learning_rate", "1000", "--epochs", "5", "--hidden_layers", "[16]",
                            "--weight_decay", "0", "--mnist_path", noise, "--output_dir", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "MNIST: training diverged in epoch 1" in result.stderr
    assert "Iris: training diverged in epoch 1" in result.stderr
    assert "try a smaller --learning_rate than 1000" in result.stderr
    for name in ("mnist", "iris"):
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["status"] == "diverged" and metrics["diverged_epoch"] == 1
        assert metrics["history"]["train_loss"] == [] and metrics["test_accuracy"] is None
        png_size(tmp_path / name / "loss.png")


def test_divergence_after_good_epochs_keeps_them():
    from Model import Model, one_hot
    from mlp.optimizers import SGD, Packed

    rng = np.random.default_rng(0)
    model = Model(4, [8], 3, rng, dtype=np.float64)
    X = rng.normal(size=(60, 4))
    Y = one_hot(rng.integers(0, 3, 60), 3, np.float64)

    class PoisonAfterTwoEpochs(SGD):
        def step(self):
            super().step()
            self.steps_taken = getattr(self, "steps_taken", 0) + 1
            if self.steps_taken == 2 * 6 + 3:  # in epoch 3 (6 batches an epoch)
                self.parameters[0][0] = np.inf

    packed = Packed(model.layers)
    optimizer = PoisonAfterTwoEpochs([packed.parameters], [packed.gradients], 0.1, packed=packed)
    result = model.fit(X, Y, X, Y, epochs=5, batch_size=10, rng=rng, optimizer=optimizer)
    assert result.status == DIVERGED and result.diverged_epoch == 3
    assert len(result.history["train_loss"]) == 2


# ------------------------------------------------------------ interruption

def start_long_run(tmp_path, small_mnist):
    process = subprocess.Popen(
        [sys.executable, MAIN, "--datasets", "mnist", "iris", "--epochs", "100000",
         "--hidden_layers", "[64]", "--mnist_path", str(small_mnist), "--output_dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait until two epochs are done
        if "epoch      2/100000" in line:
            return process
    raise AssertionError("training never printed its second epoch: " + process.stderr.read())


@pytest.mark.slow
@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_after_the_batch_and_keeps_the_finished_epochs(tmp_path, small_mnist,
                                                                       signal_number, status):
    process = start_long_run(tmp_path, small_mnist)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr
    assert "stopping after this batch" in stderr
    assert "run the same command with --resume" in stdout
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert metrics["epochs_completed"] >= 2
    assert len(metrics["history"]["val_loss"]) == metrics["epochs_completed"]
    assert 0 <= metrics["test_accuracy"] <= 1
    png_size(tmp_path / "mnist" / "accuracy.png")
    assert not (tmp_path / "iris").exists()  # the run stops; Iris is not started
    assert [p for p in os.listdir(tmp_path / "mnist") if p.endswith(".tmp")] == []


@pytest.mark.slow
def test_a_second_interrupt_quits_at_once(tmp_path, small_mnist):
    process = start_long_run(tmp_path, small_mnist)
    process.send_signal(signal.SIGINT)
    # The second only once the first was heard (two signals sent at once may arrive as one);
    # the run then still has its plots and files to write, time enough for it to arrive.
    heard = process.stderr.readline() + process.stderr.readline()
    assert "stopping after this batch" in heard, heard
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "Second interrupt: quitting now" in stderr


# ------------------------------------------------------------------ output

def test_files_are_replaced_atomically(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("the old, complete file\n")

    def write_half_then_fail(stream):
        stream.write(b'{"half": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        guarded.write_atomically(str(target), write_half_then_fail)
    assert target.read_text() == "the old, complete file\n"
    assert os.listdir(tmp_path) == ["metrics.json"]
    guarded.write_atomically(str(target), lambda stream: stream.write(b"new\n"))
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["metrics.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~guarded.current_umask()
