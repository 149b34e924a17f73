"""The output layer: one softmax unit per class.

It is a Dense layer (HiddenLayer.py holds the affine part both layers share)
with the softmax on top. This file needs numpy and HiddenLayer.py, nothing else.
"""

import numpy as np

from HiddenLayer import Dense


def softmax(Z):
    """Row-wise softmax of scores Z (n_samples, n_classes), each row summing to 1.

    Subtracting the row maximum first leaves the result unchanged (it cancels
    between numerator and denominator) but keeps every exp argument <= 0, so
    nothing overflows however large the scores are.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    E /= E.sum(axis=1, keepdims=True)
    return E


class OutputLayer(Dense):
    """Softmax units fed by every input: P = softmax(X @ W + b), Glorot-uniform weights.

    Shapes: X is (n_samples, n_inputs), W is (n_inputs, n_classes), b is
    (n_classes,) and P, the predicted class probabilities, is (n_samples, n_classes).
    """

    def __init__(self, n_inputs, n_classes, rng, dtype=np.float32):
        super().__init__(n_inputs, n_classes, rng, dtype)
        self.probabilities = None

    @property
    def n_classes(self):
        return self.n_outputs

    def forward(self, X, training_rng=None):
        """Return the class probabilities P (n_samples, n_classes); keep X and P for backward.

        (training_rng is for layers with dropout; the output layer has none.)
        """
        self.probabilities = softmax(self.scores(X))
        return self.probabilities

    def backward(self, grad_scores, need_input_grad=True):
        """Back-propagate dL/dZ, the loss's gradient with respect to this layer's scores.

        The softmax's own factor is not applied here: the loss hands over dL/dZ,
        not dL/dP, because for cross-entropy the softmax Jacobian and dL/dP
        cancel to the simple (P - Y) / n (see Model.cross_entropy_gradient).
        Stores dL/dW and dL/db and returns dL/dX (n_samples, n_inputs).
        """
        return self.backward_scores(grad_scores, need_input_grad)
