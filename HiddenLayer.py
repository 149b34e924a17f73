"""A fully connected hidden layer: the assignment's sigmoid units, or tanh or ReLU.

Dense is the affine part both layers share, Z = X @ W + b, with its backward
pass; HiddenLayer puts an activation on top of it (OutputLayer, in its own
file, puts the softmax). ACTIVATIONS is the table of activation functions:
each entry is the function, its derivative written in terms of the function's
output (as scikit-learn's DERIVATIVES are), the weight initialisation that
suits it and a line for --help. A new activation is two functions and one
entry; --activation, the gradient check and model.npz take their names from here.

This file needs numpy and nothing else.
"""

from typing import Callable, NamedTuple

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
        # Written into the arrays the layer holds (out=), which an optimizer may keep packed in
        # one vector; self.grad_weights = self.inputs.T @ grad_Z trains the same, a little slower.
        np.matmul(self.inputs.T, grad_Z, out=self.grad_weights)
        np.sum(grad_Z, axis=0, out=self.grad_bias)
        if not need_input_grad:
            return None
        return grad_Z @ self.weights.T


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


def sigmoid_backward(grad_A, A):
    """dL/dZ = dL/dA * sigmoid'(Z), where sigmoid'(Z) = A * (1 - A)."""
    return grad_A * A * (1 - A)


def tanh(Z):
    """The hyperbolic tangent, elementwise; numpy's is stable for any Z."""
    return np.tanh(Z)


def tanh_backward(grad_A, A):
    """dL/dZ = dL/dA * tanh'(Z), where tanh'(Z) = 1 - A^2."""
    return grad_A * (1 - A * A)


def relu(Z):
    """max(Z, 0), elementwise."""
    return np.maximum(Z, 0)


def relu_backward(grad_A, A):
    """dL/dZ = dL/dA where the unit was active (A > 0), else 0.

    At Z = 0 exactly the derivative is taken to be 0, as in every framework.
    """
    return grad_A * (A > 0)


class Activation(NamedTuple):
    function: Callable       # Z -> A
    derivative: Callable     # (dL/dA, A) -> dL/dZ
    initialise: Callable     # (n_inputs, n_units, rng, dtype) -> W
    description: str         # in --help


ACTIVATIONS = {
    "sigmoid": Activation(sigmoid, sigmoid_backward, glorot_uniform,
                          "1 / (1 + e^-z), the assignment's (Glorot-uniform weights)"),
    "tanh": Activation(tanh, tanh_backward, glorot_uniform,
                       "tanh(z), zero-centred (Glorot-uniform weights)"),
    "relu": Activation(relu, relu_backward, he_uniform, "max(z, 0) (He-uniform weights)"),
}


def dropout_mask(rng, shape, rate, dtype):
    """Inverted dropout's mask: each entry 0 with probability rate, else 1 / (1 - rate).

    Scaling the kept units up during training keeps every unit's expected
    output what it is at evaluation, when all units are used as they are.
    """
    kept = rng.random(shape, dtype=dtype) >= rate
    return kept * dtype.type(1.0 / (1.0 - rate))


class HiddenLayer(Dense):
    """Units fed by every input, each passing its score through an activation: A = f(X @ W + b).

    f is the logistic sigmoid unless another name of ACTIVATIONS is given.
    With dropout > 0, each unit's output is dropped with that probability
    while training (inverted dropout); evaluation uses every unit.
    Shapes: X is (n_samples, n_inputs), W is (n_inputs, n_units), b is (n_units,)
    and A is (n_samples, n_units).
    """

    def __init__(self, n_inputs, n_units, rng, dtype=np.float32, activation="sigmoid", dropout=0.0):
        self.activation = activation    # the name in ACTIVATIONS
        entry = ACTIVATIONS[activation]
        self.f, self.f_backward = entry.function, entry.derivative
        super().__init__(n_inputs, n_units, rng, dtype, entry.initialise)
        self.dropout = dropout
        self.A = None       # f(Z) of the last forward pass, which backward needs
        self.mask = None    # the dropout mask of the last training forward pass, or None

    @property
    def n_units(self):
        return self.n_outputs

    def forward(self, X, training_rng=None):
        """Return the layer's output (n_samples, n_units) and keep what backward needs.

        training_rng is the generator dropout draws its masks from while
        training; None (evaluating) uses every unit.
        """
        self.A = self.f(self.scores(X))
        if training_rng is None or not self.dropout:
            self.mask = None
            return self.A
        self.mask = dropout_mask(training_rng, self.A.shape, self.dropout, self.A.dtype)
        return self.A * self.mask

    def backward(self, grad_output, need_input_grad=True):
        """Back-propagate dL/d(output) (n_samples, n_units) through the layer.

        The chain rule, one factor at a time:
            dL/dA = dL/d(output) * mask  (only with dropout: the output was A * mask)
            dL/dZ = dL/dA * f'(Z)        (f' written with A: A * (1 - A) for the sigmoid)
            dL/dW = X^T @ dL/dZ,  dL/db = sum of dL/dZ over the samples
            dL/dX = dL/dZ @ W^T
        Stores dL/dW and dL/db and returns dL/dX (n_samples, n_inputs), or None
        when need_input_grad is False.
        """
        grad_A = grad_output if self.mask is None else grad_output * self.mask
        grad_Z = self.f_backward(grad_A, self.A)
        return self.backward_scores(grad_Z, need_input_grad)
