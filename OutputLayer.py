"""The output layer: one softmax unit per class."""

import numpy as np

from HiddenLayer import glorot_uniform


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


class OutputLayer:
    """Softmax units fed by every input: P = softmax(X @ W + b).

    Shapes: X is (n_samples, n_inputs), W is (n_inputs, n_classes), b is
    (n_classes,) and P, the predicted class probabilities, is (n_samples, n_classes).
    """

    def __init__(self, n_inputs, n_classes, rng, dtype=np.float32):
        self.weights = glorot_uniform(n_inputs, n_classes, rng, dtype)
        self.bias = np.zeros(n_classes, dtype=dtype)
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_bias = np.zeros_like(self.bias)
        self.inputs = None
        self.probabilities = None

    @property
    def n_inputs(self):
        return self.weights.shape[0]

    @property
    def n_classes(self):
        return self.weights.shape[1]

    def parameters(self):
        """The arrays an optimizer updates, in the same order as gradients()."""
        return [self.weights, self.bias]

    def gradients(self):
        """dLoss/dW and dLoss/db from the last backward(), matching parameters()."""
        return [self.grad_weights, self.grad_bias]

    def forward(self, X):
        """Return the class probabilities P (n_samples, n_classes); keep X and P for backward."""
        Z = X @ self.weights
        Z += self.bias
        self.inputs = X
        self.probabilities = softmax(Z)
        return self.probabilities

    def backward(self, Y, need_input_grad=True):
        """Back-propagate the mean categorical cross-entropy against one-hot targets Y.

        With L = -(1/n) * sum(Y * log P) and P = softmax(Z), the derivative of the
        loss with respect to the scores Z collapses to (P - Y) / n: the softmax
        Jacobian diag(P) - P P^T multiplied by -Y / P leaves P * sum(Y) - Y, and
        each row of Y sums to 1. So this layer takes the targets, not an upstream
        gradient, and never divides by a probability that may be 0.
        Stores dL/dW and dL/db and returns dL/dX (n_samples, n_inputs).
        """
        n_samples = Y.shape[0]
        grad_Z = self.probabilities - Y
        grad_Z *= 1.0 / n_samples
        np.matmul(self.inputs.T, grad_Z, out=self.grad_weights)
        np.sum(grad_Z, axis=0, out=self.grad_bias)
        if not need_input_grad:
            return None
        return grad_Z @ self.weights.T
