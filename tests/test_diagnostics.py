"""The test-set report: confusion matrix and per-class scores, by hand and in metrics.json."""

import json

import numpy as np
import pytest

from mlp.diagnostics import confusion_matrix, per_class_scores


@pytest.mark.slow
def test_confusion_matrix_and_per_class_scores_in_metrics(trained):
    metrics = json.loads((trained["results"] / "mnist" / "metrics.json").read_text())
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == metrics["n_test"] == 200
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["test_accuracy"])
    for digit, scores in metrics["per_class"].items():
        j = int(digit)
        assert scores["support"] == matrix[j].sum()
        if matrix[:, j].sum():
            assert scores["precision"] == pytest.approx(matrix[j, j] / matrix[:, j].sum())


def test_per_class_scores_by_hand():
    counts = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    scores = per_class_scores(counts, ["a", "b", "c"])
    assert scores["a"]["precision"] == pytest.approx(5 / 7)
    assert scores["a"]["recall"] == pytest.approx(5 / 6)
    assert scores["a"]["f1"] == pytest.approx(2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6))
    assert scores["b"] == {"precision": 0.75, "recall": 0.6, "f1": pytest.approx(2 / 3),
                           "support": 5}
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]),
                                                   3),
                                  [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
