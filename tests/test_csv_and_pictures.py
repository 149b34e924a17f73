"""Training on your own CSV, and the pictures a run of images draws."""

import json

import pytest

from helpers import png_size


@pytest.mark.slow
def test_csv_trains_to_a_sensible_accuracy_and_writes_like_iris(trained):
    out = trained["results"] / "blobs"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == ["high", "low", "mid"]
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 240
    assert metrics["n_test"] == 48 and metrics["target"] == "kind"
    assert metrics["test_accuracy"] >= 0.95
    for name in ("loss.png", "accuracy.png", "confusion_matrix.png"):
        png_size(out / name)
    assert not (out / "misclassified.png").exists()  # rows of a table are not pictures


@pytest.mark.slow
def test_mnist_pictures(trained):
    out = trained["results"] / "mnist"
    for name in ("confusion_matrix.png", "misclassified.png", "hidden_weights.png"):
        width, height = png_size(out / name)
        assert width >= 300 and height >= 150
