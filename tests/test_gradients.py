"""Every backward pass against central finite differences, and against TensorFlow, in float64."""

import os

import numpy as np
import pytest

from helpers import run_in_process
from HiddenLayer import ACTIVATIONS, HiddenLayer
from mlp.gradients import TOLERANCE, check_model, numerical_gradient, random_problem, relative_error
from Model import Model, cross_entropy, cross_entropy_gradient, one_hot
from OutputLayer import OutputLayer


# One layer's backward pass under a loss on its output, CS231n-style (the product checks whole
# models: mlp.gradients.check_model, --gradient_check).
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


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_hidden_layer_backward_matches_finite_differences(rng, activation):
    layer = HiddenLayer(5, 4, rng, dtype=np.float64, activation=activation)
    X = rng.normal(size=(6, 5))
    upstream = rng.normal(size=(6, 4))
    errors = check_layer(layer, X, WeightedSum(upstream))
    assert max(errors.values()) < TOLERANCE, errors


def test_output_layer_backward_matches_finite_differences(rng):
    layer = OutputLayer(5, 3, rng, dtype=np.float64)
    X = rng.normal(size=(6, 5))
    Y = one_hot(rng.integers(0, 3, size=6), 3, np.float64)
    errors = check_layer(layer, X, CrossEntropy, Y)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("hidden_sizes", [[], [6], [6, 5], [6, 5, 4]])
def test_model_backward_matches_finite_differences(rng, hidden_sizes, activation):
    model, X, Y = random_problem(4, hidden_sizes, 3, rng, activation=activation)
    errors = check_model(model, X, Y)
    assert len(errors) == len(hidden_sizes) + 1
    for name, error in errors:
        assert error < TOLERANCE, (name, error)


def test_a_wrong_backward_is_caught(rng):
    """The check itself can fail: a sigmoid derivative off by a factor is detected."""
    model, X, Y = random_problem(4, [5], 3, rng)
    layer = model.hidden_layers[0]
    original = layer.backward
    layer.backward = lambda grad, need_input_grad=True: original(1.01 * grad, need_input_grad)
    errors = dict(check_model(model, X, Y))
    assert errors["hidden 1"] > 1e-3
    assert errors["output"] < TOLERANCE


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_initialisation_suits_the_activation(activation):
    """Glorot's limit sqrt(6 / (n_in + n_out)) for sigmoid and tanh, He's sqrt(6 / n_in) for
    ReLU."""
    layer = HiddenLayer(300, 100, np.random.default_rng(0), dtype=np.float64, activation=activation)
    limit = np.sqrt(6 / 300) if activation == "relu" else np.sqrt(6 / 400)
    assert np.abs(layer.weights).max() <= limit
    assert np.abs(layer.weights).max() > 0.99 * limit  # 30,000 draws reach the edge
    assert np.all(layer.bias == 0)


@pytest.fixture(scope="module")
def tf():
    """TensorFlow, imported once for the module (the comparisons are skipped without it)."""
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow
    except Exception as error:  # not installed, or a broken install
        pytest.skip(f"TensorFlow cannot be imported ({type(error).__name__}: {error})")
    return tensorflow


class TestAgainstTensorFlow:
    """The whole model's gradients against TensorFlow's GradientTape on the same weights and data:
    an implementation that shares none of our code, as numpy-ml tests against torch."""

    TF_ACTIVATIONS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}

    @pytest.mark.parametrize("activation", list(ACTIVATIONS))
    def test_model_gradients_equal_gradient_tape(self, tf, activation):
        assert set(self.TF_ACTIVATIONS) == set(ACTIVATIONS), \
            "a new activation needs its TF twin here"
        rng = np.random.default_rng(7)
        model, X, Y = random_problem(6, [8, 5], 4, rng, n_samples=11, activation=activation)
        model.forward(X)
        model.backward(Y)
        ours = [g.copy() for g in model.gradients()]

        variables = [tf.Variable(p.copy()) for p in model.parameters()]
        function = getattr(tf.math, self.TF_ACTIVATIONS[activation]) if activation != "relu" \
            else tf.nn.relu
        with tf.GradientTape() as tape:
            A = tf.constant(X)
            for W, b in zip(variables[0:-2:2], variables[1:-2:2]):
                A = function(A @ W + b)
            scores = A @ variables[-2] + variables[-1]
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.constant(Y), scores))
        theirs = tape.gradient(loss, variables)
        assert float(loss) == pytest.approx(model.loss(X, Y), rel=1e-12)
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine, reference.numpy(), rtol=1e-10, atol=1e-14)


