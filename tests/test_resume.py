"""Nothing lost when a run dies: Ctrl-C and SIGTERM, the checkpoint, --resume bit for bit (and
checkpoints or flags that contradict it refused), early stopping, the live records."""

import contextlib
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
from hypothesis import given, settings
from hypothesis import strategies as st

import Main
from helpers import (
    IRIS,
    MAIN,
    RUN,
    assert_one_line_error,
    kill_at,
    make_mnist_like,
    npz,
    png_size,
    run_in_process,
    run_main,
    snapshot,
)
from mlp import callbacks, checkpoint
from mlp import files as file_module
from mlp.checkpoint import read_checkpoint
from mlp.errors import DataError
from mlp.report import HISTORY_COLUMNS


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
    for key in arrays.keys() - {"record"}:
        assert np.array_equal(arrays[key], expected_arrays[key]), key
    untimed = [{key: value for key, value in json.loads(str(record)).items()
                if "seconds" not in key and "blas_threads" not in key}
               for record in (arrays["record"], expected_arrays["record"])]
    assert untimed[0] == untimed[1]  # the model file's record too


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
    values, _, _ = checkpoint.read_checkpoint(folder / "checkpoint.npz")
    assert values["epoch"] == 2
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "running" and metrics["epochs_completed"] == 2
    rows = (folder / "history.csv").read_text().splitlines()
    assert rows[0] == ",".join(HISTORY_COLUMNS) and len(rows) == 3
    assert [float(row.split(",")[1]) for row in rows[1:]] == metrics["history"]["loss"]

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
    assert ("MNIST: finished before" in result.stdout
            and "Iris: resuming after epoch 1" in result.stdout)
    assert {name: (out / "mnist" / name).read_bytes()
            for name in os.listdir(out / "mnist")} == mnist_files
    assert_same_run(out / "iris", reference / "both" / "iris")


def test_early_stopping_keeps_the_best_epoch(reference):
    metrics, _ = files(reference / "patient" / "mnist")
    val_loss = metrics["history"]["val_loss"]
    best = metrics["best_epoch"]
    assert metrics["status"] == "stopped_early" and metrics["patience"] == 2
    assert len(val_loss) == best + 2 < 40
    assert val_loss[best - 1] == min(val_loss)
    # The saved weights are the best epoch's: they score its validation loss again.
    from mlp.datasets import load_mnist
    from mlp.saved_models import load_model
    from Model import one_hot
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
def test_a_damaged_checkpoint_is_refused_and_nothing_overwritten(capsys, tmp_path, data, damage,
                                                                 reason):
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
def test_flags_that_contradict_the_checkpoint_are_refused(capsys, tmp_path, data, flag, value,
                                                          reason):
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
    result = run_in_process(capsys, *RUN, "--mnist_path", data, "--output_dir", tmp_path,
                            "--resume")
    assert_one_line_error(result, "argument --resume: nothing to resume")
    assert not (tmp_path / "mnist").exists()
    both = run_in_process(capsys, *RUN[2:], "--datasets", "mnist", "iris", "--mnist_path", data,
                          "--output_dir", tmp_path, "--resume")
    assert_one_line_error(both, f"argument --resume: nothing to resume: no checkpoint.npz and no "
                                f"finished run in {tmp_path / 'mnist'} or {tmp_path / 'iris'}; "
                                f"run without --resume to start")


def test_resume_into_a_folder_of_another_data_set(capsys, tmp_path, data):
    out = unfinished(tmp_path, data)
    os.rename(out / "mnist", out / "iris")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", out, "--resume")
    assert_one_line_error(result, "argument --resume",
                          "holds a run on data set 'mnist', not 'iris'")


