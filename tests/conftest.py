import os
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "Main.py")


def run_main(*args, env=None, timeout=300):
    """Run Main.py in a fresh interpreter; return the CompletedProcess (text output)."""
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run([sys.executable, MAIN, *map(str, args)], capture_output=True,
                          text=True, env=environment, timeout=timeout)


def png_size(path):
    """(width, height) from a PNG file's IHDR chunk; fails unless it is a PNG."""
    with open(path, "rb") as stream:
        header = stream.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def make_mnist_like(path, n_train=1000, n_test=200, seed=0, learnable=True):
    """A small npz in Keras's mnist.npz layout whose digit d lights row band d of the image.

    With learnable=False the labels are shuffled afterwards, so nothing can be learned.
    """
    rng = np.random.default_rng(seed)

    def part(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for digit in range(10):
            rows = 2 + 2 * digit
            images[labels == digit, rows:rows + 2, 4:24] = 255
        if not learnable:
            labels = rng.permutation(labels)
        return images, labels

    x_train, y_train = part(n_train)
    x_test, y_test = part(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def small_mnist(tmp_path):
    return make_mnist_like(tmp_path / "small_mnist.npz")
