"""The optimizers against their textbook formulas and the packing of a model's arrays, the
training loop's bookkeeping and hooks, and divergence stopped and reported."""

import json
import math
import time

import numpy as np
import pytest

from helpers import IRIS, make_mnist_like, png_size, run_in_process, run_main, words
from mlp.optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    LearningRateScheduler,
    Momentum,
    Packed,
    cosine_learning_rate,
    optimizer_for,
    packed_parameters,
    unpack_parameters,
)
from Model import (
    COMPLETED,
    DIVERGED,
    HISTORY_KEYS,
    STOPPED_EARLY,
    Callback,
    FitResult,
    Model,
    one_hot,
    plot_history,
)


def textbook_adam(steps, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-7):
    """Kingma and Ba's Algorithm 1, written plainly, on the quadratic loss 0.5 * ||w - 3||^2."""
    w = np.linspace(-1, 1, 12)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        g = w - 3.0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return w


def run_optimizer(make, steps):
    w = np.linspace(-1, 1, 12)
    g = np.zeros_like(w)
    optimizer = make([w], [g])
    for _ in range(steps):
        g[:] = w - 3.0
        optimizer.step()
    return w


def test_adam_is_the_textbook_update():
    w = run_optimizer(lambda p, g: Adam(p, g, learning_rate=0.05), 300)
    np.testing.assert_allclose(w, textbook_adam(300, 0.05), rtol=1e-12, atol=1e-12)


def test_sgd_and_momentum_are_the_textbook_updates():
    w = run_optimizer(lambda p, g: SGD(p, g, learning_rate=0.1), 5)
    np.testing.assert_allclose(w, 3 + (np.linspace(-1, 1, 12) - 3) * 0.9 ** 5, rtol=1e-12)

    expected = np.linspace(-1, 1, 12)
    velocity = np.zeros_like(expected)
    for _ in range(7):
        velocity = 0.9 * velocity - 0.1 * (expected - 3.0)
        expected = expected + velocity
    w = run_optimizer(lambda p, g: Momentum(p, g, learning_rate=0.1, momentum=0.9), 7)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_cosine_schedule_starts_at_the_rate_and_decays_towards_zero():
    rates = [cosine_learning_rate(0.001, epoch, 30) for epoch in range(1, 31)]
    assert rates[0] == 0.001
    assert rates[15] == pytest.approx(0.0005)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert 0 < rates[-1] < 0.001 * 0.003


def test_a_packed_optimizer_trains_exactly_as_the_plain_update_of_each_array(monkeypatch):
    """optimizer_for packs the layers' arrays into one vector. A backward pass written as a
    student would, assigning new gradient arrays each step, must still reach it: the packed SGD
    trains the model exactly as GradientDescent, which updates each layer's own arrays."""
    from HiddenLayer import Dense

    def assigning(self, grad_Z, need_input_grad=True):
        self.grad_weights = self.inputs.T @ grad_Z
        self.grad_bias = grad_Z.sum(axis=0)
        return grad_Z @ self.weights.T if need_input_grad else None

    monkeypatch.setattr(Dense, "backward_scores", assigning)
    X, Y = xor_problem(n=64)
    results = []
    for make_optimizer in (lambda model: optimizer_for(model, "sgd", 0.5), lambda model: None):
        rng = np.random.default_rng(0)
        model = Model(2, [6, 4], 2, rng)
        model.fit(X, Y, X, Y, epochs=3, batch_size=16, rng=rng, learning_rate=0.5,
                  optimizer=make_optimizer(model))
        results.append([p.copy() for p in model.parameters()])
    for packed, plain in zip(*results):
        np.testing.assert_array_equal(packed, plain)
    assert not np.array_equal(results[0][0], Model(2, [6, 4], 2,
                                                   np.random.default_rng(0)).parameters()[0])


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_a_backward_that_assigns_new_gradient_arrays_trains_the_same(monkeypatch, name):
    """Dense writes its gradients into the arrays it holds (out=); a backward that assigns new
    arrays instead trains the model the same with every optimizer, bit for bit."""
    from HiddenLayer import Dense

    X, Y = xor_problem(n=64)

    def trained():
        rng = np.random.default_rng(0)
        model = Model(2, [6], 2, rng)
        model.fit(X, Y, X, Y, epochs=2, batch_size=16, rng=rng,
                  optimizer=optimizer_for(model, name, 0.05))
        return [p.copy() for p in model.parameters()]

    in_place = trained()

    def assigning(self, grad_Z, need_input_grad=True):
        self.grad_weights = self.inputs.T @ grad_Z
        self.grad_bias = grad_Z.sum(axis=0)
        return grad_Z @ self.weights.T if need_input_grad else None

    monkeypatch.setattr(Dense, "backward_scores", assigning)
    for a, b in zip(in_place, trained()):
        np.testing.assert_array_equal(a, b)


