import glob
import os
import pwd
import shutil
import subprocess
import tempfile

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


def postgres_programs():
    """(initdb, pg_ctl) of PostgreSQL: on the PATH, or where Debian's packages put them."""
    for folder in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        initdb, pg_ctl = (shutil.which(name, path=folder) for name in ("initdb", "pg_ctl"))
        if initdb and pg_ctl:
            return initdb, pg_ctl
    return None


@pytest.fixture(scope="session")
def postgres():
    """The URL of a throwaway PostgreSQL server, started once for the session on a socket in a
    temporary folder (no TCP port) and removed after. PostgreSQL refuses to run as root: as
    root it runs as the postgres user."""
    programs = postgres_programs()
    if programs is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (.ci/run installs them)")
    initdb, pg_ctl = programs
    folder = tempfile.mkdtemp(prefix="pg-")  # short: a socket's path has at most 107 bytes
    as_user = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")
    subprocess.run([*as_user, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, pg_ctl, "-D", data, "-l", os.path.join(folder, "log"), "-w", "-o",
                    f"-k {folder} -c listen_addresses='' -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={folder}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
