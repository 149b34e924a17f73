"""What a run writes and prints: files replaced atomically, the paths it will write checked
before it starts, the lock on the output folder, the progress line, and how often plots are
redrawn."""

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from helpers import (
    IRIS,
    MAIN,
    RUN,
    assert_one_line_error,
    make_csv,
    run_in_process,
    run_main,
    snapshot,
)
from mlp import files, report
from mlp.callbacks import PrintProgress
from mlp.files import OutputLock
from Model import FitResult, TrainingRun


def test_files_are_replaced_atomically(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("the old, complete file\n")

    def write_half_then_fail(stream):
        stream.write(b'{"half": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        files.write_atomically(str(target), write_half_then_fail)
    assert target.read_text() == "the old, complete file\n"
    assert os.listdir(tmp_path) == ["metrics.json"]
    files.write_atomically(str(target), lambda stream: stream.write(b"new\n"))
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["metrics.json"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~files.current_umask()


def test_a_data_set_folder_that_is_a_file(capsys, tmp_path):
    (tmp_path / "iris").write_text("my notes\n")
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", f"{tmp_path / 'iris'} is a file")
    assert snapshot(tmp_path) == {"iris": b"my notes\n"}


def test_a_file_the_run_writes_that_is_a_folder(capsys, tmp_path):
    (tmp_path / "iris" / "model.npz").mkdir(parents=True)
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", "model.npz is a folder")
    assert sorted(os.listdir(tmp_path / "iris")) == ["model.npz"]


def test_results_that_would_land_on_the_data_file(capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    make_csv(data / "wine.data")
    before = snapshot(data)
    result = run_in_process(capsys, "--csv", data / "wine.data", "--target", "kind",
                            "--output_dir", data)
    assert_one_line_error(result, "argument --output_dir", "is that data file itself")
    assert snapshot(data) == before


def test_predictions_that_would_land_on_a_folder_or_the_rows(capsys, finished, tmp_path):
    model = finished / "iris" / "model.npz"
    rows = tmp_path / "predictions.csv"
    rows.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", "over", "the --predict file")
    (tmp_path / "out2" / "predictions.csv").mkdir(parents=True)
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir",
                            tmp_path / "out2")
    assert_one_line_error(result, "predictions.csv is a folder")


def test_a_lock_that_is_a_folder(capsys, tmp_path):
    (tmp_path / ".lock").mkdir()
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", ".lock, the lock", "is not a file")
    assert sorted(os.listdir(tmp_path)) == [".lock"]


def test_an_output_dir_that_links_nowhere(capsys, tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    for output_dir in (tmp_path / "out", tmp_path / "out" / "deeper"):
        result = run_in_process(capsys, *IRIS, "--output_dir", output_dir)
        assert_one_line_error(result, "argument --output_dir", "which does not exist")
    assert not (tmp_path / "gone").exists()


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
    progress.on_epoch_end(run, {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6,
                                "val_accuracy": 0.8, "learning_rate": 0.001, "seconds": 4.0})
    return stream.getvalue()


def test_two_runs_into_one_folder(capsys, tmp_path, data):
    with OutputLock(str(tmp_path)):
        result = run_main(*RUN, "--mnist_path", data, "--output_dir", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        "is writing to " + str(tmp_path) + "; wait for it to end or choose another --output_dir")
    assert str(os.getpid()) in result.stderr
    assert not (tmp_path / "mnist").exists()


def test_a_dead_runs_lock_is_not_stuck(capsys, tmp_path, data):
    holder = ("import os, signal, sys; sys.path.insert(0, %r); from mlp.files import OutputLock\n"
              "with OutputLock(%r):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
              % (os.path.dirname(MAIN), str(tmp_path)))
    assert subprocess.run([sys.executable, "-c", holder]).returncode == -signal.SIGKILL
    assert (tmp_path / ".lock").exists()
    result = run_in_process(capsys, *RUN, "--epochs", "1", "--mnist_path", data, "--output_dir",
                            tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_long_epoch_on_a_terminal_shows_a_line_updated_in_place():
    text = progress_output(Terminal(), 0.1)  # 40 batches of 0.1 s: 4 s
    updates = [part for part in text.split("\r") if "batch" in part]
    # 2 s in, 2 s to go
    assert updates and "epoch 1/3  batch 20/40  loss 0.5000  2 s left" in updates[0]
    assert text.endswith("lr 1.00e-03  4 s\n") and text.count("\n") == 1


def test_no_progress_line_in_a_file_or_for_a_short_epoch():
    assert "\r" not in progress_output(io.StringIO(), 0.1)       # not a terminal
    assert "\r" not in progress_output(Terminal(), 0.01)         # an epoch of 0.4 s


def test_plots_are_redrawn_seldom_enough_to_cost_at_most_their_budget(tmp_path, monkeypatch):
    """Epochs of 1 s and redraws of 0.4 s: the first redraw after PLOT_INTERVAL, the next ones
    no sooner than 0.4 / PLOT_BUDGET = 20 s apart."""
    from mlp.datasets import DATASETS, Dataset
    from mlp.flags import parse_args
    from mlp.record import DataSource, RunSettings
    from mlp.report import LiveRecords

    now = [0.0]
    drawn = []

    def draw(*args, **keywords):
        drawn.append(now[0])
        now[0] += 0.4

    monkeypatch.setattr(report, "save_history_plots", draw)
    X, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)
    data = DataSource(kind="csv", title="toy", path="toy.csv", size=0, sha256="", rows=4,
                      split_seed=0, validation_split=0.1, test_fraction=0.2)
    dataset = Dataset(data, X, y, X, y, X, y, ["a", "b"])
    settings = RunSettings.from_flags("iris", parse_args(["--hidden_layers", "[]"]).training,
                                      DATASETS["iris"], None)
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
    assert 0.4 * len(drawn) / now[0] <= report.PLOT_BUDGET
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 101
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"
