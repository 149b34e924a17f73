"""Faults a run cannot prevent: a write that fails (full disk, read-only file or folder, no
permission, an I/O error) or standard output that goes away. Each ends in one line and exit
status 1, every file finished before is intact, and --resume then ends where an uninterrupted
run does. Hypothesis searches make the Nth write, and the Nth printed line, of a short run fail
with each errno."""

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import MAIN, run_in_process, words
from mlp import files
from mlp.checkpoint import read_checkpoint

FLAGS = ["--datasets", "iris", "--hidden_layers", "[4]", "--batch_size", "16", "--epochs", "3"]
ERRNOS = [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO]


class FailingWrites:
    """Stands in for the os module and open() inside mlp.files: the Nth write (a rename into
    place, an append, a folder made) raises OSError(code), as the system would."""

    def __init__(self, nth, code):
        self.nth, self.code, self.count = nth, code, 0

    def _write(self, path):
        self.count += 1
        if self.count == self.nth:
            raise OSError(self.code, os.strerror(self.code), str(path))

    def __getattr__(self, name):  # everything else is the real os
        return getattr(os, name)

    def replace(self, source, target):
        self._write(target)
        return os.replace(source, target)

    def makedirs(self, path, exist_ok=False):
        self._write(path)
        return os.makedirs(path, exist_ok=exist_ok)

    def open_file(self, path, mode="r", **keywords):  # stands in for the built-in open()
        if "a" in mode and not str(path).endswith(files.LOCK):
            self._write(path)
        return open(path, mode, **keywords)


def reference_history(capsys):
    if not hasattr(reference_history, "history"):
        folder = tempfile.mkdtemp(prefix="faults-reference-")
        assert run_in_process(capsys, *FLAGS, "--output_dir", folder).returncode == 0
        with open(os.path.join(folder, "iris", "metrics.json")) as stream:
            reference_history.history = json.load(stream)["history"]
        shutil.rmtree(folder)
    return reference_history.history


def intact(folder):
    """Every file the run left reads as a whole file: the checkpoint, metrics.json, history.csv."""
    if os.path.exists(os.path.join(folder, "checkpoint.npz")):
        read_checkpoint(os.path.join(folder, "checkpoint.npz"))
    if os.path.exists(os.path.join(folder, "metrics.json")):
        with open(os.path.join(folder, "metrics.json")) as stream:
            json.load(stream)
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def nothing_lost_and_resume_completes(capsys, out):
    """After a fault: every file left in out reads whole, and once the fault is gone --resume
    (or a new run, when no epoch was kept) ends with the numbers of a run that never failed."""
    folder = os.path.join(out, "iris")
    if os.path.isdir(folder):
        intact(folder)
    resumed = run_in_process(capsys, *FLAGS, "--output_dir", out, "--resume")
    if resumed.returncode == 2 and "nothing to resume" in resumed.stderr:
        resumed = run_in_process(capsys, *FLAGS, "--output_dir", out)
    assert resumed.returncode == 0, resumed.stderr
    with open(os.path.join(folder, "metrics.json")) as stream:
        assert json.load(stream)["history"] == reference_history(capsys)