class TestAssignmentWorkedExample:
    """The assignment's hand-worked example: x = [1, 2], three sigmoid hidden units,
    a linear output unit, target 8, squared loss L = (8 - prediction)^2.

    The weights are given bias first; our layer keeps them as W (n_inputs, n_units)
    and b. The expected values are exact (the assignment rounds activations to 0.52).
    """

    x = np.array([[1.0, 2.0]])
    hidden_rows = np.array([[0.01, 0.02, 0.03], [0.03, 0.01, 0.02], [0.02, 0.03, 0.01]])
    v = np.array([0.01, 0.02, 0.03, 0.04])
    target = 8.0

    def run(self):
        layer = HiddenLayer(2, 3, np.random.default_rng(0), dtype=np.float64)
        layer.bias[:] = self.hidden_rows[:, 0]
        layer.weights[:] = self.hidden_rows[:, 1:].T
        A = layer.forward(self.x)
        prediction = self.v[0] + A @ self.v[1:]
        grad_prediction = -2.0 * (self.target - prediction)
        grad_v = grad_prediction[:, None] * np.hstack([np.ones((1, 1)), A])
        layer.backward(grad_prediction[:, None] * self.v[1:][None, :])
        Z = self.x @ layer.weights + layer.bias
        grad_W_rows = np.hstack([layer.grad_bias[:, None], layer.grad_weights.T])
        return Z, prediction, grad_prediction, grad_v, grad_W_rows

    def test_forward(self):
        Z, prediction, *_ = self.run()
        np.testing.assert_allclose(Z[0], [0.09, 0.08, 0.07], rtol=1e-12)
        np.testing.assert_allclose(prediction, [0.0567491], rtol=1e-6)

    def test_output_gradients(self):
        _, _, grad_prediction, grad_v, _ = self.run()
        np.testing.assert_allclose(grad_prediction, [-15.8865], rtol=1e-5)
        np.testing.assert_allclose(grad_v[0], [-15.8865, -8.30046, -8.26081, -8.22115], rtol=1e-5)

    def test_hidden_weight_gradients(self):
        *_, grad_W_rows = self.run()
        expected = [[-0.079272, -0.079272, -0.158544],
                    [-0.118958, -0.118958, -0.237917],
                    [-0.158671, -0.158671, -0.317341]]
        np.testing.assert_allclose(grad_W_rows, expected, rtol=1e-5)


class TestNumericalStability:
    """Extreme inputs stay finite and raise no warning (pytest.ini turns RuntimeWarnings into
    errors)."""

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_sigmoid_limits(self, dtype):
        from HiddenLayer import sigmoid
        Z = np.array([-1e30, -1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4, 1e30], dtype=dtype)
        S = sigmoid(Z)
        assert S.dtype == dtype
        assert np.all(np.isfinite(S))
        assert S[0] == 0.0 and S[1] == 0.0 and S[-1] == 1.0 and S[-2] == 1.0
        assert S[4] == 0.5
        np.testing.assert_allclose(S[3], 1 / (1 + np.exp(30.0)), rtol=1e-5)
        np.testing.assert_allclose(S[5], 1 / (1 + np.exp(-30.0)), rtol=1e-6)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_softmax_of_huge_scores(self, dtype):
        from OutputLayer import softmax
        Z = np.array([[1e4, 0.0, -1e4], [1e30, 1e30, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
        P = softmax(Z)
        assert P.dtype == dtype
        np.testing.assert_allclose(P, [[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_loss_of_a_certain_wrong_prediction_is_large_but_finite(self, dtype):
        P = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
        Y = np.array([[0.0, 1.0, 0.0]], dtype=dtype)
        loss = cross_entropy(P, Y)
        assert np.isfinite(loss)
        assert loss == pytest.approx(-np.log(np.finfo(dtype).eps))
        assert cross_entropy(Y, Y) == pytest.approx(0.0, abs=1e-12)

    def test_model_survives_extreme_inputs(self):
        model = Model(3, [4], 2, np.random.default_rng(0), dtype=np.float32)
        X = np.array([[1e6, -1e6, 1e4]], dtype=np.float32)
        Y = one_hot(np.array([1]), 2)
        assert np.isfinite(model.loss(X, Y))
        model.backward(Y)
        assert all(np.all(np.isfinite(g)) for g in model.gradients())


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_gradient_check_from_the_command_line(capsys, activation):
    result = run_in_process(capsys, "--gradient_check", "--activation", activation,
                            "--hidden_layers", "[16,", "8]")
    assert result.returncode == 0, result.stderr
    assert f"5-16-8-3 {activation} network" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "largest relative error" in line]
    assert len(lines) == 3 and all(line.rstrip().endswith("ok") for line in lines)
    errors = [float(line.split("error")[1].split()[0]) for line in lines]
    assert max(errors) < 1e-6
