"""Nothing lost when a run dies: the checkpoint, --resume bit for bit, early stopping, the live records."""

import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from Model import FitResult, TrainingRun
from mlp import checkpoint, guarded, records
from mlp.callbacks import PrintProgress
from mlp.guarded import output_lock
from mlp.records import HISTORY_COLUMNS
from helpers import (MAIN, assert_one_line_error, kill_at, make_mnist_like, run_in_process, run_main,
                     snapshot)

RUN = ("--datasets", "mnist", "--epochs", "5", "--hidden_layers", "[16]", "--batch_size", "16")


def files(folder):
    """metrics.json (as a dict) and model.npz's arrays of a finished run."""
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "model.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    return metrics, arrays


def assert_same_run(folder, reference):
    """Histories ==, test metrics ==, every model array np.array_equal; only timings may differ."""
    metrics, arrays = files(folder)
    expected_metrics, expected_arrays = files(reference)
    for key in ("history", "learning_rates", "test_loss", "test_accuracy", "confusion_matrix",
                "status", "epochs_completed", "best_epoch"):
        assert metrics.get(key) == expected_metrics.get(key), key
    assert arrays.keys() == expected_arrays.keys()
    for key in arrays:
        assert np.array_equal(arrays[key], expected_arrays[key]), key


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return make_mnist_like(folder / "mnist.npz", n_train=600, n_test=100)


@pytest.fixture(scope="module")
def noisy_data(tmp_path_factory):
    """Digits with 30% of the labels random: a network overfits them within ten epochs."""
    folder = tmp_path_factory.mktemp("data")
    return make_mnist_like(folder / "noisy.npz", n_train=600, n_test=100, label_noise=0.3)


def patient_run(data, out):
    return (*RUN, "--mnist_path", data, "--output_dir", out, "--epochs", "40", "--patience", "2",
            "--learning_rate", "0.01")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data, noisy_data):
    """The uninterrupted runs every resumed one must equal."""
    import Main
    folder = tmp_path_factory.mktemp("reference")
    assert Main.main([*RUN, "--mnist_path", str(data), "--output_dir", str(folder / "plain")]) == 0
    assert Main.main([str(arg) for arg in patient_run(noisy_data, folder / "patient")]) == 0
    assert Main.main(["--datasets", "mnist", "iris", "--epochs", "4", "--hidden_layers", "[16]",
                      "--mnist_path", str(data), "--output_dir", str(folder / "both")]) == 0
    return folder


