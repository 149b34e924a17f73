"""Weight decay, dropout and calibration: each against its formula or finite differences."""

import json

import numpy as np
import pytest

from helpers import assert_one_line_error, make_mnist_like, png_size, run_in_process
from HiddenLayer import ACTIVATIONS
from mlp.datasets import load_mnist
from mlp.diagnostics import calibration
from mlp.gradients import TOLERANCE, check_model, random_problem
from mlp.optimizers import SGD, Adam, LearningRateScheduler, Momentum, optimizer_for
from Model import Model, one_hot


def quadratic_steps(optimizer_class, steps, **options):
    """Minimise 0.5 * ||p - 3||^2 over a 'weight' array w and a 'bias' array b; only w decays."""
    w, b = np.linspace(-1, 1, 6), np.linspace(2, 4, 3)
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    optimizer = optimizer_class([w, b], [gw, gb], decayed=[w], **options)
    for _ in range(steps):
        gw[:] = w - 3.0
        gb[:] = b - 3.0
        optimizer.step()
    return w, b


def test_sgd_weight_decay_is_the_decoupled_formula():
    w, b = quadratic_steps(SGD, 4, learning_rate=0.1, weight_decay=0.5)
    expected_w, expected_b = np.linspace(-1, 1, 6), np.linspace(2, 4, 3)
    for _ in range(4):
        expected_w = expected_w * (1 - 0.1 * 0.5) - 0.1 * (expected_w - 3.0)
        expected_b = expected_b - 0.1 * (expected_b - 3.0)  # biases are not decayed
    np.testing.assert_allclose(w, expected_w, rtol=1e-12)
    np.testing.assert_allclose(b, expected_b, rtol=1e-12)


def test_momentum_weight_decay_is_the_decoupled_formula():
    w, _ = quadratic_steps(Momentum, 5, learning_rate=0.1, weight_decay=0.3)
    expected, velocity = np.linspace(-1, 1, 6), np.zeros(6)
    for _ in range(5):
        g = expected - 3.0  # the gradient at the weights before the step
        expected = expected * (1 - 0.1 * 0.3)
        velocity = 0.9 * velocity - 0.1 * g
        expected = expected + velocity
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adamw_is_loshchilov_and_hutters_update():
    """Decay first, from the weights before the step, scaled by the learning rate (as PyTorch's
    AdamW does), then Kingma and Ba's update from the gradient."""
    w, b = quadratic_steps(Adam, 50, learning_rate=0.05, weight_decay=0.2)
    expected, m, v = np.linspace(-1, 1, 6), np.zeros(6), np.zeros(6)
    for t in range(1, 51):
        g = expected - 3.0
        expected = expected * (1 - 0.05 * 0.2)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-7)
    np.testing.assert_allclose(w, expected, rtol=1e-10)
    undecayed, _ = quadratic_steps(Adam, 50, learning_rate=0.05)
    assert not np.allclose(w, undecayed)


def test_the_model_decays_weights_and_not_biases():
    model = Model(4, [5], 3, np.random.default_rng(0))
    for parameter in model.parameters():
        parameter[...] = 1.0
    optimizer = optimizer_for(model, "sgd", 0.1, weight_decay=0.5)
    optimizer.step()  # the gradients are all 0: only the decay acts
    for layer in model.layers:
        assert np.all(layer.weights == np.float32(0.95)) and np.all(layer.bias == 1.0)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("hidden_sizes", [[6], [6, 5]])
def test_dropout_backward_matches_finite_differences_with_fixed_masks(activation, hidden_sizes):
    model, X, Y = random_problem(4, hidden_sizes, 3, np.random.default_rng(3), n_samples=9,
                                 activation=activation, dropout=0.4)
    for name, error in check_model(model, X, Y, dropout_seed=11):
        assert error < TOLERANCE, (name, error)
    assert any(np.any(layer.mask == 0) for layer in model.hidden_layers)  # some units dropped


def test_a_backward_that_ignores_the_mask_is_caught():
    model, X, Y = random_problem(4, [6], 3, np.random.default_rng(3), n_samples=9, dropout=0.4)
    layer = model.hidden_layers[0]
    original = layer.backward

    def forgetful(grad, need_input_grad=True):
        layer.mask = None
        return original(grad, need_input_grad)

    layer.backward = forgetful
    assert dict(check_model(model, X, Y))["hidden 1"] > 1e-3


def test_dropout_only_while_training():
    rng = np.random.default_rng(0)
    model = Model(10, [400], 3, rng, dropout=0.5)
    X = rng.normal(size=(5, 10)).astype(np.float32)
    evaluated = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(X), evaluated)
    np.testing.assert_array_equal(model.forward(X), evaluated)
    layer = model.hidden_layers[0]
    dropped = layer.forward(X, np.random.default_rng(1))
    assert set(np.unique(dropped / np.where(layer.A == 0, 1, layer.A))) <= {0.0, 2.0}
    assert abs(np.mean(layer.mask == 0) - 0.5) < 0.02
    # Inverted dropout: averaged over many masks, a unit's output is what evaluation gives.
    # Each of the 2,000 means of 400 draws has a standard error of 5% of the unit's output.
    mean = np.mean([layer.forward(X, np.random.default_rng(s)) for s in range(400)], axis=0)
    np.testing.assert_allclose(mean, layer.forward(X), rtol=0.25)
    assert np.mean(mean) == pytest.approx(np.mean(layer.forward(X)), rel=0.01)


