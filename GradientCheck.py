"""Checking hand-written backward passes against central finite differences.

The derivative of a scalar function f with respect to one entry w is
approximated by (f(w + h) - f(w - h)) / (2h), whose error shrinks like h^2.
Everything here runs in float64: in float32 the rounding of f alone would
swamp the differences.
"""

import numpy as np

from Model import Model, cross_entropy, one_hot

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


def check_layer(layer, X, upstream=None, Y=None):
    """Relative errors {"W", "b", "X"} of one layer's backward pass.

    A HiddenLayer is checked on the scalar sum(upstream * A), whose gradient
    with respect to A is upstream; an OutputLayer on the mean cross-entropy
    against one-hot Y.
    """
    if Y is None:
        def f():
            return float(np.sum(upstream * layer.forward(X)))
        layer.forward(X)
        grad_X = layer.backward(upstream)
    else:
        def f():
            return cross_entropy(layer.forward(X), Y)
        layer.forward(X)
        grad_X = layer.backward(Y)
    analytic = {"W": layer.grad_weights.copy(), "b": layer.grad_bias.copy(), "X": grad_X}
    return {
        "W": relative_error(analytic["W"], numerical_gradient(f, layer.weights)),
        "b": relative_error(analytic["b"], numerical_gradient(f, layer.bias)),
        "X": relative_error(analytic["X"], numerical_gradient(f, X)),
    }


def check_model(model, X, Y):
    """Relative error of each layer's dLoss/dW and dLoss/db through the whole model.

    Returns a list of (layer name, largest relative error over its W and b),
    input layer first.
    """
    model.forward(X)
    model.backward(Y)
    analytic = [g.copy() for g in model.gradients()]

    def f():
        return model.loss(X, Y)

    errors = [relative_error(a, numerical_gradient(f, p))
              for a, p in zip(analytic, model.parameters())]
    names = [f"hidden layer {i + 1}" for i in range(len(model.hidden_layers))] + ["output layer"]
    return [(name, max(errors[2 * i], errors[2 * i + 1])) for i, name in enumerate(names)]


def random_problem(n_features, hidden_sizes, n_classes, rng, n_samples=7):
    """A float64 Model with random inputs (n_samples, n_features) and one-hot targets."""
    model = Model(n_features, hidden_sizes, n_classes, rng, dtype=np.float64)
    X = rng.normal(size=(n_samples, n_features))
    Y = one_hot(rng.integers(0, n_classes, size=n_samples), n_classes, np.float64)
    return model, X, Y