@pytest.mark.slow
def test_killed_while_writing_a_checkpoint_resumes_bit_for_bit(tmp_path, data, reference):
    out = tmp_path / "out"
    kill_at("checkpoint:3", *RUN, "--mnist_path", data, "--output_dir", out)
    folder = out / "mnist"
    # What survived: the checkpoint of epoch 2, whole, and the records of epochs 1 and 2.
    values, _ = checkpoint.read_checkpoint(folder / "checkpoint.npz")
    assert values["epoch"] == 2
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "running" and metrics["epochs_completed"] == 2
    rows = (folder / "history.csv").read_text().splitlines()
    assert rows[0] == ",".join(HISTORY_COLUMNS) and len(rows) == 3
    assert [float(row.split(",")[1]) for row in rows[1:]] == metrics["history"]["train_loss"]

    result = run_main(*RUN, "--mnist_path", data, "--output_dir", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch 2" in result.stdout and "epoch 1/5" not in result.stdout
    assert_same_run(folder, reference / "plain" / "mnist")
    assert not (folder / "checkpoint.npz").exists()  # a finished run removes it
    assert [name for name in os.listdir(folder) if name.endswith(".tmp")] == []
    assert len((folder / "history.csv").read_text().splitlines()) == 6


@pytest.mark.slow
def test_killed_during_an_epoch_resumes_bit_for_bit(tmp_path, data, reference):
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, MAIN, *RUN, "--mnist_path", str(data),
                                "--output_dir", str(out)], stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "epoch 2/5" in line:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    result = run_main(*RUN, "--mnist_path", data, "--output_dir", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_run(out / "mnist", reference / "plain" / "mnist")


@pytest.mark.slow
def test_a_finished_data_set_is_skipped_and_the_unfinished_one_resumed(tmp_path, data, reference):
    out = tmp_path / "out"
    both = ("--datasets", "mnist", "iris", "--epochs", "4", "--hidden_layers", "[16]",
            "--mnist_path", data, "--output_dir", out)
    kill_at("checkpoint:2:iris", *both)
    mnist_files = {name: (out / "mnist" / name).read_bytes() for name in os.listdir(out / "mnist")}
    result = run_main(*both, "--resume")
    assert result.returncode == 0, result.stderr
    assert "MNIST: finished before" in result.stdout and "Iris: resuming after epoch 1" in result.stdout
    assert {name: (out / "mnist" / name).read_bytes() for name in os.listdir(out / "mnist")} == mnist_files
    assert_same_run(out / "iris", reference / "both" / "iris")


def test_early_stopping_keeps_the_best_epoch(reference):
    metrics, _ = files(reference / "patient" / "mnist")
    val_loss = metrics["history"]["val_loss"]
    best = metrics["best_epoch"]
    assert metrics["status"] == "stopped_early" and metrics["patience"] == 2
    assert len(val_loss) == best + 2 < 40
    assert val_loss[best - 1] == min(val_loss)
    # The saved weights are the best epoch's: they score its validation loss again.
    from Model import one_hot
    from mlp.datasets import load_mnist
    from mlp.model_file import load_model
    model, _ = load_model(reference / "patient" / "mnist" / "model.npz")
    dataset = load_mnist(metrics["source"], 0.1, np.random.default_rng(0), np.dtype("float32"))
    loss, _ = model.evaluate(dataset.X_val, one_hot(dataset.y_val, 10))
    assert loss == pytest.approx(val_loss[best - 1], rel=1e-6)


@pytest.mark.slow
def test_early_stopping_survives_a_kill_after_its_best_epoch(tmp_path, noisy_data, reference):
    metrics, _ = files(reference / "patient" / "mnist")
    out = tmp_path / "out"
    patient = patient_run(noisy_data, out)
    kill_at(f"checkpoint:{metrics['best_epoch'] + 2}", *patient)  # the epoch it stops in
    result = run_main(*patient, "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_run(out / "mnist", reference / "patient" / "mnist")


# ------------------------------------------------------------- bad states

def unfinished(tmp_path, data):
    """An output folder whose MNIST run was killed in the checkpoint of epoch 3."""
    out = tmp_path / "out"
    kill_at("checkpoint:3", *RUN, "--mnist_path", data, "--output_dir", out)
    return out


@pytest.mark.parametrize("damage, reason", [
    ("truncate", "not a readable npz"), ("random", "not a readable npz"),
    ("no parameters", "KeyError"), ("other network", "do not fit the network"),
])
def test_a_damaged_checkpoint_is_refused_and_nothing_overwritten(capsys, tmp_path, data, damage, reason):
    out = unfinished(tmp_path, data)
    path = out / "mnist" / "checkpoint.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "random":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        with np.load(path) as archive:
            arrays = dict(archive)
        if damage == "no parameters":
            del arrays["parameters"]
        else:
            arrays["parameters"] = arrays["parameters"][:-1]
        np.savez(path, **arrays)
    before = snapshot(out / "mnist")
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", out, "--resume")
    assert_one_line_error(result, str(path), reason)
    assert snapshot(out / "mnist") == before


@pytest.mark.parametrize("flag, value, reason", [
    ("--learning_rate", "0.01", "0.01, but the run in"),
    ("--hidden_layers", "[32]", "[32], but the run in"),
    ("--batch_size", "8", "8, but the run in"),
    ("--seed", "4", "4, but the run in"),
    ("--activation", "relu", "relu, but the run in"),
])
def test_flags_that_contradict_the_checkpoint_are_refused(capsys, tmp_path, data, flag, value, reason):
    out = unfinished(tmp_path, data)
    before = snapshot(out / "mnist")
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", out, "--resume",
                            flag, value)
    line = assert_one_line_error(result, f"argument {flag}", reason)
    assert "was started with" in line
    assert snapshot(out / "mnist") == before


@pytest.mark.slow
def test_a_finished_run_cannot_be_resumed_with_other_flags(capsys, tmp_path, data, reference):
    out = tmp_path / "out"
    shutil.copytree(reference / "plain", out)
    before = snapshot(out / "mnist")
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", out, "--resume",
                            "--epochs", "8")
    assert_one_line_error(result, "argument --epochs: 8, but the run in", "was started with 5")
    assert snapshot(out / "mnist") == before


