"""The affine part every layer shares: scores Z = X @ W + b, and its backward pass.

HiddenLayer and OutputLayer are Dense layers that put an activation on top of
the scores; what is left here is the part of the chain rule they have in common.
"""

import numpy as np


def glorot_uniform(n_inputs, n_outputs, rng, dtype):
    """Weights of shape (n_inputs, n_outputs) drawn from U(-r, r), r = sqrt(6 / (n_in + n_out)).

    This is Glorot and Bengio's (2010) "normalized initialization", the one Keras
    calls glorot_uniform: for units that are roughly linear near 0 (sigmoid,
    tanh, softmax) it keeps the variance of activations and gradients about the
    same from layer to layer.
    """
    limit = np.sqrt(6.0 / (n_inputs + n_outputs))
    return rng.uniform(-limit, limit, size=(n_inputs, n_outputs)).astype(dtype)


def he_uniform(n_inputs, n_outputs, rng, dtype):
    """Weights of shape (n_inputs, n_outputs) drawn from U(-r, r), r = sqrt(6 / n_inputs).

    He et al. (2015): a ReLU passes on only half of its inputs' variance, so the
    weights need twice Glorot's variance (counting the inputs alone) to keep the
    signal from fading layer by layer. Keras calls it he_uniform.
    """
    limit = np.sqrt(6.0 / n_inputs)
    return rng.uniform(-limit, limit, size=(n_inputs, n_outputs)).astype(dtype)


class Dense:
    """Units fed by every input: Z = X @ W + b.

    Shapes: X is (n_samples, n_inputs), W is (n_inputs, n_outputs), b is
    (n_outputs,) and Z is (n_samples, n_outputs). The weights come from
    initialise(n_inputs, n_outputs, rng, dtype); the bias starts at 0.
    """

    def __init__(self, n_inputs, n_outputs, rng, dtype=np.float32, initialise=glorot_uniform):
        self.weights = initialise(n_inputs, n_outputs, rng, dtype)
        self.bias = np.zeros(n_outputs, dtype=dtype)
        self.grad_weights = np.zeros_like(self.weights)
        self.grad_bias = np.zeros_like(self.bias)
        self.inputs = None

    @property
    def n_inputs(self):
        return self.weights.shape[0]

    @property
    def n_outputs(self):
        return self.weights.shape[1]

    def parameters(self):
        """The arrays an optimizer updates, in the same order as gradients()."""
        return [self.weights, self.bias]

    def gradients(self):
        """dLoss/dW and dLoss/db from the last backward(), matching parameters()."""
        return [self.grad_weights, self.grad_bias]

    def scores(self, X):
        """Z = X @ W + b (n_samples, n_outputs); keeps X for backward."""
        Z = X @ self.weights
        Z += self.bias
        self.inputs = X
        return Z

    def backward_scores(self, grad_Z, need_input_grad=True):
        """From dL/dZ (n_samples, n_outputs), store dL/dW and dL/db and return dL/dX.

            dL/dW = X^T @ dL/dZ     (each weight's share, summed over the samples)
            dL/db = sum of dL/dZ over the samples
            dL/dX = dL/dZ @ W^T     (n_samples, n_inputs), for the layer below
        Returns None instead of dL/dX when need_input_grad is False (the first
        layer: nothing needs the gradient with respect to the data).
        """
        np.matmul(self.inputs.T, grad_Z, out=self.grad_weights)
        np.sum(grad_Z, axis=0, out=self.grad_bias)
        if not need_input_grad:
            return None
        return grad_Z @ self.weights.T
