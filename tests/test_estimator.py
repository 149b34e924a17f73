"""The scikit-learn estimator: scikit-learn's own estimator checks, and the numbers of Model."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import check_estimator

from Model import Model, one_hot
from mlp.estimator import EXPECTED_FAILED_CHECKS, MLPClassifier
from mlp.optimizers import optimizer_for
from helpers import ROOT


def iris():
    rows = np.genfromtxt(f"{ROOT}/iris.data", delimiter=",", dtype=str)
    return rows[:, :4].astype(np.float64), rows[:, 4]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_scikit_learns_own_estimator_checks_pass():
    check_estimator(MLPClassifier(), expected_failed_checks=EXPECTED_FAILED_CHECKS)


def test_it_trains_exactly_the_network_model_trains():
    X, y = iris()
    estimator = MLPClassifier(hidden_layers=(8,), epochs=5, batch_size=16, learning_rate=0.01,
                              random_state=3).fit(X, y)
    rng = np.random.default_rng(check_random_state(3).randint(np.iinfo(np.int32).max))
    classes, labels = np.unique(y, return_inverse=True)
    standardised = (X - X.mean(axis=0)) / X.std(axis=0)
    model = Model(4, [8], 3, rng, np.float64)
    Y = one_hot(labels, 3, np.float64)
    model.fit(standardised, Y, standardised, Y, epochs=5, batch_size=16, rng=rng,
              optimizer=optimizer_for(model, "adam", 0.01))
    np.testing.assert_array_equal(estimator.predict_proba(X), model.predict_proba(standardised))
    assert list(estimator.classes_) == list(classes) and estimator.n_features_in_ == 4
    assert estimator.predict(X[:2]).tolist() == ["Iris-setosa", "Iris-setosa"]


def test_cross_validation_grid_search_and_pipelines_work_with_it():
    X, y = iris()
    small = MLPClassifier(hidden_layers=(8,), epochs=60, learning_rate=0.01, random_state=0)
    scores = cross_val_score(small, X, y, cv=3)
    assert len(scores) == 3 and scores.mean() > 0.9
    search = GridSearchCV(small, {"learning_rate": [0.01, 0.0001]}, cv=3).fit(X, y)
    assert search.best_params_ == {"learning_rate": 0.01}
    pipeline = make_pipeline(MinMaxScaler(), small).fit(X, y)
    assert pipeline.score(X, y) > 0.9


def test_the_readme_shows_it_in_cross_val_score():
    import re
    import subprocess
    import sys

    with open(f"{ROOT}/README.md", encoding="utf-8") as stream:
        readme = stream.read()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    [block] = [block for block in blocks if "cross_val_score" in block]
    assert len(block.strip().splitlines()) <= 7
    result = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    scores = [float(value) for value in result.stdout.strip(" []\n").split()]
    assert len(scores) == 5 and min(scores) >= 0.9, result.stdout
    assert f"accuracy of each of the five folds: {', '.join(f'{s:.3g}' for s in scores)}." in \
        " ".join(readme.split())


@pytest.mark.parametrize("bad, expected", [
    ({"X": np.full((4, 2), np.nan)}, "NaN"), ({"y": np.array([1.5, 2.5, 3.5, 4.5])}, "continuous"),
    ({"y": np.zeros(4)}, "one class"), ({"X": np.ones((4, 2, 2))}, "dim 3"),
])
def test_bad_arrays_are_refused_in_scikit_learns_words(bad, expected):
    arrays = {"X": np.arange(8.0).reshape(4, 2), "y": np.array([0, 1, 0, 1])}
    arrays.update(bad)
    with pytest.raises(ValueError, match=expected):
        MLPClassifier(epochs=1).fit(arrays["X"], arrays["y"])