def test_another_data_file_contradicts_the_checkpoint(capsys, tmp_path, data):
    out = unfinished(tmp_path, data)
    other = make_mnist_like(tmp_path / "other.npz", n_train=600, n_test=100, seed=5)
    result = run_in_process(capsys, *RUN, "--mnist_path", other, "--output_dir", out, "--resume")
    assert_one_line_error(result, f"{other}: not the data the run in", f"({data}, 550,502 bytes",
                          "pass --mnist_path FILE")


def test_a_fresh_run_does_not_overwrite_an_unfinished_one(capsys, tmp_path, data):
    out = unfinished(tmp_path, data)
    before = snapshot(out / "mnist")
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", out)
    assert_one_line_error(result, "holds an unfinished run (epoch 2 of 5 done)", "--resume")
    assert snapshot(out / "mnist") == before


def test_resume_with_nothing_to_resume(capsys, tmp_path, data):
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", tmp_path, "--resume")
    assert_one_line_error(result, "argument --resume: nothing to resume")
    assert not (tmp_path / "mnist").exists()


def test_resume_into_a_folder_of_another_data_set(capsys, tmp_path, data):
    out = unfinished(tmp_path, data)
    os.rename(out / "mnist", out / "iris")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", out, "--resume")
    assert_one_line_error(result, "argument --resume", "holds a run on data set 'mnist', not 'iris'")


