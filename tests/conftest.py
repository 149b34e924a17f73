import os

# One BLAS thread in every test and every process a test starts, set before numpy loads: runs
# that are compared number for number must train at the same thread count (the count changes
# the rounding), and a test must not wait on a measurement. tests/test_threads.py tests the
# measuring itself.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import Main  # noqa: E402
from helpers import IRIS, make_csv, make_mnist_like, run_in_process  # noqa: E402

# The property-based tests' search: "ci" (the default) draws the same examples every run;
# HYPOTHESIS_PROFILE=deep draws ten times as many, new ones each time, for a deeper search.
settings.register_profile("ci", max_examples=60, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=600, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def small_mnist(tmp_path):
    return make_mnist_like(tmp_path / "small_mnist.npz")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One small run on MNIST-like images and on a CSV, shared by the tests of saved models,
    metrics, CSV training and pictures."""
    folder = tmp_path_factory.mktemp("trained")
    mnist = make_mnist_like(folder / "mnist.npz")
    results = folder / "results"
    assert Main.main(["--datasets", "mnist", "--mnist_path", str(mnist), "--epochs", "2",
                      "--hidden_layers", "[32,", "16]", "--batch_size", "8",
                      "--output_dir", str(results)]) == 0
    blobs = make_csv(folder / "blobs.csv")
    assert Main.main(["--csv", str(blobs), "--target", "kind", "--epochs", "20",
                      "--hidden_layers", "[16]", "--output_dir", str(results)]) == 0
    return {"folder": folder, "mnist": mnist, "results": results, "blobs": blobs}


@pytest.fixture
def finished(capsys, tmp_path):
    """An output folder holding a finished short Iris run (helpers.IRIS)."""
    out = tmp_path / "out"
    assert run_in_process(capsys, *IRIS, "--output_dir", out).returncode == 0
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """MNIST-like images for helpers.RUN: 600 training and 100 test images."""
    folder = tmp_path_factory.mktemp("data")
    return make_mnist_like(folder / "mnist.npz", n_train=600, n_test=100)
