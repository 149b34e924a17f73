import os

# One BLAS thread in every test and every process a test starts, set before numpy loads: runs
# that are compared number for number must train at the same thread count (the count changes
# the rounding), and a test must not wait on a measurement. tests/test_threads.py tests the
# measuring itself.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from helpers import make_mnist_like  # noqa: E402

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