@pytest.mark.parametrize("value", ["0", "-1", "x", "2.5"])
def test_bad_patience(capsys, tmp_path, value):
    result = run_in_process(capsys, "--patience", value, "--mnist_path", tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --patience")


def test_a_full_disk_while_writing_the_checkpoint(capsys, tmp_path, data, monkeypatch):
    """The third checkpoint fails part-way as on a full disk: one line, exit 1, the second
    intact."""
    real = file_module.write_atomically
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
    assert ("checkpoint.npz: could not write the checkpoint after epoch 3 (No space left on "
            "device)") in line
    values, _, _ = checkpoint.read_checkpoint(tmp_path / "mnist" / "checkpoint.npz")
    assert values["epoch"] == 2
    assert [name for name in os.listdir(tmp_path / "mnist") if name.endswith(".tmp")] == []


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


def test_a_checkpoint_whose_state_is_not_an_object(tmp_path):
    # AttributeError: 'list' object has no attribute 'get'.
    path = npz(tmp_path / "checkpoint.npz", state=np.array(json.dumps([1, 2])),
               parameters=np.zeros(3, np.float32))
    with pytest.raises(DataError, match="a damaged checkpoint"):
        read_checkpoint(path)


def start_long_run(tmp_path, small_mnist):
    process = subprocess.Popen(
        [sys.executable, MAIN, "--datasets", "mnist", "iris", "--epochs", "100000",
         "--hidden_layers", "[64]", "--mnist_path", str(small_mnist), "--output_dir",
         str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait until two epochs are done
        if "epoch      2/100000" in line:
            return process
    raise AssertionError("training never printed its second epoch: " + process.stderr.read())


@pytest.mark.slow
@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                                   (signal.SIGHUP, 129)])
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


@pytest.fixture
def unfinished_iris(tmp_path):
    """An output folder whose Iris run (4 epochs) was killed after its second epoch's checkpoint."""
    out = tmp_path / "out"
    kill_at("checkpoint:3", "--datasets", "iris", "--epochs", "4", "--hidden_layers", "[4]",
            "--output_dir", out)
    return out


def rewrite_state(path, change):
    with np.load(path) as archive:
        arrays = dict(archive)
    state = json.loads(str(arrays["state"]))
    change(state)
    arrays["state"] = np.array(json.dumps(state))
    np.savez(path, **arrays)


def test_a_refused_resume_creates_nothing(capsys, tmp_path):
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path / "new", "--resume")
    assert_one_line_error(result, "argument --resume: nothing to resume")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("change, reason", [
    (lambda state: state["record"]["history"].pop("val_loss"), "field 'history.val_loss' is null"),
    (lambda state: state.update(record=["not", "a", "dict"]), "not a JSON object"),
    (lambda state: state.update(epoch="2"), "epoch '2'; expected a whole number from 1 to 4"),
    (lambda state: state.update(epoch=9), "epoch 9; expected a whole number from 1 to 4"),
    (lambda state: state.update(epoch=1),
     "epoch 1; expected a whole number from 1 to 4, the epochs its history holds"),
    (lambda state: state["record"].update(learning_rates=[0.001]),
     "field 'learning_rates' is [0.001]; expected a list of 2 numbers"),
    (lambda state: state["record"]["history"].update(val_loss=["x", "y"]),
     "field 'history.val_loss' is [\"x\", \"y\"]; expected a list of 2 numbers"),
    (lambda state: state["record"].update(seed=-1), "field 'seed' is -1; expected a whole number"),
    (lambda state: state["record"]["data"].update(sha256=7), "field 'data.sha256' is 7"),
    (lambda state: state["rng"].update(state="x"), "a damaged checkpoint"),
])
def test_a_checkpoint_holding_the_wrong_things_is_refused(capsys, unfinished_iris, change, reason):
    path = unfinished_iris / "iris" / "checkpoint.npz"
    rewrite_state(path, change)
    before = snapshot(unfinished_iris)
    result = run_in_process(capsys, "--datasets", "iris", "--epochs", "4", "--hidden_layers", "[4]",
                            "--output_dir", unfinished_iris, "--resume")
    assert_one_line_error(result, str(path), reason)
    assert snapshot(unfinished_iris) == before


def test_resume_of_a_diverged_run_says_so_and_exits_1(capsys, tmp_path):
    argv = (*IRIS, "--learning_rate", "1000", "--weight_decay", "0", "--output_dir", tmp_path)
    assert run_in_process(capsys, *argv).returncode == 1
    before = snapshot(tmp_path / "iris")
    result = run_in_process(capsys, *argv, "--resume")
    assert result.returncode == 1
    assert "Iris: finished before (diverged)" in result.stdout
    assert snapshot(tmp_path / "iris") == before


# ------------------------------------------------------------ a stop at any moment

