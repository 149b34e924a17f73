"""A search over what happens to one output folder across many commands (Hypothesis's stateful
testing): runs, kills at any batch, resumes, damaged or replaced files, other flags, predictions,
and the data file changed, moved or put back between commands.

After every command: its exit status is one Main.py documents, nothing printed a traceback, a
refused command (exit 2) changed nothing in the folder, a run that completed equals the
uninterrupted run of the same flags on the data it recorded, and a --resume of a checkpoint whose
data file changed is refused. With the "ci" profile the search is derandomised and
short; HYPOTHESIS_PROFILE=deep searches ten times as many sequences.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import Main
from helpers import DIE_AT, ROOT, snapshot

EXIT_STATUSES = {0, 1, 2, 130, 143}
FILES = ("checkpoint.npz", "metrics.json", "model.npz", "history.csv", "../.lock")
DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
EPOCHS = st.sampled_from([2, 3])
SEEDS = st.sampled_from([0, 1])


def iris_flags(epochs, seed, data=None):
    return ["--datasets", "iris", "--hidden_layers", "[4]", "--batch_size", "16",
            "--epochs", str(epochs), "--seed", str(seed)] + (["--iris_path", data] if data else [])


def iris_variants():
    """The data files the search puts in the user's place, by name: the shipped iris.data, the
    same rows reversed (another split), and half of them."""
    with open(os.path.join(ROOT, "iris.data"), "rb") as stream:
        original = stream.read()
    rows = [row for row in original.split(b"\n") if row]
    return {"original": original, "reversed": b"\n".join(reversed(rows)) + b"\n",
            "half": b"\n".join(rows[::2]) + b"\n"}


VARIANTS = iris_variants()


def run_main_here(argv):
    """Main.main(argv) in this process: (exit status, stdout, stderr); an exception propagates."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = Main.main([str(arg) for arg in argv])
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