@pytest.mark.parametrize("value", ["0", "-1", "x", "2.5"])
def test_bad_patience(capsys, tmp_path, value):
    result = run_in_process(capsys, "--patience", value, "--mnist_path", tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --patience")


def test_a_full_disk_while_writing_the_checkpoint(capsys, tmp_path, data, monkeypatch):
    """The third checkpoint fails part-way as on a full disk: one line, exit 1, the second intact."""
    real = guarded.write_atomically
    calls = []

    def fill_the_disk(path, write, durable=False, what="could not be written"):
        if str(path).endswith("checkpoint.npz"):
            calls.append(path)
            if len(calls) == 3:
                def half_then_full(stream):
                    stream.write(b"PK\x03\x04 half a checkpoint")
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real(path, half_then_full, durable, what)
        return real(path, write, durable, what)

    monkeypatch.setattr(checkpoint, "write_atomically", fill_the_disk)
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert "checkpoint.npz: could not write the checkpoint after epoch 3 (No space left on device)" in line
    values, _ = checkpoint.read_checkpoint(tmp_path / "mnist" / "checkpoint.npz")
    assert values["epoch"] == 2
    assert [name for name in os.listdir(tmp_path / "mnist") if name.endswith(".tmp")] == []


def test_two_runs_into_one_folder(capsys, tmp_path, data):
    with output_lock(str(tmp_path)):
        result = run_main(*RUN, "--mnist_path", data, "--output_dir", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("is writing to " + str(tmp_path) + "; wait for it to end or "
                                          "choose another --output_dir")
    assert str(os.getpid()) in result.stderr
    assert not (tmp_path / "mnist").exists()


def test_a_dead_runs_lock_is_not_stuck(capsys, tmp_path, data):
    holder = ("import os, signal, sys; sys.path.insert(0, %r); from mlp.guarded import output_lock\n"
              "with output_lock(%r):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
              % (os.path.dirname(MAIN), str(tmp_path)))
    assert subprocess.run([sys.executable, "-c", holder]).returncode == -signal.SIGKILL
    assert (tmp_path / ".lock").exists()
    result = run_in_process(capsys, *RUN, "--epochs", "1", "--mnist_path", data, "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------- the progress line

class Terminal(io.StringIO):
    def isatty(self):
        return True


def progress_output(stream, seconds_per_batch):
    clock = iter(np.arange(0, 1000, seconds_per_batch)).__next__
    progress = PrintProgress(stream, clock=clock)
    run = TrainingRun(None, None, None, epochs=3, batch_size=10, result={}, n_batches=40)
    progress.on_train_begin(run)
    run.epoch = 1
    for _ in range(40):
        progress.on_batch_end(run, 0.5)
    progress.on_epoch_end(run, {"train_loss": 0.5, "train_accuracy": 0.9, "val_loss": 0.6,
                                "val_accuracy": 0.8, "learning_rate": 0.001, "seconds": 4.0})
    return stream.getvalue()


def test_a_long_epoch_on_a_terminal_shows_a_line_updated_in_place():
    text = progress_output(Terminal(), 0.1)  # 40 batches of 0.1 s: 4 s
    updates = [part for part in text.split("\r") if "batch" in part]
    assert updates and "epoch 1/3  batch 20/40  loss 0.5000  2 s left" in updates[0]  # 2 s in, 2 s to go
    assert text.endswith("lr 1.00e-03  4 s\n") and text.count("\n") == 1


def test_no_progress_line_in_a_file_or_for_a_short_epoch():
    assert "\r" not in progress_output(io.StringIO(), 0.1)       # not a terminal
    assert "\r" not in progress_output(Terminal(), 0.01)         # an epoch of 0.4 s


def test_plots_are_redrawn_seldom_enough_to_cost_at_most_their_budget(tmp_path, monkeypatch):
    """Epochs of 1 s and redraws of 0.4 s: the first redraw after PLOT_INTERVAL, the next ones
    no sooner than 0.4 / PLOT_BUDGET = 20 s apart."""
    from mlp.datasets import DATASETS, Dataset
    from mlp.flags import parse_args
    from mlp.records import LiveRecords
    from mlp.run_record import DataSource, RunSettings

    now = [0.0]
    drawn = []

    def draw(*args, **keywords):
        drawn.append(now[0])
        now[0] += 0.4

    monkeypatch.setattr(records, "save_history_plots", draw)
    X, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)
    data = DataSource(kind="csv", title="toy", path="toy.csv", size=0, sha256="", rows=4,
                      split_seed=0, validation_split=0.1, test_fraction=0.2)
    dataset = Dataset(data, X, y, X, y, X, y, ["a", "b"])
    settings = RunSettings.from_flags("iris", parse_args(["--hidden_layers", "[]"]), DATASETS["iris"])
    live = LiveRecords(str(tmp_path), dataset, settings, clock=lambda: now[0])
    result = FitResult()
    run = TrainingRun(None, None, None, epochs=100, batch_size=1, result=result)
    live.on_train_begin(run)
    for epoch in range(1, 101):
        now[0] += 1.0
        run.epoch = epoch
        for key in result.history:
            result.history[key].append(0.5)
        result.learning_rates.append(0.001)
        result.epoch_seconds.append(1.0)
        live.on_epoch_end(run, {})
    assert drawn[0] == pytest.approx(10.0)
    assert all(b - a >= 20.0 for a, b in zip(drawn, drawn[1:]))
    assert 0.4 * len(drawn) / now[0] <= records.PLOT_BUDGET
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 101
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"


@pytest.mark.slow
def test_a_regularised_run_resumes_bit_for_bit(tmp_path, data):
    """Dropout's masks and --augment's shifts come from the run's generator, which the
    checkpoint restores."""
    import Main
    regularised = (*RUN, "--mnist_path", data, "--dropout", "0.3", "--weight_decay", "0.1",
                   "--augment")
    assert Main.main([str(arg) for arg in (*regularised, "--output_dir", tmp_path / "plain")]) == 0
    kill_at("checkpoint:3", *regularised, "--output_dir", tmp_path / "out")
    result = run_main(*regularised, "--output_dir", tmp_path / "out", "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_run(tmp_path / "out" / "mnist", tmp_path / "plain" / "mnist")