class StopAt(callbacks.Callback):
    """Sends this process SIGINT at one moment of a run: at its start ("begin"), after its Nth
    training step ("batch", N), or at the end of epoch N ("epoch", N). Put in from outside, as
    tests/die_at.py does: the product knows nothing of it."""

    def __init__(self, moment, number):
        self.moment, self.number, self.steps = moment, number, 0

    def send(self):
        os.kill(os.getpid(), signal.SIGINT)

    def on_train_begin(self, run):
        if self.moment == "begin":
            self.send()

    def on_batch_end(self, run, batch_loss):
        self.steps += 1
        if self.moment == "batch" and self.steps == self.number:
            self.send()

    def on_epoch_end(self, run, logs):
        if self.moment == "epoch" and run.epoch == self.number:
            self.send()


@contextlib.contextmanager
def stop_at_moment(stop_at):
    """Within it, every run's StopOnRequest (the last of its callbacks) calls stop_at first."""
    cls = callbacks.StopOnRequest
    names = ("on_train_begin", "on_batch_end", "on_epoch_end")
    own = {name: cls.__dict__.get(name) for name in names}

    def calling_stop_at_first(name):
        method = getattr(cls, name)

        def both(self, run, *rest):
            getattr(stop_at, name)(run, *rest)
            return method(self, run, *rest)
        return both

    for name in names:
        setattr(cls, name, calling_stop_at_first(name))
    try:
        yield
    finally:
        for name, method in own.items():
            if method is None:
                delattr(cls, name)
            else:
                setattr(cls, name, method)


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    return make_mnist_like(tmp_path_factory.mktemp("tiny") / "mnist.npz", n_train=200, n_test=50)


# Batches in an epoch of each run below: Iris's 108 training rows one at a time, and 180 of
# the 200 images 16 at a time.
BATCHES = {"iris": 108, "mnist": 12}


@pytest.mark.slow
@settings(max_examples=10)
@given(kind=st.sampled_from(["iris", "mnist"]),
       moment=st.one_of(st.just(("begin", 0)), st.tuples(st.just("epoch"), st.integers(1, 2)),
                        st.tuples(st.just("batch"), st.integers(1, 3 * 108))))
def test_a_stop_at_any_moment_is_one_line_and_keeps_the_finished_epochs(
        tmp_path_factory, tiny_mnist, kind, moment):
    name, number = moment
    if name == "batch":
        number = 1 + (number - 1) % (3 * BATCHES[kind])
    stop_at = StopAt(name, number)
    out = tmp_path_factory.mktemp("stopped")
    flags = ["--datasets", kind, "--epochs", "3", "--hidden_layers", "[8]", "--output_dir", out,
             *(["--mnist_path", tiny_mnist, "--batch_size", "16"] if kind == "mnist" else [])]
    stdout, stderr = io.StringIO(), io.StringIO()
    with stop_at_moment(stop_at), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        status = Main.main([str(flag) for flag in flags])
    assert status == 130
    assert stderr.getvalue().split() == "SIGINT: stopping after this batch (press Ctrl-C again "\
        "to quit at once)".split()
    assert "Traceback" not in stdout.getvalue()
    with open(out / kind / "metrics.json", encoding="utf-8") as stream:
        metrics = json.load(stream)
    expected = {"begin": 0, "epoch": number, "batch": (number - 1) // BATCHES[kind]}[name]
    assert metrics["status"] == "interrupted"
    assert metrics["epochs_completed"] == expected
    assert len(metrics["history"]["val_loss"]) == expected
    assert (out / kind / "checkpoint.npz").exists() == (expected > 0)


def test_a_signal_after_the_last_epoch_stops_nothing(tmp_path):
    # As when a search's pruner stops a trial at the moment the search is stopped: the run has
    # ended as it would have, so it says so (exit 0, its status), and nothing is left to resume.
    out = tmp_path / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with stop_at_moment(StopAt("epoch", 3)), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        status = Main.main(["--datasets", "iris", "--epochs", "3", "--hidden_layers", "[8]",
                            "--output_dir", str(out)])
    assert status == 0 and "SIGINT" in stderr.getvalue()
    metrics = json.loads((out / "iris" / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 3
    assert "--resume" not in stdout.getvalue()
