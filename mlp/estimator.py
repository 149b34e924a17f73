"""The network as a scikit-learn classifier, for cross_val_score, GridSearchCV and Pipeline.

    from sklearn.model_selection import cross_val_score
    from mlp.estimator import MLPClassifier
    scores = cross_val_score(MLPClassifier(hidden_layers=(8,), epochs=100), X, y, cv=5)

It wraps Model: labels of any kind (class names, numbers) become the classes_,
the features are standardised as the command line does (each column to mean 0
and standard deviation 1, from the training rows), and training is Model.fit
with the optimizer of that name. scikit-learn checks every argument and array
(validate_data), so NaN, one sample, one class or the wrong number of features
is refused in scikit-learn's own words. It computes in float64, as scikit-learn's
own MLPClassifier does, so that a row's probabilities do not depend on the rows
predicted with it.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from Model import Model, one_hot
from mlp.optimizers import optimizer_for

# The checks of sklearn.utils.estimator_checks this estimator is not meant to pass, and why
# (tests/test_estimator.py hands them to check_estimator as expected_failed_checks).
EXPECTED_FAILED_CHECKS = {}


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier: sigmoid (or tanh, ReLU) hidden layers of the widths
    in hidden_layers, a softmax output, cross-entropy, trained for epochs passes in batches of
    batch_size by the optimizer named (adam, sgd, momentum) at learning_rate, with decoupled
    weight_decay and dropout; random_state seeds the weights and the batches (an int, a
    RandomState or None)."""

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

    def fit(self, X, y):
        """Train a new network on X (n_samples, n_features) and labels y (n_samples,)."""
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
        self.model_ = Model(X.shape[1], list(self.hidden_layers), len(self.classes_), rng,
                            np.float64, self.activation, self.dropout)
        optimizer = optimizer_for(self.model_, self.optimizer, self.learning_rate,
                                  weight_decay=self.weight_decay)
        Y = one_hot(labels, len(self.classes_), np.float64)
        result = self.model_.fit(X, Y, X, Y, epochs=self.epochs, batch_size=self.batch_size,
                                 rng=rng, optimizer=optimizer)
        self.history_ = result.history
        self.status_ = result.status
        self.n_iter_ = max(1, result.epochs_finished)
        return self

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
