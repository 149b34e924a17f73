"""Checking hand-written backward passes against central finite differences.

The derivative of a scalar function f with respect to one entry w is
approximated by (f(w + h) - f(w - h)) / (2h), whose error shrinks like h^2.
Everything here runs in float64: in float32 the rounding of f alone would
swamp the differences. --gradient_check prints report() for a network of the
flags' shape.
"""

import numpy as np

from Model import Model, cross_entropy, cross_entropy_gradient, one_hot
from mlp.console import network_text
from mlp.guarded import say

STEP = 1e-5
TOLERANCE = 1e-6


def numerical_gradient(f, array, step=STEP):
    """d f() / d array, entry by entry, by central differences; array is changed and restored."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        f_plus = f()
        array[index] = original - step
        f_minus = f()
        array[index] = original
        grad[index] = (f_plus - f_minus) / (2 * step)
    return grad


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||), the norms taken over the whole array.

    The ratio of norms (Ng's gradient-checking recipe) rather than the largest
    entrywise ratio: an entry whose gradient is a million times smaller than
    its neighbours' would otherwise be judged on the rounding noise of the
    loss alone, about 1e-11 here. A wrong backward pass shows up as an error
    near 1e-2 or larger; a right one stays below 1e-7.
    """
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


class WeightedSum:
    """The loss sum(upstream * output), whose gradient with respect to the output is upstream.

    Checking a hidden layer under it tests its backward with an arbitrary
    upstream gradient, as if a network above it had produced one.
    """

    def __init__(self, upstream):
        self.upstream = upstream

    def value(self, output, _):
        return float(np.sum(self.upstream * output))

    def gradient(self, output, _):
        return self.upstream


class CrossEntropy:
    """The model's loss on the output layer's probabilities: its value, and its gradient with
    respect to the layer's scores (the one OutputLayer.backward takes)."""

    value = staticmethod(cross_entropy)
    gradient = staticmethod(cross_entropy_gradient)


def check_layer(layer, X, loss, Y=None):
    """Relative errors {"W", "b", "X"} of one layer's backward pass under a loss on its output.

    loss has value(output, Y) and gradient(output, Y):
    layer.backward is given loss.gradient(output, Y) and its results are
    compared with finite differences of loss.value(output, Y). Every layer is
    checked the same way: a hidden layer under WeightedSum(upstream), the
    output layer under CrossEntropy, whose gradient is the one it takes.
    """
    def f():
        return loss.value(layer.forward(X), Y)

    grad_X = layer.backward(loss.gradient(layer.forward(X), Y))
    analytic = {"W": layer.grad_weights.copy(), "b": layer.grad_bias.copy(), "X": grad_X}
    return {
        "W": relative_error(analytic["W"], numerical_gradient(f, layer.weights)),
        "b": relative_error(analytic["b"], numerical_gradient(f, layer.bias)),
        "X": relative_error(analytic["X"], numerical_gradient(f, X)),
    }


def check_model(model, X, Y, dropout_seed=0):
    """Relative error of each layer's dLoss/dW and dLoss/db through the whole model.

    A model with dropout is checked in training mode, its masks held fixed:
    every forward pass draws them from a new generator seeded with
    dropout_seed, so the function differentiated is the same each time.
    Returns a list of (layer name, largest relative error over its W and b),
    input layer first, named by Model.layer_names.
    """
    def masks():
        return np.random.default_rng(dropout_seed) if model.dropout else None

    model.forward(X, masks())
    model.backward(Y)
    analytic = [g.copy() for g in model.gradients()]

    def f():
        return model.loss(X, Y, masks())

    errors = [relative_error(a, numerical_gradient(f, p))
              for a, p in zip(analytic, model.parameters())]
    return [(name, max(errors[2 * i], errors[2 * i + 1]))
            for i, name in enumerate(model.layer_names())]


def random_problem(n_features, hidden_sizes, n_classes, rng, n_samples=7, activation="sigmoid",
                   dropout=0.0):
    """A float64 Model with random inputs (n_samples, n_features) and one-hot targets."""
    model = Model(n_features, hidden_sizes, n_classes, rng, dtype=np.float64, activation=activation,
                  dropout=dropout)
    X = rng.normal(size=(n_samples, n_features))
    Y = one_hot(rng.integers(0, n_classes, size=n_samples), n_classes, np.float64)
    return model, X, Y


def report(hidden_sizes, activation, seed, dropout=0.0, n_features=5, n_classes=3, n_samples=8):
    """Print each layer's largest relative error against finite differences; return 0 if all
    pass, else 1."""
    rng = np.random.default_rng(seed)
    model, X, Y = random_problem(n_features, hidden_sizes, n_classes, rng, n_samples, activation,
                                 dropout)
    widths = [n_features, *hidden_sizes, n_classes]
    network = network_text(n_features, hidden_sizes, n_classes)
    with_dropout = f" with dropout {dropout:g} (masks held fixed)" if dropout else ""
    say(f"Gradient check of a {network} {activation} network{with_dropout} in float64 on "
        f"{n_samples} random rows: backward pass against central finite differences")
    errors = check_model(model, X, Y, dropout_seed=seed)
    for (name, error), n_in, n_out in zip(errors, widths, widths[1:]):
        verdict = "ok" if error < TOLERANCE else "FAILED"
        say(f"  {name:<16} ({n_in:>3} -> {n_out:<3})  largest relative error {error:.2e}  "
            f"{verdict}")
    passed = all(error < TOLERANCE for _, error in errors)
    say("All layers agree with finite differences." if passed else
        f"Some layers differ from finite differences by more than {TOLERANCE:g}.")
    return 0 if passed else 1