class OneOutputFolder(RuleBasedStateMachine):
    """One user, one --output_dir, commands in any order."""

    references = {}  # (epochs, seed, data's sha256) -> the uninterrupted run's history, shared

    @initialize()
    def make_folder(self):
        self.root = tempfile.mkdtemp(prefix="stateful-")
        self.out = os.path.join(self.root, "out")
        self.killed = None
        self.data = os.path.join(self.root, "flowers.data")  # where the user keeps the data now
        with open(self.data, "wb") as stream:
            stream.write(VARIANTS["original"])

    def teardown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def reference(self, epochs, seed, sha256):
        key = (epochs, seed, sha256)
        if key not in self.references:
            folder = tempfile.mkdtemp(prefix="reference-")
            content = next(content for content in VARIANTS.values()
                           if hashlib.sha256(content).hexdigest() == sha256)
            data = os.path.join(folder, "iris.data")
            with open(data, "wb") as stream:
                stream.write(content)
            status, _, err = run_main_here([*iris_flags(epochs, seed, data), "--output_dir",
                                            folder])
            assert status == 0, err
            with open(os.path.join(folder, "iris", "metrics.json")) as stream:
                self.references[key] = json.load(stream)["history"]
            shutil.rmtree(folder)
        return self.references[key]

    def checkpoint_data(self):
        """The sha256 of the data the folder's checkpoint was made of, or None."""
        path = os.path.join(self.out, "iris", "checkpoint.npz")
        try:
            with np.load(path) as arrays:
                return json.loads(str(arrays["state"]))["record"]["data"]["sha256"]
        except Exception:  # none, or damaged: Main.py says so itself
            return None

    def data_now(self, argv):
        """The sha256 of the file the command names with --iris_path, or None if it has none."""
        path = argv[argv.index("--iris_path") + 1] if "--iris_path" in argv else self.data
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as stream:
            return hashlib.sha256(stream.read()).hexdigest()

    def command(self, argv, epochs=None, seed=None):
        """Run Main.py in this process and check what must hold of every command."""
        before = snapshot(self.root)
        recorded, now = self.checkpoint_data(), self.data_now(argv)
        status, out, err = run_main_here(argv)
        assert status in EXIT_STATUSES, (argv, status, err)
        assert "Traceback" not in out + err, (argv, err)
        if status == 2:
            assert len(err.strip().splitlines()) == 1, (argv, err)
            assert snapshot(self.root) == before, (argv, "a refused command changed files", err)
        if "--resume" in argv and recorded and recorded != now:
            assert status == 2, (argv, "resumed on changed data", out, err)
        metrics_path = os.path.join(self.out, "iris", "metrics.json")
        if status == 0 and epochs is not None and os.path.exists(metrics_path):
            with open(metrics_path) as stream:
                metrics = json.load(stream)
            if metrics.get("status") == "completed":
                expected = self.reference(epochs, seed, metrics["data"]["sha256"])
                assert metrics.get("history") == expected, (argv, out)
        return status

    @rule(epochs=EPOCHS, seed=SEEDS)
    def run(self, epochs, seed):
        self.command([*iris_flags(epochs, seed, self.data), "--output_dir", self.out], epochs, seed)

    @rule(epochs=EPOCHS, seed=SEEDS, name_the_data=st.booleans())
    def resume(self, epochs, seed, name_the_data=True):
        """--resume, naming the data file where it is now, or not (then the recorded one is
        read)."""
        self.command([*iris_flags(epochs, seed, self.data if name_the_data else None),
                      "--output_dir", self.out, "--resume"], epochs, seed)

    @rule(variant=st.sampled_from(sorted(VARIANTS)), move=st.booleans())
    def change_the_data(self, variant, move):
        """The user edits the data file (or puts the original back), or moves it elsewhere."""
        if move and os.path.exists(self.data):
            moved = self.data + ".moved" if not self.data.endswith(".moved") else self.data[:-6]
            os.replace(self.data, moved)
            self.data = moved
        else:
            with open(self.data, "wb") as stream:
                stream.write(VARIANTS[variant])

    @rule(epochs=EPOCHS, seed=SEEDS, variant=st.sampled_from(["reversed", "half", "original"]),
          move=st.booleans(), name_the_data=st.booleans())
    def kill_then_change_the_data_then_resume(self, epochs, seed, variant, move, name_the_data):
        """The sequence that must never train on other data than the checkpoint's: a run killed
        while writing its second checkpoint, its data changed or moved, then --resume."""
        self.kill(epochs, seed, None, resume=False, point="checkpoint:2")
        self.change_the_data(variant, move)
        self.resume(epochs, seed, name_the_data)
        self.killed = None

    @rule(epochs=EPOCHS, seed=SEEDS, batch=st.integers(1, 7 * 3 - 1), resume=st.booleans())
    def kill(self, epochs, seed, batch, resume, point=None):
        """A run (or a resumed one) killed by SIGKILL after its batch-th step, from outside
        (or at point, as die_at.py takes it)."""
        argv = [*iris_flags(epochs, seed, self.data), "--output_dir", self.out] + (
            ["--resume"] if resume else [])
        result = subprocess.run([sys.executable, DIE_AT, point or f"batch:{batch}", *argv],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode in EXIT_STATUSES | {-9}, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        self.killed = (epochs, seed) if result.returncode == -9 else None

    @precondition(lambda self: self.killed)
    @rule()
    def resume_the_killed_run(self):
        """What a user does next, most often: the same command with --resume."""
        epochs, seed = self.killed
        self.resume(epochs, seed)
        self.killed = None

    @rule(name=st.sampled_from(FILES),
          how=st.sampled_from(["truncate", "garbage", "folder", "delete", "json", "swap"]))
    def damage(self, name, how):
        """A file the run owns, damaged or replaced the way a user or a full disk might."""
        path = os.path.join(self.out, "iris", name)
        if not os.path.exists(os.path.dirname(path)):
            return
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif how == "delete" and os.path.exists(path):
            os.remove(path)
        elif how == "folder":
            if os.path.exists(path):
                os.remove(path)
            os.mkdir(path)
        elif how == "truncate" and os.path.exists(path):
            with open(path, "rb+") as stream:
                stream.truncate(os.path.getsize(path) // 2)
        elif how == "garbage":
            with open(path, "wb") as stream:
                stream.write(np.random.default_rng(len(name)).bytes(300))
        elif how == "json":
            with open(path, "w") as stream:
                json.dump({"status": "completed", "epochs": "3"}, stream)
        elif how == "swap":
            other = os.path.join(self.out, "iris",
                                 "model.npz" if name != "model.npz" else "checkpoint.npz")
            if os.path.isfile(other):
                shutil.copy(other, path)

    @rule(epochs=EPOCHS, seed=SEEDS,
          flag=st.sampled_from([["--learning_rate", "0.01"], ["--activation", "tanh"],
                                ["--optimizer", "sgd"], ["--patience", "1"], ["--dropout", "0.2"]]),
          resume=st.booleans())
    def other_flags(self, epochs, seed, flag, resume):
        self.command([*iris_flags(epochs, seed, self.data), *flag, "--output_dir", self.out]
                     + (["--resume"] if resume else []))

    @rule(header=st.booleans())
    def predict(self, header):
        rows = os.path.join(self.root, "rows.csv")
        with open(rows, "w") as stream:
            if header:
                stream.write("petal_width,sepal_length,petal_length,sepal_width\n")
            stream.write("0.2,5.1,1.4,3.5\n2.5,6.3,6.0,3.3\n")
        self.command(["--model", os.path.join(self.out, "iris", "model.npz"), "--predict", rows,
                      "--output_dir", os.path.join(self.root, "predictions")])

    @invariant()
    def no_stray_temporaries_outside_the_run_folder(self):
        if os.path.isdir(self.root):
            assert not [name for name in os.listdir(self.root) if name.endswith(".tmp")]


OneOutputFolder.TestCase.settings = settings(
    settings.default, max_examples=60 if DEEP else 10, stateful_step_count=10 if DEEP else 8,
    deadline=None, derandomize=not DEEP, database=None)
TestOneOutputFolder = OneOutputFolder.TestCase
TestOneOutputFolder.pytestmark = [pytest.mark.slow]   # (commands run for real, ten at a time)
