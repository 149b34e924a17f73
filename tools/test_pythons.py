"""Install the project and run its tests on every Python this machine has, one line each.

For each interpreter pyenv knows (3.10 and newer), or each given with --pythons:
make a virtual environment in a temporary folder, pip install -r requirements.txt,
and run the README's test command (python -m pytest) with MNIST in a Keras cache of
its own, as CI does. --without-tensorflow installs Keras and jax instead of
TensorFlow (what Python 3.14 gets), to exercise that path on these interpreters.

    python tools/test_pythons.py
    python tools/test_pythons.py --without-tensorflow --pythons 3.11 3.13
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist.npz")


def interpreters(wanted):
    """(version, path) of each pyenv Python of 3.10 or newer whose version starts with one of
    wanted."""
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
        versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True,
                                  check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return [(sys.version.split()[0], sys.executable)]
    found = []
    for version in versions:
        match = re.fullmatch(r"3\.(\d+)\.\d+", version)
        if (match and int(match.group(1)) >= 10
                and (not wanted or version.startswith(tuple(wanted)))):
            found.append((version, os.path.join(root, "versions", version, "bin", "python")))
    return found


def requirements(without_tensorflow, folder):
    """The requirements file to install: the project's, or it with Keras and jax for TensorFlow."""
    if not without_tensorflow:
        return os.path.join(ROOT, "requirements.txt")
    path = os.path.join(folder, "requirements-keras-jax.txt")
    with open(path, "w", encoding="utf-8") as stream:
        stream.writelines([f"-r {os.path.join(ROOT, 'requirements-without-tensorflow.txt')}\n",
                           "keras>=3.0\n", "jax>=0.4.30\n"])
    return path


def folder_megabytes(path):
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            with_path = os.path.join(folder, name)
            if not os.path.islink(with_path):
                total += os.path.getsize(with_path)
    return total / 2 ** 20


def download_attempt(venv_python, folder):
    """What the MNIST download path does with an empty Keras cache: with no network here, it
    shows how far it got (Keras imported on its jax backend, then the download refused)."""
    probe = ("import os, sys; sys.path.insert(0, %r)\n"
             "from mlp.datasets import DataError, load_mnist_arrays\n"
             "try:\n    load_mnist_arrays()\n    print('downloaded')\n"
             "except DataError as error:\n"
             "    print('KERAS_BACKEND=' + str(os.environ.get('KERAS_BACKEND'))\n"
             "          + ', ' + str(error))\n"
             % ROOT)
    empty = os.path.join(folder, "empty-keras-home")
    os.makedirs(empty, exist_ok=True)
    environment = dict(os.environ, KERAS_HOME=empty)
    environment.pop("KERAS_BACKEND", None)
    result = subprocess.run([venv_python, "-c", probe], capture_output=True, text=True,
                            env=environment)
    lines = result.stdout.strip().splitlines() or result.stderr.strip().splitlines() or ["nothing"]
    return lines[-1][:300]


def check(version, python, without_tensorflow, keep):
    """Install and test on one interpreter; returns its line of the table."""
    folder = tempfile.mkdtemp(prefix=f"mlp-py{version}-")
    venv = os.path.join(folder, "venv")
    try:
        subprocess.run([python, "-m", "venv", venv], check=True, capture_output=True)
        venv_python = os.path.join(venv, "bin", "python")
        started = time.perf_counter()
        install = subprocess.run([venv_python, "-m", "pip", "install", "--quiet",
                                  "--disable-pip-version-check", "-r",
                                  requirements(without_tensorflow, folder)],
                                 capture_output=True, text=True)
        install_seconds = time.perf_counter() - started
        if install.returncode != 0:
            reason = (install.stderr.strip().splitlines() or ["?"])[-1]
            return f"| {version} | install failed: {reason} | | |"
        size = folder_megabytes(venv)
        keras_home = os.path.join(folder, "keras")
        os.makedirs(os.path.join(keras_home, "datasets"))
        if os.path.exists(SHARED_MNIST):
            shutil.copy(SHARED_MNIST, os.path.join(keras_home, "datasets", "mnist.npz"))
        environment = dict(os.environ, KERAS_HOME=keras_home)
        environment.pop("KERAS_BACKEND", None)
        tests = subprocess.run([venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                               cwd=ROOT, capture_output=True, text=True, env=environment)
        summary = (tests.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
        verdict = "passed" if tests.returncode == 0 else f"FAILED (exit {tests.returncode})"
        tensorflow = subprocess.run([venv_python, "-c", "import importlib.util as u; "
                                     "print('TensorFlow' if u.find_spec('tensorflow') else "
                                     "'Keras and jax, no TensorFlow')"],
                                    capture_output=True, text=True).stdout.strip()
        failures = [line for line in tests.stdout.splitlines() if line.startswith(("FAILED",
                                                                                   "ERROR"))]
        if without_tensorflow:
            tensorflow += "; " + download_attempt(venv_python, folder)
        return "\n".join([f"| {version} | {tensorflow}: {size:,.0f} MB installed in "
                          f"{install_seconds:.0f} s | {verdict}: {summary} |"] + failures)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pythons", nargs="*", default=[], help="version prefixes, e.g. 3.10 3.13")
    parser.add_argument("--without-tensorflow", action="store_true",
                        help="install Keras and jax instead of TensorFlow")
    parser.add_argument("--keep", action="store_true", help="keep the virtual environments")
    args = parser.parse_args()
    print("| Python | what installs | python -m pytest |")
    print("|---|---|---|")
    failed = False
    for version, python in interpreters(args.pythons):
        line = check(version, python, args.without_tensorflow, args.keep)
        failed |= "| passed:" not in line
        print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