def test_calibration_error_by_hand():
    # Confidences 0.95 (right), 0.95 (wrong), 0.55 (right), 0.35 (wrong); 15 bins of width 1/15.
    P = np.array([[0.95, 0.05, 0.0], [0.95, 0.05, 0.0], [0.55, 0.45, 0.0], [0.35, 0.33, 0.32]])
    labels = np.array([0, 1, 0, 2])
    table = calibration(P, labels)
    # Bin (14/15, 1]: accuracy 1/2, confidence 0.95; bin (8/15, 9/15]: 1 against 0.55;
    # bin (5/15, 6/15]: 0 against 0.35. ECE = (2 * 0.45 + 0.45 + 0.35) / 4.
    assert table["expected_calibration_error"] == pytest.approx((2 * 0.45 + 0.45 + 0.35) / 4)
    bins = table["bins"]
    assert bins["count"][14] == 2 and bins["count"][8] == 1 and bins["count"][5] == 1
    assert sum(bins["count"]) == 4 and bins["accuracy"][14] == 0.5 and bins["accuracy"][0] is None
    assert bins["confidence"][8] == pytest.approx(0.55)
    # A model that is right exactly as often as it is sure has no error.
    sure = np.tile([[0.8, 0.2]], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert calibration(sure, labels)["expected_calibration_error"] == pytest.approx(0)


@pytest.mark.parametrize("flag, value", [
    ("--dropout", "1"), ("--dropout", "-0.1"), ("--dropout", "nan"), ("--dropout", "half"),
    ("--weight_decay", "-1"), ("--weight_decay", "inf"), ("--weight_decay", "nan"),
    ("--weight_decay", "x"),
])
def test_bad_regularisation_flags(capsys, tmp_path, flag, value):
    result = run_in_process(capsys, flag, value, "--mnist_path", tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    line = assert_one_line_error(result, f"argument {flag}")
    assert ("from 0 up to, not including, 1" if flag == "--dropout" else ">= 0") in line


def test_gradient_check_with_dropout_from_the_command_line(capsys):
    result = run_in_process(capsys, "--gradient_check", "--dropout", "0.3", "--hidden_layers",
                            "[16,", "8]")
    assert result.returncode == 0, result.stdout
    assert "with dropout 0.3 (masks held fixed)" in result.stdout


@pytest.mark.slow
def test_zero_regularisation_is_the_unregularised_training(capsys, tmp_path):
    """--weight_decay 0 --dropout 0 trains exactly as the code without either: the same history
    and weights as a plain Model and optimizer built with neither."""
    data = make_mnist_like(tmp_path / "mnist.npz", n_train=500, n_test=100)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs", "3",
                            "--hidden_layers", "[16]", "--weight_decay", "0", "--dropout", "0",
                            "--output_dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "mnist" / "metrics.json").read_text())
    assert metrics["weight_decay"] == 0 and metrics["dropout"] == 0

    rng = np.random.default_rng(0)
    dataset = load_mnist(str(data), 0.1, rng, np.dtype("float32"))
    model = Model(784, [16], 10, rng)
    plain = model.fit(dataset.X_train, one_hot(dataset.y_train, 10), dataset.X_val,
                      one_hot(dataset.y_val, 10), epochs=3, batch_size=32, rng=rng,
                      optimizer=optimizer_for(model, "adam", 0.001),
                      callbacks=[LearningRateScheduler("cosine")])
    assert metrics["history"] == plain.history
    with np.load(tmp_path / "out" / "mnist" / "model.npz") as archive:
        for index, layer in enumerate(model.layers):
            assert np.array_equal(archive[f"weights_{index}"], layer.weights)
            assert np.array_equal(archive[f"bias_{index}"], layer.bias)


@pytest.mark.slow
def test_regularised_runs_report_calibration(capsys, tmp_path):
    data = make_mnist_like(tmp_path / "mnist.npz", n_train=500, n_test=100)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs", "2",
                            "--hidden_layers", "[16]", "--weight_decay", "0.05", "--dropout", "0.2",
                            "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "weight decay 0.05, dropout 0.2" in result.stdout
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    assert 0 <= metrics["expected_calibration_error"] <= 1
    assert sum(metrics["calibration"]["count"]) == 100
    assert f"calibration error {metrics['expected_calibration_error']:.4f}" in result.stdout
    png_size(tmp_path / "mnist" / "calibration.png")
    evaluated = run_in_process(capsys, "--model", tmp_path / "mnist" / "model.npz", "--evaluate",
                               "--mnist_path", data)
    error = metrics["expected_calibration_error"]
    assert f"expected calibration error {error:.4f}" in evaluated.stdout


def test_a_dropout_mask_is_zero_or_the_inverse_keep_rate_drawn_in_the_layers_dtype():
    """Inverted dropout: each entry 0 with probability rate, else 1 / (1 - rate), so a unit's
    expected output is unchanged. The draw is in the layer's dtype (float32 draws differ from
    float64 ones: the same seed must give the same masks whatever the code around it)."""
    from HiddenLayer import dropout_mask

    mask = dropout_mask(np.random.default_rng(5), (200, 300), 0.25, np.dtype(np.float32))
    assert mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(mask == 0) - 0.25) < 0.01 and abs(mask.mean() - 1.0) < 0.02
    expected = np.random.default_rng(5).random((200, 300), dtype=np.float32) >= 0.25
    np.testing.assert_array_equal(mask != 0, expected)
