"""Each layer's health while training, and the look at the network before it."""

import json

import numpy as np
import pytest

from helpers import make_mnist_like, png_size, run_in_process, words
from mlp.callbacks import LayerHealth, health_sentence, saturation
from mlp.optimizers import optimizer_for
from mlp.report import look_before_training, network_table
from Model import Model, one_hot


def test_the_summary_counts_the_documented_networks_parameters():
    model = Model(784, [256, 64], 10, np.random.default_rng(0))
    lines = network_table(model)
    assert "hidden 1 (sigmoid)" in lines[1] and lines[1].rstrip().endswith("200,960")
    assert lines[2].rstrip().endswith("16,448") and lines[3].rstrip().endswith("650")
    assert lines[4].split()[0] == "total" and lines[4].rstrip().endswith("218,058")


def test_the_untrained_loss_is_read_against_ln_classes(capsys):
    rng = np.random.default_rng(0)
    model = Model(20, [16], 10, rng)
    X = rng.normal(size=(200, 20)).astype(np.float32)
    Y = one_hot(rng.integers(0, 10, 200), 10)
    look_before_training(model, X, Y)
    assert "ln(10) = 2.303: as expected of an untrained network" in capsys.readouterr().out
    relu = Model(20, [16], 10, np.random.default_rng(0), activation="relu")
    look_before_training(relu, X * 1000, Y)  # features left in the thousands: scores explode
    assert "far from it: check how the data is scaled" in capsys.readouterr().out


class Every2(LayerHealth):
    SAMPLE_EVERY = 2


def test_layer_health_measures_what_it_says():
    """Sampling every 2nd batch: the norms and ratios of batches 2, 4, ... against a hand replay."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    Y = one_hot(rng.integers(0, 3, 64), 3)
    model = Model(5, [4], 3, np.random.default_rng(1))
    replay = Model(5, [4], 3, np.random.default_rng(1))
    health = Every2(X)
    model.fit(X, Y, X, Y, epochs=1, batch_size=16, rng=np.random.default_rng(2),
              optimizer=optimizer_for(model, "sgd", 0.5), callbacks=[health])

    # The same training by hand, batch by batch, measuring at batches 2 and 4.
    order = np.random.default_rng(2).permutation(64)
    optimizer = optimizer_for(replay, "sgd", 0.5)
    norms, ratios = [], []
    for batch in range(4):
        rows = order[16 * batch:16 * batch + 16]
        before = [layer.weights.copy() for layer in replay.layers]
        replay.forward(X[rows])
        replay.backward(Y[rows])
        optimizer.step()
        if batch % 2 == 1:
            norms.append([np.linalg.norm(layer.grad_weights) for layer in replay.layers])
            ratios.append([np.linalg.norm(layer.weights - b) / np.linalg.norm(layer.weights)
                           for layer, b in zip(replay.layers, before)])
    record = health.health
    assert record["layers"] == ["hidden 1", "output"]
    np.testing.assert_allclose(record["gradient_norm"][0], np.mean(norms, axis=0), rtol=1e-5)
    np.testing.assert_allclose(record["update_ratio"][0], np.mean(ratios, axis=0), rtol=1e-4)
    A = replay.hidden_layers[0].forward(X)
    assert record["saturation"][0] == [pytest.approx(np.mean((A < 0.01) | (A > 0.99))), None]


def test_every_saturation_limit_belongs_to_an_activation():
    from HiddenLayer import ACTIVATIONS
    from mlp.callbacks import SATURATION_LIMITS

    assert set(SATURATION_LIMITS) == {"sigmoid",
                                      "tanh"} and set(SATURATION_LIMITS) <= set(ACTIVATIONS)
    assert all(low < high for low, high in SATURATION_LIMITS.values())


def test_saturated_units_are_counted():
    model = Model(2, [4], 2, np.random.default_rng(0))
    model.hidden_layers[0].weights[:] = [[100, -100, 0.01, 0.01], [0, 0, 0, 0]]
    X = np.array([[1.0, 0.0], [2.0, 0.0]], np.float32)
    assert saturation(model, X) == [0.5, None]  # units 1 and 2 at 1 and 0, units 3 and 4 near 0.5


def test_the_sentence_reads_the_first_epoch_and_the_last():
    model = Model(9, [4], 2, np.random.default_rng(0))   # 36 weights, then 8
    health = {"layers": ["hidden 1", "output"], "gradient_norm": [[0.6, 0.4], [1, 1]],
              "update_ratio": [[2e-3, 5e-4], [1, 1]], "saturation": [[0, None], [0.25, None]]}
    sentence = health_sentence(health, model)
    # Per weight: 0.6 / 6 = 0.1 against 0.4 / sqrt(8) = 0.1414: 1.41 times smaller.
    assert sentence.startswith("in the first epoch, the first hidden layer's weights got gradients "
                               "1.41 times smaller than the output layer's")
    assert "by 5.0e-04 to 2.0e-03 of their size" in sentence
    assert sentence.endswith("by the last, 25.0% of hidden 1's activations were saturated")
    health["layers"] = ["hidden 1", "hidden 2", "output"]
    health["saturation"] = [[0, 0, None], [0.25, 0.75, None]]
    health["gradient_norm"] = health["update_ratio"] = [[1, 1, 1]]
    assert health_sentence(health, Model(9, [4, 4], 2, np.random.default_rng(0))).endswith(
        "by the last, 75.0% of hidden 2's activations were saturated (the most of any layer)")


@pytest.mark.slow
def test_a_run_writes_layer_health(capsys, tmp_path):
    data = make_mnist_like(tmp_path / "mnist.npz", n_train=600, n_test=100)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs", "3",
                            "--hidden_layers", "[32,", "16]", "--batch_size", "8",
                            "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout and "25,818" in result.stdout
    assert "untrained validation loss" in result.stdout and "ln(10) = 2.303" in result.stdout
    assert ("in the first epoch, the first hidden layer's weights got gradients"
            in words(result.stdout))
    metrics = json.loads((tmp_path / "mnist" / "metrics.json").read_text())
    health = metrics["layer_health"]
    assert health["layers"] == ["hidden 1", "hidden 2", "output"]
    for key in ("gradient_norm", "update_ratio", "saturation"):
        assert len(health[key]) == 3 and all(len(epoch) == 3 for epoch in health[key])
    assert all(value > 0 for epoch in health["gradient_norm"] for value in epoch)
    assert metrics["layer_health_seconds"] > 0
    width, height = png_size(tmp_path / "mnist" / "layer_health.png")
    assert width > 1000 and height > 400
