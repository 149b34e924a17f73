import pytest

from helpers import make_mnist_like


@pytest.fixture
def small_mnist(tmp_path):
    return make_mnist_like(tmp_path / "small_mnist.npz")
