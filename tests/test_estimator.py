"""The scikit-learn estimator: scikit-learn's own estimator checks, and the numbers of Model."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_estimator

from helpers import ROOT
from mlp.estimator import EXPECTED_FAILED_CHECKS, MLPClassifier
from mlp.optimizers import optimizer_for
from Model import Model, one_hot


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


def test_the_python_page_shows_it_in_cross_val_score():
    import re
    import subprocess
    import sys

    with open(f"{ROOT}/docs/python.md", encoding="utf-8") as stream:
        page = stream.read()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    [block] = [block for block in blocks if "cross_val_score" in block]
    assert len(block.strip().splitlines()) <= 7
    result = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    scores = [float(value) for value in result.stdout.strip(" []\n").split()]
    assert len(scores) == 5 and min(scores) >= 0.9, result.stdout
    assert f"accuracy of each of the five folds: {', '.join(f'{s:.3g}' for s in scores)}." in \
        " ".join(page.split())


@pytest.mark.parametrize("bad, expected", [
    ({"X": np.full((4, 2), np.nan)}, "NaN"), ({"y": np.array([1.5, 2.5, 3.5, 4.5])}, "continuous"),
    ({"y": np.zeros(4)}, "one class"), ({"X": np.ones((4, 2, 2))}, "dim 3"),
])
def test_bad_arrays_are_refused_in_scikit_learns_words(bad, expected):
    arrays = {"X": np.arange(8.0).reshape(4, 2), "y": np.array([0, 1, 0, 1])}
    arrays.update(bad)
    with pytest.raises(ValueError, match=expected):
        MLPClassifier(epochs=1).fit(arrays["X"], arrays["y"])


def test_a_fit_that_diverges_raises_naming_the_learning_rate():
    X, y = iris()
    with pytest.raises(ValueError, match=r"diverged in epoch 1 .* at learning_rate=50; expected "
                                         r"a learning_rate smaller than 50"):
        MLPClassifier(hidden_layers=8, learning_rate=50, optimizer="sgd", epochs=5,
                      random_state=0).fit(X, y)


def test_a_fit_stuck_at_chance_warns_as_scikit_learn_does_when_it_stops_short():
    X, y = iris()
    with pytest.warns(ConvergenceWarning, match="stopped after epoch 3 of 10: stuck at chance"):
        stuck = MLPClassifier(batch_size=1, learning_rate=0.05, epochs=10, random_state=0).fit(X, y)
    assert stuck.status_ == "stuck_at_chance" and stuck.n_iter_ == 3
    assert len(set(stuck.predict(X))) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one that learned warns of nothing
        learned = MLPClassifier(hidden_layers=8, epochs=60, learning_rate=0.01,
                                random_state=0).fit(X, y)
    assert learned.status_ == "completed" and learned.score(X, y) > 0.9


@pytest.mark.parametrize("parameter, bad", [
    ("hidden_layers", 0), ("hidden_layers", "wide"), ("activation", "softmax"),
    ("learning_rate", 0.0), ("learning_rate", "fast"), ("epochs", 0), ("epochs", 2.5),
    ("batch_size", 0), ("optimizer", "lbfgs"), ("weight_decay", -0.1), ("dropout", 1.0),
    ("dropout", -0.1), ("random_state", "seed"),
])
def test_every_parameter_out_of_range_is_refused_by_name(parameter, bad):
    with pytest.raises(InvalidParameterError, match=f"The '{parameter}' parameter"):
        MLPClassifier(**{parameter: bad}).fit(np.arange(8.0).reshape(4, 2), [0, 1, 0, 1])


def test_every_parameter_has_a_constraint():
    assert set(MLPClassifier._parameter_constraints) == set(MLPClassifier().get_params())


@pytest.mark.parametrize("widths, message", [([8, 0], r"\[8, 0\]"), ((4, 2.5), r"\(4, 2.5\)")])
def test_a_width_below_one_in_the_list_is_refused_naming_hidden_layers(widths, message):
    with pytest.raises(ValueError, match="hidden_layers must be whole numbers .*" + message):
        MLPClassifier(hidden_layers=widths).fit(np.arange(8.0).reshape(4, 2), [0, 1, 0, 1])


def test_an_int_is_one_hidden_layer_of_that_width_as_in_scikit_learn():
    X, y = iris()
    one = MLPClassifier(hidden_layers=16, epochs=3, random_state=1).fit(X, y)
    listed = MLPClassifier(hidden_layers=(16,), epochs=3, random_state=1).fit(X, y)
    assert one.model_.hidden_sizes == [16]
    np.testing.assert_array_equal(one.predict_proba(X), listed.predict_proba(X))
