"""The BLAS thread count: measured before training, or set by --threads, the environment or the
checkpoint of the run being resumed; the same count gives the same numbers."""

import contextlib
import json

import numpy as np
import pytest

from helpers import kill_at, make_mnist_like, run_main, words
from mlp import process
from mlp.optimizers import optimizer_for
from Model import Model, one_hot

SMALL = ("--datasets", "mnist", "--epochs", "3", "--hidden_layers", "[16]")


def test_the_counts_tried_double_up_to_the_cores():
    assert process.candidate_counts(1) == [1]
    assert process.candidate_counts(2) == [1, 2]
    assert process.candidate_counts(6) == [1, 2, 4, 6]
    assert process.candidate_counts(16) == [1, 2, 4, 8, 16]


def test_the_fewest_threads_within_the_margin_of_the_fastest_win():
    assert process.fewest_nearly_fastest({1: 1.00, 2: 0.60, 4: 0.50, 8: 0.49}) == 4
    assert process.fewest_nearly_fastest({1: 0.50, 2: 0.49}) == 1
    assert process.fewest_nearly_fastest({1: 0.90, 2: 0.50, 4: 0.70}) == 2


def test_a_measured_choice_times_every_count_in_turns_and_keeps_the_fastest(monkeypatch):
    for name in process.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(process, "usable_cores", lambda: 4)
    monkeypatch.setattr(process, "blas_threads", lambda: 4)
    limit, timed = [None], []

    @contextlib.contextmanager
    def threadpool_limits(limits, user_api):
        limit[0] = limits
        yield

    def time_batches(step, n_batches):  # no clock: a step that is fastest at 2 threads
        timed.append(limit[0])
        return {1: 1.0e-3, 2: 0.4e-3, 4: 0.6e-3}[limit[0]]

    monkeypatch.setattr(process, "threadpool_limits", threadpool_limits)
    monkeypatch.setattr(process, "time_batches", time_batches)
    built = []
    choice = process.choose_threads(None, None, lambda: built.append(1))
    assert choice.source == "measured" and choice.count == 2 and built == [1]
    assert choice.seconds_per_batch == {1: 1.0e-3, 2: 0.4e-3, 4: 0.6e-3}
    assert timed == [1, 2, 4] * process.TRIAL_ROUNDS
    assert choice.text() == "BLAS threads 2 (measured: 1 1, 2 0.4, 4 0.6 ms a batch)"


def test_time_batches_warms_up_once_then_averages(monkeypatch):
    calls, clock = [], iter([10.0, 12.5])  # read once before the 5 timed calls, once after
    monkeypatch.setattr(process.time, "perf_counter", lambda: next(clock))
    assert process.time_batches(lambda: calls.append(1), 5) == 0.5
    assert len(calls) == 6


def test_a_scratch_step_leaves_the_model_alone():
    rng = np.random.default_rng(0)
    model = Model(6, [5], 3, rng, dropout=0.2)
    before = [p.copy() for p in model.parameters()]
    X = rng.random((40, 6), dtype=np.float32)
    Y = one_hot(rng.integers(0, 3, 40), 3)
    step = process.scratch_step(model, X, Y, 8, lambda twin: optimizer_for(twin, "adam", 0.1))
    for _ in range(3):
        step()
    assert all(np.array_equal(p, b) for p, b in zip(model.parameters(), before))


@pytest.mark.parametrize("requested, saved, environment, expected", [
    (3, 2, {"OMP_NUM_THREADS": "5"}, (3, "--threads")),
    (None, 2, {"OMP_NUM_THREADS": "5"}, (2, "checkpoint")),
    (None, None, {"OMP_NUM_THREADS": "5,2"}, (5, "OMP_NUM_THREADS")),
])
def test_a_count_given_is_used_as_given(monkeypatch, requested, saved, environment, expected):
    for name in process.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    choice = process.choose_threads(requested, saved, make_step=None)
    assert (choice.count, choice.source) == expected and choice.seconds_per_batch == {}


def test_the_count_is_recorded_and_a_resumed_run_keeps_its_checkpoints(tmp_path):
    data = make_mnist_like(tmp_path / "m.npz", n_train=300, n_test=50)
    kill_at("checkpoint:2", *SMALL, "--mnist_path", data, "--output_dir", tmp_path,
            env={"OPENBLAS_NUM_THREADS": "2"})
    result = run_main(*SMALL, "--mnist_path", data, "--output_dir", tmp_path, "--resume",
                      env={"OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "BLAS threads 2 (checkpoint)" in words(result.stdout)
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    assert metrics["blas_threads"] == 2 and metrics["threads"] is None
    assert metrics["blas_threads_source"] == "checkpoint"


def test_the_same_seed_and_count_give_the_same_history(tmp_path):
    data = make_mnist_like(tmp_path / "m.npz", n_train=300, n_test=50)
    histories = []
    for run in ("a", "b"):
        assert run_main(*SMALL, "--mnist_path", data, "--threads", "2",
                        "--output_dir", tmp_path / run).returncode == 0
        metrics = json.loads((tmp_path / run / "mnist" / "metrics.json").read_text())
        histories.append(metrics["history"])
    assert histories[0] == histories[1]
