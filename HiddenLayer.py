"""A fully connected hidden layer with the logistic sigmoid activation."""

import numpy as np


def sigmoid(Z):
    """The logistic function 1 / (1 + exp(-Z)), elementwise, in Z's float dtype.

    Written so that exp only ever sees a non-positive argument: for Z >= 0 it is
    1 / (1 + exp(-Z)) and for Z < 0 the equal exp(Z) / (1 + exp(Z)). Nothing
    overflows, no warning is raised, and the result tends to exactly 0 and 1
    for large negative and positive inputs (|Z| of 1e4 and beyond).
    """
    E = np.exp(-np.abs(Z))
    numerator = np.where(Z >= 0, 1, E).astype(E.dtype, copy=False)
    return numerator / (1 + E)


def glorot_uniform(n_inputs, n_outputs, rng, dtype):
    """Weights of shape (n_inputs, n_outputs) drawn from U(-r, r), r = sqrt(6 / (n_in + n_out)).

    This is Glorot and Bengio's (2010) "normalized initialization", the one Keras
    calls glorot_uniform: it keeps the variance of activations and gradients
    roughly the same from layer to layer.
    """
    limit = np.sqrt(6.0 / (n_inputs + n_outputs))
    return rng.uniform(-limit, limit, size=(n_inputs, n_outputs)).astype(dtype)


class HiddenLayer:
    """Sigmoid units fed by every input: A = sigmoid(X @ W + b).

    Shapes: X is (n_samples, n_inputs), W is (n_inputs, n_units), b is (n_units,)
    and A is (n_samples, n_units).
    """

    def __init__(self, n_inputs, n_units, rng, dtype=np.float32):
        self.weights = glorot_uniform(n_inputs, n_units, rng, dtype)
        self.bias = np.zeros(n_units, dtype=dtype)
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_bias = np.zeros_like(self.bias)
        self.inputs = None
        self.activations = None

    @property
    def n_inputs(self):
        return self.weights.shape[0]

    @property
    def n_units(self):
        return self.weights.shape[1]

    def parameters(self):
        """The arrays an optimizer updates, in the same order as gradients()."""
        return [self.weights, self.bias]

    def gradients(self):
        """dLoss/dW and dLoss/db from the last backward(), matching parameters()."""
        return [self.grad_weights, self.grad_bias]

    def forward(self, X):
        """Return the activations A (n_samples, n_units) and keep X and A for backward."""
        Z = X @ self.weights
        Z += self.bias
        self.inputs = X
        self.activations = sigmoid(Z)
        return self.activations

    def backward(self, grad_activations, need_input_grad=True):
        """Back-propagate dLoss/dA (n_samples, n_units) through the layer.

        The chain rule, one factor at a time:
            dL/dZ = dL/dA * sigmoid'(Z),  sigmoid'(Z) = A * (1 - A)
            dL/dW = X^T @ dL/dZ,          dL/db = sum of dL/dZ over the samples
            dL/dX = dL/dZ @ W^T
        Stores dL/dW and dL/db and returns dL/dX (n_samples, n_inputs), or None
        when need_input_grad is False (the first layer: nothing needs dL/dX).
        """
        A = self.activations
        grad_Z = grad_activations * A
        grad_Z *= 1 - A
        np.matmul(self.inputs.T, grad_Z, out=self.grad_weights)
        np.sum(grad_Z, axis=0, out=self.grad_bias)
        if not need_input_grad:
            return None
        return grad_Z @ self.weights.T