def test_weights_assigned_between_steps_are_the_ones_updated():
    model = Model(3, [2], 2, np.random.default_rng(0))
    optimizer = optimizer_for(model, "sgd", 0.1)
    model.output_layer.weights = np.full((2, 2), 7.0, np.float32)  # a new array, not a view
    model.forward(np.ones((1, 3), np.float32))
    model.backward(one_hot(np.array([1]), 2))
    gradient = model.output_layer.grad_weights.copy()
    optimizer.step()
    np.testing.assert_allclose(model.output_layer.weights, 7.0 - 0.1 * gradient, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_stays_in_its_dtype_and_learns(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(dtype)
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of the signs: needs the hidden layer
    Y = one_hot(labels, 2, dtype)
    model = Model(2, [16], 2, rng, dtype=dtype)
    optimizer = optimizer_for(model, "adam", 0.05)
    result = model.fit(X[:300], Y[:300], X[300:], Y[300:], epochs=40, batch_size=16, rng=rng,
                       optimizer=optimizer, callbacks=[LearningRateScheduler("cosine")])
    assert result.status == COMPLETED
    assert {p.dtype for p in model.parameters()} == {np.dtype(dtype)}
    assert model.forward(X).dtype == dtype
    assert result.history["val_accuracy"][-1] >= 0.9
    assert result.learning_rates[0] == 0.05 and result.learning_rates[-1] < 1e-3
    assert optimizer.learning_rate == 0.05  # restored after training
    # The epoch's training metrics are the means over its batches: a fresh evaluation agrees
    # closely.
    loss, accuracy = model.evaluate(X[:300], Y[:300])
    assert abs(result.history["accuracy"][-1] - accuracy) < 0.05
    assert math.isclose(result.history["loss"][-1], loss, rel_tol=0.3)


def xor_problem(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    Y = one_hot((X[:, 0] * X[:, 1] > 0).astype(int), 2)
    return X, Y


def train(callbacks=(), epochs=4, seed=0):
    X, Y = xor_problem()
    rng = np.random.default_rng(seed)
    model = Model(2, [8], 2, rng)
    result = model.fit(X[:200], Y[:200], X[200:], Y[200:], epochs=epochs, batch_size=16, rng=rng,
                       optimizer=optimizer_for(model, "adam", 0.05),
                       callbacks=[LearningRateScheduler("cosine"), *callbacks])
    return model, result


class Recorder(Callback):
    """Notes every call; asks to stop where told."""

    def __init__(self, stop_after_epoch=None, stop_at_batch=None):
        self.calls = []
        self.batches = 0
        self.stop_after_epoch, self.stop_at_batch = stop_after_epoch, stop_at_batch

    def on_train_begin(self, run):
        self.calls.append("begin")

    def on_batch_end(self, run, batch_loss):
        assert math.isfinite(batch_loss) and batch_loss > 0
        self.batches += 1
        return "asked" if self.batches == self.stop_at_batch else None

    def on_epoch_end(self, run, logs):
        self.calls.append((run.epoch, sorted(logs)))
        return "enough" if run.epoch == self.stop_after_epoch else None

    def on_train_end(self, run):
        self.calls.append(("end", run.result.status))


def test_callbacks_see_every_batch_and_epoch_and_change_nothing():
    plain_model, plain = train()
    recorder = Recorder()
    model, result = train([recorder, Callback()])
    for parameter, plain_parameter in zip(model.parameters(), plain_model.parameters()):
        assert np.array_equal(parameter, plain_parameter)
    assert result.history == plain.history
    assert recorder.batches == 4 * 13  # 200 rows in batches of 16
    keys = sorted(["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                   "seconds"])
    assert recorder.calls == ["begin", *[(epoch, keys) for epoch in (1, 2, 3, 4)],
                              ("end", "completed")]


def test_a_stop_after_an_epoch_keeps_that_epoch():
    recorder = Recorder(stop_after_epoch=2)
    _, result = train([recorder])
    assert result.status == "enough" and len(result.history["loss"]) == 2
    assert recorder.calls[-1] == ("end", "enough")


def test_a_stop_during_an_epoch_leaves_it_out_and_matches_an_uninterrupted_run_so_far():
    _, full = train()
    recorder = Recorder(stop_at_batch=2 * 13 + 5)  # in epoch 3
    _, result = train([recorder])
    assert result.status == "asked"
    assert result.history == {key: values[:2] for key, values in full.history.items()}
    assert result.learning_rates == full.learning_rates[:2]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_registered_optimizer_trains_and_declares_its_buffers(name):
    X, Y = xor_problem()
    rng = np.random.default_rng(0)
    model = Model(2, [8], 2, rng)
    optimizer = optimizer_for(model, name, 0.05)
    assert isinstance(optimizer, OPTIMIZERS[name])
    buffers = [value for value in vars(optimizer).values()
               if isinstance(value, list) and value and isinstance(value[0], np.ndarray)
               and value is not optimizer.parameters and value is not optimizer.gradients
               and value is not optimizer.decayed]
    assert len(buffers) == OPTIMIZERS[name].buffers  # what the memory estimate counts
    before = model.evaluate(X, Y)[0]
    model.fit(X, Y, X, Y, epochs=5, batch_size=16, rng=rng, optimizer=optimizer)
    assert model.evaluate(X, Y)[0] < before


def test_divergence_stops_that_data_set_keeps_its_files_and_runs_the_next(capsys, tmp_path):
    # Random labels: at a learning rate of 1000 the weights blow up into confident nonsense.
    # (Without weight decay, which at such a rate is refused: see the test after this one.)
    noise = make_mnist_like(tmp_path / "noise.npz", learnable=False)
    result = run_in_process(capsys, "--learning_rate", "1000", "--epochs", "5", "--hidden_layers",
                            "[16]",
                            "--weight_decay", "0", "--mnist_path", noise, "--output_dir", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "MNIST: training diverged in epoch 1" in result.stderr
    assert "Iris: training diverged in epoch 1" in result.stderr
    assert "try a smaller --learning_rate than 1000" in result.stderr
    for name in ("mnist", "iris"):
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["status"] == "diverged" and metrics["diverged_epoch"] == 1
        assert metrics["history"]["loss"] == [] and metrics["test_accuracy"] is None
        png_size(tmp_path / name / "loss.png")


def test_divergence_after_good_epochs_keeps_them():
    from mlp.optimizers import SGD, Packed
    from Model import Model, one_hot

    rng = np.random.default_rng(0)
    model = Model(4, [8], 3, rng, dtype=np.float64)
    X = rng.normal(size=(60, 4))
    Y = one_hot(rng.integers(0, 3, 60), 3, np.float64)

    class PoisonAfterTwoEpochs(SGD):
        def step(self):
            super().step()
            self.steps_taken = getattr(self, "steps_taken", 0) + 1
            if self.steps_taken == 2 * 6 + 3:  # in epoch 3 (6 batches an epoch)
                self.parameters[0][0] = np.inf

    packed = Packed(model.layers)
    optimizer = PoisonAfterTwoEpochs([packed.parameters], [packed.gradients], 0.1, packed=packed)
    result = model.fit(X, Y, X, Y, epochs=5, batch_size=10, rng=rng, optimizer=optimizer)
    assert result.status == DIVERGED and result.diverged_epoch == 3
    assert len(result.history["loss"]) == 2


def test_a_good_run_of_few_batches_measures_every_epoch_and_says_nothing_on_stderr(tmp_path):
    result = run_main(*IRIS, "--batch_size", "32", "--output_dir", tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    health = json.loads((tmp_path / "iris" / "metrics.json").read_text())["layer_health"]
    assert all(min(epoch) > 0 for epoch in health["gradient_norm"])
    assert "moved a layer's weights by 0.0e+00" not in words(result.stdout)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_an_optimizer_restored_from_its_state_continues_exactly(name):
    """state() and restore() are what a checkpoint keeps: an optimizer rebuilt on a copy of the
    model and restored from them takes the same next steps, bit for bit."""
    X, Y = xor_problem(n=64)

    def steps(model, optimizer, count):
        for _ in range(count):
            model.forward(X[:16])
            model.backward(Y[:16])
            optimizer.step()

    model = Model(2, [5], 2, np.random.default_rng(0))
    optimizer = optimizer_for(model, name, 0.05, weight_decay=0.1)
    steps(model, optimizer, 3)
    values, arrays = optimizer.state()
    twin = Model(2, [5], 2, np.random.default_rng(9))  # other weights, put right below
    unpack_parameters(packed_parameters(model), twin)
    restored = optimizer_for(twin, name, 0.05, weight_decay=0.1)
    restored.restore(json.loads(json.dumps(values)), {key: array.copy() for key,
                                                      array in arrays.items()})
    steps(model, optimizer, 2)
    steps(twin, restored, 2)
    for original, copy in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(original, copy)
    if name == "sgd":
        assert (values, arrays) == ({}, {})
    else:
        assert arrays and all(np.any(array != 0) for array in arrays.values())


def test_packed_parameters_round_trip_in_the_order_of_the_layers():
    model = Model(3, [2], 2, np.random.default_rng(0))
    vector = packed_parameters(model)
    assert vector.shape == (3 * 2 + 2 + 2 * 2 + 2,)
    np.testing.assert_array_equal(vector[:6], model.hidden_layers[0].weights.ravel())
    np.testing.assert_array_equal(vector[6:8], model.hidden_layers[0].bias)
    other = Model(3, [2], 2, np.random.default_rng(1))
    unpack_parameters(vector, other)
    for a, b in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(a, b)


def test_fit_defaults_to_thirty_epochs_and_a_seeded_generator():
    """The assignment's 30 epochs when none are given; without rng, the order of the rows and
    the dropout masks come from a generator seeded with 0, so two calls give the same model."""
    X, Y = xor_problem(n=32)
    models = [Model(2, [3], 2, np.random.default_rng(0), dropout=0.2) for _ in range(2)]
    results = [model.fit(X, Y, X, Y, batch_size=16, learning_rate=0.1) for model in models]
    assert len(results[0].history["loss"]) == 30
    assert results[0].history == results[1].history
    seeded = Model(2, [3], 2, np.random.default_rng(0), dropout=0.2)
    assert (seeded.fit(X, Y, X, Y, batch_size=16, learning_rate=0.1,
                       rng=np.random.default_rng(0)).history == results[0].history)
    assert Adam([], []).learning_rate == 0.001  # Keras's default, as the docs say


def test_a_resumed_fit_goes_on_from_its_result_and_a_stopped_one_trains_no_further():
    X, Y = xor_problem(n=32)
    seen = []

    class Begin(Callback):
        def on_train_begin(self, run):
            seen.append((run.epoch, run.result.epochs_finished))

    model = Model(2, [3], 2, np.random.default_rng(0))
    result = model.fit(X, Y, X, Y, epochs=2, batch_size=16, learning_rate=0.1)
    result = model.fit(X, Y, X, Y, epochs=5, batch_size=16, learning_rate=0.1,
                       resume_from=result, callbacks=[Begin()])
    assert seen == [(2, 2)] and result.epochs_finished == 5 and result.status == COMPLETED
    stopped = FitResult(history={key: [0.5] for key in HISTORY_KEYS}, epoch_seconds=[1.0],
                        learning_rates=[0.1], status=STOPPED_EARLY)
    before = [p.copy() for p in model.parameters()]
    result = model.fit(X, Y, X, Y, epochs=5, batch_size=16, learning_rate=0.1, resume_from=stopped)
    assert result.epochs_finished == 1 and result.status == STOPPED_EARLY
    assert all(np.array_equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_diverging_fit_says_so_once_without_warnings():
    """Overflow in the products of a diverging run is caught as DIVERGED, not warned about
    (the suite turns RuntimeWarnings into errors)."""
    X, Y = xor_problem(n=32)
    model = Model(2, [8], 2, np.random.default_rng(0))
    result = model.fit(X * 1e4, Y, X, Y, epochs=3, batch_size=16, learning_rate=1e38)
    assert result.status == DIVERGED and result.diverged_epoch == 1


def test_an_epochs_training_metrics_are_the_means_over_its_batches_with_dropout_on():
    """At a learning rate of 0 nothing changes during an epoch, so its training accuracy is the
    model's accuracy on the training rows, and its loss the mean of the batch losses the
    callbacks were given; with dropout, training draws masks and evaluation does not."""
    X, Y = xor_problem(n=70)  # batches of 32, 32 and 6
    batches = []

    class Batches(Callback):
        def on_batch_end(self, run, batch_loss):
            batches.append(batch_loss)

    model = Model(2, [6], 2, np.random.default_rng(0))
    result = model.fit(X, Y, X, Y, epochs=1, learning_rate=0.0, callbacks=[Batches()])
    loss, accuracy = model.evaluate(X, Y)
    assert len(batches) == 3  # fit's default batch of 32
    assert result.history["accuracy"][0] == accuracy
    assert result.history["loss"][0] == pytest.approx(loss, rel=1e-6)
    assert result.history["loss"][0] == pytest.approx((32 * batches[0] + 32 * batches[1]
                                                             + 6 * batches[2]) / 70, rel=1e-6)
    dropped = Model(2, [6], 2, np.random.default_rng(0), dropout=0.5)
    result = dropped.fit(X, Y, X, Y, epochs=1, learning_rate=0.0)
    assert result.history["loss"][0] != pytest.approx(dropped.evaluate(X, Y)[0], rel=1e-3)


def test_fit_draws_from_the_generator_it_is_given_and_times_its_epochs():
    X, Y = xor_problem(n=64)
    histories = []
    for seed in (0, 1):
        model = Model(2, [4], 2, np.random.default_rng(0), dropout=0.3)
        started = time.perf_counter()
        result = model.fit(X, Y, X, Y, epochs=2, batch_size=16, learning_rate=0.5,
                           rng=np.random.default_rng(seed))
        elapsed = time.perf_counter() - started
        histories.append(result.history)
        assert all(seconds > 0 for seconds in result.epoch_seconds)
        assert sum(result.epoch_seconds) <= elapsed  # each epoch's time lies within fit's
    assert histories[0] != histories[1]
    default = Model(2, [4], 2, np.random.default_rng(0), dropout=0.3)
    assert default.fit(X, Y, X, Y, epochs=2, batch_size=16).history == \
        Model(2, [4], 2, np.random.default_rng(0), dropout=0.3).fit(
            X, Y, X, Y, epochs=2, batch_size=16, learning_rate=0.1).history  # 0.1 by default


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizers_decay_nothing_unless_asked(name):
    model = Model(3, [2], 2, np.random.default_rng(0))
    before = [p.copy() for p in model.parameters()]
    packed = Packed(model.layers)
    OPTIMIZERS[name]([packed.parameters], [packed.gradients], 0.1, decayed=packed.weights(),
                     packed=packed).step()  # the gradients are all 0
    for a, b in zip(before, model.parameters()):
        np.testing.assert_array_equal(a, b)


def test_the_first_layer_passes_no_gradient_back_to_the_data(monkeypatch):
    """Model.backward asks every layer but the first for dL/dX: nothing upstream of the data
    needs it, and the product is the largest of a step."""
    from HiddenLayer import Dense

    for hidden in ([4, 3], []):
        asked = []
        original = Dense.backward_scores

        def spy(self, grad_Z, need_input_grad=True):
            asked.append(need_input_grad)
            return original(self, grad_Z, need_input_grad)

        monkeypatch.setattr(Dense, "backward_scores", spy)
        model = Model(5, hidden, 2, np.random.default_rng(0))
        model.forward(np.ones((3, 5), np.float32))
        model.backward(one_hot(np.array([0, 1, 1]), 2))
        assert asked == [True] * len(hidden) + [False]  # last layer first
        monkeypatch.undo()


def test_a_layer_drops_nothing_by_default_and_predictions_keep_the_models_dtype():
    from HiddenLayer import HiddenLayer

    layer = HiddenLayer(3, 4, np.random.default_rng(0))
    X = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(layer.forward(X, np.random.default_rng(1)), layer.forward(X))
    for dtype in (np.float32, np.float64):
        model = Model(3, [4], 2, np.random.default_rng(0), dtype=dtype, activation="tanh")
        assert model.activation == "tanh" == model.hidden_layers[0].activation
        rows = np.random.default_rng(2).normal(size=(10, 3)).astype(dtype)
        P = model.predict_proba(rows, chunk_size=4)  # in chunks of 4, 4 and 2 rows
        assert P.dtype == dtype
        np.testing.assert_array_equal(P, model.forward(rows))


def test_a_dense_layer_returns_the_gradient_for_the_layer_below_unless_told_not_to():
    from HiddenLayer import Dense

    layer = Dense(3, 2, np.random.default_rng(0))
    layer.scores(np.ones((4, 3), np.float32))
    grad_Z = np.ones((4, 2), np.float32)
    np.testing.assert_allclose(layer.backward_scores(grad_Z), grad_Z @ layer.weights.T)
    assert layer.backward_scores(grad_Z, need_input_grad=False) is None


# ------------------------------------------------------------ a network stuck at chance

def stuck_verdict(result, folder, kind, status=1):
    """The summary's words and metrics.json of a run expected to end stuck at chance (exit
    status 1 when its network is dead, 0 when it has only not learned yet)."""
    assert result.returncode == status, result.stderr
    summary = words(result.stdout.split("Summary", 1)[1])
    with open(folder / kind / "metrics.json", encoding="utf-8") as stream:
        return summary, json.load(stream)


def test_a_learning_rate_that_kills_the_network_on_images_is_named_and_stops_it(capsys, tmp_path):
    data = make_mnist_like(tmp_path / "mnist.npz", n_train=1000, n_test=200)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs", "8",
                            "--learning_rate", "0.3", "--output_dir", tmp_path / "out")
    summary, metrics = stuck_verdict(result, tmp_path / "out", "mnist")
    assert metrics["status"] == "stuck_at_chance" and metrics["epochs_completed"] == 3
    assert metrics["stuck_at_chance"] is True
    chance = metrics["chance"]
    assert chance["cause"] == "saturated"
    assert chance["accuracy"] == metrics["test_accuracy"]
    assert chance["accuracy"] <= chance["chance_level"] + chance["noise"]
    assert chance["most_answered_share"] == 1.0 and chance["saturation"] >= 0.99
    assert summary.startswith("MNIST: stuck at chance: the network learned nothing useful "
                              "(stopped after epoch 3, as it could not recover; test accuracy "
                              f"{chance['accuracy']:.4f}, where always answering the most common "
                              f"class gets {chance['chance_level']:.4f}")
    assert "The learning rate 0.3 is likely too large" in summary
    assert "--learning_rate 0.03" in summary
    assert "MNIST: stopped after epoch 3 of 8" in words(result.stdout)


def test_a_learning_rate_that_kills_the_network_on_iris_is_named(capsys, tmp_path):
    result = run_in_process(capsys, "--datasets", "iris", "--learning_rate", "0.05",
                            "--epochs", "10", "--output_dir", tmp_path / "out")
    summary, metrics = stuck_verdict(result, tmp_path / "out", "iris")
    assert (metrics["status"] == "stuck_at_chance"
            and metrics["test_accuracy"] == pytest.approx(1 / 3))
    assert "it answers 'Iris-" in summary and "for 100% of the test rows" in summary
    assert "of hidden 2's activations are saturated" in summary


def test_a_network_that_has_not_trained_yet_is_told_to_train_longer(capsys, tmp_path):
    result = run_in_process(capsys, "--datasets", "iris", "--learning_rate", "0.001", "--epochs",
                            "2", "--hidden_layers", "[8]", "--output_dir", tmp_path / "out")
    summary, metrics = stuck_verdict(result, tmp_path / "out", "iris", status=0)
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 2  # not stopped
    assert metrics["chance"]["cause"] == "undertrained"
    assert "It has likely not trained enough yet: try more --epochs" in summary


def test_a_run_that_learned_records_that_it_is_not_stuck(finished):
    with open(finished / "iris" / "metrics.json", encoding="utf-8") as stream:
        metrics = json.load(stream)
    assert metrics["stuck_at_chance"] is False
    chance = metrics["chance"]
    assert chance["accuracy"] > chance["chance_level"] + chance["noise"]


def test_the_plot_of_a_run_with_no_finished_epoch_says_so_and_draws_no_scale():
    empty = {key: [] for key in HISTORY_KEYS}
    figure = plot_history(empty, "loss", "Iris: loss per epoch (diverged)")
    axes = figure.axes[0]
    assert [text.get_text() for text in axes.texts] == ["no epoch finished: nothing to plot"]
    assert list(axes.get_xticks()) == [] and list(axes.get_yticks()) == []
    assert all(len(line.get_xdata()) == 0 for line in axes.lines)
