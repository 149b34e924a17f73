"""The network as a scikit-learn classifier, for cross_val_score, GridSearchCV and Pipeline.

    from sklearn.model_selection import cross_val_score
    from mlp.estimator import MLPClassifier
    scores = cross_val_score(MLPClassifier(hidden_layers=(8,), epochs=100), X, y, cv=5)

It wraps Model: labels of any kind (class names, numbers) become the classes_,
the features are standardised as the command line does (each column to mean 0
and standard deviation 1, from the training rows), and training is Model.fit
with the optimizer of that name. scikit-learn checks every argument and array
(validate_data), so NaN, one sample, one class or the wrong number of features
is refused in scikit-learn's own words, and so is a parameter out of its range
(_parameter_constraints: InvalidParameterError naming it). It computes in float64,
as scikit-learn's own MLPClassifier does, so that a row's probabilities do not
depend on the rows predicted with it.

A fit that fails says so as scikit-learn's MLPClassifier does: training that
diverges raises ValueError (its weights are no use), and a network stopped stuck
at chance warns with ConvergenceWarning.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from HiddenLayer import ACTIVATIONS
from mlp.callbacks import LayerHealth, StuckAtChance
from mlp.optimizers import OPTIMIZERS, optimizer_for, weight_decay_problem
from mlp.record import status_words
from Model import COMPLETED, DIVERGED, Model, one_hot

# The checks of sklearn.utils.estimator_checks this estimator is not meant to pass, and why
# (tests/test_estimator.py hands them to check_estimator as expected_failed_checks).
EXPECTED_FAILED_CHECKS = {}


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier: sigmoid (or tanh, ReLU) hidden layers of the widths
    in hidden_layers, a softmax output, cross-entropy, trained for epochs passes in batches of
    batch_size by the optimizer named (adam, sgd, momentum) at learning_rate, with decoupled
    weight_decay and dropout; random_state seeds the weights and the batches (an int, a
    RandomState or None). hidden_layers may be one int, a single layer of that width, as
    scikit-learn's hidden_layer_sizes may."""

    _parameter_constraints = {
        "hidden_layers": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, hidden_layers=(256, 64), activation="sigmoid", learning_rate=0.001,
                 epochs=30, batch_size=32, optimizer="adam", weight_decay=0.0, dropout=0.0,
                 random_state=None):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train a new network on X (n_samples, n_features) and labels y (n_samples,).

        Raises ValueError when training diverges; warns with ConvergenceWarning when it
        stopped stuck at chance (status_ says how it ended either way)."""
        widths = self._widths()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has one class ({self.classes_[0]!r}); a classifier needs at "
                             f"least two classes")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        rng = np.random.default_rng(seed)
        self.feature_mean_ = X.mean(axis=0)
        spread = X.std(axis=0)
        self.feature_scale_ = np.where(spread > 0, spread, 1.0)
        X = self._standardised(X)
        self.model_ = Model(X.shape[1], widths, len(self.classes_), rng, np.float64,
                            self.activation, self.dropout)
        optimizer = optimizer_for(self.model_, self.optimizer, self.learning_rate,
                                  weight_decay=self.weight_decay)
        Y = one_hot(labels, len(self.classes_), np.float64)
        # LayerHealth measures the saturation StuckAtChance judges by; neither changes training.
        watch = [LayerHealth(X), StuckAtChance(X, labels, len(self.classes_))]
        result = self.model_.fit(X, Y, X, Y, epochs=self.epochs, batch_size=self.batch_size,
                                 rng=rng, optimizer=optimizer, callbacks=watch)
        self.history_ = result.history
        self.status_ = result.status
        self.n_iter_ = max(1, result.epochs_finished)
        self._say_how_it_ended(result)
        return self

    def _widths(self):
        """hidden_layers as a list of widths; ValueError naming it for a width below 1."""
        widths = ([self.hidden_layers] if isinstance(self.hidden_layers, Integral)
                  else list(self.hidden_layers))
        if not all(isinstance(width, Integral) and width >= 1 for width in widths):
            raise ValueError(f"hidden_layers must be whole numbers of at least 1 (one per hidden "
                             f"layer), got {self.hidden_layers!r}")
        problem = weight_decay_problem(self.learning_rate, self.weight_decay)
        if problem:
            raise ValueError(problem.replace("argument --", "").replace("--", ""))
        return [int(width) for width in widths]

    def _say_how_it_ended(self, result):
        """ValueError for a fit that diverged, ConvergenceWarning for one stopped short."""
        if result.status == DIVERGED:
            raise ValueError(
                f"training diverged in epoch {result.diverged_epoch} (the loss blew up or its "
                f"weights stopped being finite) at learning_rate={self.learning_rate:g}; "
                f"expected a learning_rate smaller than {self.learning_rate:g}")
        if result.status != COMPLETED:
            warnings.warn(
                f"training stopped after epoch {result.epochs_finished} of {self.epochs}: "
                f"{status_words(result.status)} (it answers one class with its hidden units "
                f"saturated and cannot recover); expected a smaller learning_rate than "
                f"{self.learning_rate:g}", ConvergenceWarning)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), in the order of classes_."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.model_.predict_proba(self._standardised(X))

    def predict(self, X):
        """The most probable class of each row, as one of classes_."""
        probabilities = self.predict_proba(X)  # (before classes_: an unfitted one says so)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _standardised(self, X):
        return (X - self.feature_mean_) / self.feature_scale_