@pytest.mark.slow
@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nth=st.integers(1, 60), code=st.sampled_from(ERRNOS))
def test_the_nth_write_fails(capsys, monkeypatch, nth, code):
    out = tempfile.mkdtemp(prefix="faults-")
    try:
        failing = FailingWrites(nth, code)
        with monkeypatch.context() as patch:
            patch.setattr(files, "os", failing)
            patch.setattr(files, "open", failing.open_file, raising=False)
            result = run_in_process(capsys, *FLAGS, "--output_dir", out)
        if failing.count < nth:  # the run made fewer writes: nothing failed
            assert result.returncode == 0
            return
        assert result.returncode == 1, (result.returncode, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Main.py: error: ") and os.strerror(code) in line, line
        nothing_lost_and_resume_completes(capsys, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


class FailingOutput(io.StringIO):
    """Stands in for standard output: the Nth line printed raises OSError(code), as a pipe
    whose reader went away (EPIPE) or a terminal on a failing device would."""

    def __init__(self, nth, code):
        super().__init__()
        self.nth, self.code, self.count = nth, code, 0

    def write(self, text):
        self.count += 1
        if self.count >= self.nth:  # once gone, it stays gone
            raise OSError(self.code, os.strerror(self.code))
        return super().write(text)


@pytest.mark.slow
@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nth=st.integers(1, 16), code=st.sampled_from([errno.EPIPE, errno.ENOSPC, errno.EIO]))
def test_the_nth_print_fails(capsys, monkeypatch, nth, code):
    out = tempfile.mkdtemp(prefix="faults-print-")
    try:
        failing = FailingOutput(nth, code)
        with monkeypatch.context() as patch:
            patch.setattr(sys, "stdout", failing)
            result = run_in_process(capsys, *FLAGS, "--output_dir", out)
        if failing.count < nth:  # the run printed fewer lines: nothing failed
            assert result.returncode == 0
            return
        assert result.returncode == 1, (result.returncode, result.stderr)
        assert result.stderr == (f"Main.py: error: standard output: could not be written "
                                 f"({os.strerror(code)}); every file finished before is intact\n")
        nothing_lost_and_resume_completes(capsys, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


@settings(max_examples=3, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.sampled_from([0, 40, 400, 2000]))
def test_standard_output_that_goes_away(tmp_path_factory, keep):
    """A reader that stops after keep bytes (python Main.py ... | head -c keep): the run ends
    quietly or in one line, with no traceback."""
    out = tmp_path_factory.mktemp("pipe")
    run = subprocess.Popen([sys.executable, MAIN, *FLAGS, "--output_dir", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.read(keep)
    run.stdout.close()
    stderr = run.stderr.read().decode()
    assert run.wait(timeout=120) in (0, 1)
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 1, stderr


def test_standard_output_closed_or_full(tmp_path):
    closed = subprocess.run(f"{sys.executable} {MAIN} {' '.join(FLAGS)} --output_dir "
                            f"{tmp_path / 'a'} >&-", shell=True, capture_output=True, text=True)
    assert closed.returncode == 0 and closed.stderr == ""
    assert os.path.exists(tmp_path / "a" / "iris" / "model.npz")
    full = subprocess.run(f"{sys.executable} {MAIN} {' '.join(FLAGS)} --output_dir "
                          f"{tmp_path / 'b'} > /dev/full", shell=True, capture_output=True,
                          text=True)
    assert full.returncode == 1
    assert full.stderr == ("Main.py: error: standard output: could not be written (No space "
                           "left on device); every file finished before is intact\n")


# ------------------------------------------------- odd environments and states, one line each

def test_odd_environments_and_flags(tmp_path, capsys):
    from helpers import assert_one_line_error, run_main

    result = run_main(*FLAGS, "--output_dir", tmp_path / "a", env={"MPLBACKEND": "nonsense",
                                                                  "TERM": "dumb"})
    assert result.returncode == 0 and "\x1b" not in result.stdout, result.stderr
    assert not os.path.exists(tmp_path / "a" / files.LOCK)  # the lock goes with the run
    assert_one_line_error(run_in_process(capsys, *FLAGS, "--output_dir", ""),
                          "argument --output_dir: empty")
    result = run_in_process(capsys, *FLAGS, "--threads", "10000", "--output_dir", tmp_path / "b")
    with open(tmp_path / "b" / "iris" / "metrics.json") as stream:
        threads = json.load(stream)["blas_threads"]
    assert threads < 10000
    assert f"BLAS threads {threads} (--threads 10000: the most" in words(result.stdout)


def test_augment_on_flat_images_and_predicting_with_a_model_of_them(tmp_path, capsys):
    import numpy as np

    from helpers import assert_one_line_error, make_mnist_like

    path = make_mnist_like(tmp_path / "m.npz", n_train=200, n_test=40)
    with np.load(path) as arrays:
        flat = {key: array.reshape(len(array), -1) if key.startswith("x") else array
                for key, array in arrays.items()}
    np.savez(path, **flat)
    mnist = ["--datasets", "mnist", "--mnist_path", path, "--epochs", "1", "--hidden_layers", "[8]"]
    result = run_in_process(capsys, *mnist, "--augment", "--output_dir", tmp_path / "a")
    assert_one_line_error(result, "argument --augment:", "holds its images flat, 784 pixels a row")
    assert not (tmp_path / "a").exists()
    assert run_in_process(capsys, *mnist, "--output_dir", tmp_path / "b").returncode == 0
    result = run_in_process(capsys, "--model", tmp_path / "b" / "mnist" / "model.npz", "--predict",
                            path, "--output_dir", tmp_path / "p")
    assert result.returncode == 0 and result.stdout.startswith("40 rows of"), result.stderr


def test_a_second_run_is_told_of_the_first_before_anything_else(tmp_path, capsys, monkeypatch):
    from helpers import assert_one_line_error, kill_at

    kill_at("checkpoint:2", *FLAGS, "--output_dir", tmp_path)  # an unfinished run in the folder
    with files.OutputLock(str(tmp_path)):  # ... and a live one writing to it
        result = run_in_process(capsys, *FLAGS, "--output_dir", tmp_path)
    assert_one_line_error(result, "another run (process", "is writing to")
