"""The callbacks Main.py trains with: what happens between the steps of Model.fit.

Each is a Model.Callback (the contract is written there, beside fit) that defines only the
hooks it needs: the progress line, the Ctrl-C stop, early stopping, the layers' health, a
network stuck at chance, and --augment (every training image, every epoch, moved a few pixels
in a random direction: a fully connected network has no notion that a digit moved one pixel
is the same digit, and seeing it in slightly different places teaches it; Simard, Steinkraus
and Platt, 2003). A callback whose state must survive a restart (early stopping's best epoch)
has state() -> (values, arrays), restore(values, arrays) and a name; the checkpoint saves and
restores them."""

import contextlib
import os
import sys
import time

import numpy as np

from mlp.diagnostics import chance_level, gradient_rms, plot_augmented, save_figure
from mlp.files import make_folder, say
from mlp.optimizers import packed_parameters, unpack_parameters
from mlp.record import STUCK
from Model import INTERRUPTED, STOPPED_EARLY, Callback


@contextlib.contextmanager
def timed(owner):
    """Add the seconds the with block takes to owner.seconds: how every callback counts what it
    costs (metrics.json's *_seconds)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        owner.seconds += time.perf_counter() - started


class PrintProgress(Callback):
    """One line per epoch: its losses, accuracies, learning rate and seconds.

    On a terminal, an epoch that runs for longer than SHOW_AFTER seconds also
    gets a line updated in place, as Keras's progress bar: batches done, the
    running loss and the time left. A file or a pipe gets only the epoch lines.
    """

    SHOW_AFTER = 2.0        # seconds into an epoch before the in-place line appears
    REFRESH = 0.2           # seconds between its updates

    def __init__(self, stream=None, clock=time.perf_counter):
        self.stream = stream or sys.stdout
        self.clock = clock
        # The in-place line needs a terminal that understands "erase the line" (not TERM=dumb).
        self.live = _isatty(self.stream) and os.environ.get("TERM") != "dumb"
        self._shown = False

    def _start_epoch(self, run):
        self._epoch = run.epoch
        self._started = self._next_update = self.clock()
        self._next_update += self.SHOW_AFTER
        self._batches, self._loss_sum = 0, 0.0

    def on_train_begin(self, run):
        self._start_epoch(run)
        self._epoch = run.epoch + 1

    def on_batch_end(self, run, batch_loss):
        if not self.live:
            return None
        if run.epoch != self._epoch:
            self._start_epoch(run)
        self._batches += 1
        self._loss_sum += batch_loss
        now = self.clock()
        if now >= self._next_update:
            self._next_update = now + self.REFRESH
            left = (now - self._started) / self._batches * (run.n_batches - self._batches)
            width = len(str(run.epochs))
            say(f"\r  epoch {run.epoch:{width}d}/{run.epochs}  batch {self._batches}/"
                f"{run.n_batches}  loss {self._loss_sum / self._batches:.4f}  {left:.0f} s left "
                f"\x1b[K", end="", stream=self.stream)
            self._shown = True
        return None

    def on_epoch_end(self, run, logs):
        if self._shown:
            say("\r\x1b[K", end="", stream=self.stream)
            self._shown = False
        self._start_epoch(run)
        self._epoch = run.epoch + 1
        width = len(str(run.epochs))
        say(f"  epoch {run.epoch:{width}d}/{run.epochs}  loss {logs['loss']:.4f}  "
            f"accuracy {logs['accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  "
            f"val_accuracy {logs['val_accuracy']:.4f}  lr {logs['learning_rate']:.2e}  "
            f"{logs['seconds']:.3g} s", stream=self.stream)

    def on_train_end(self, run):
        if self._shown:
            say("\r\x1b[K", end="", stream=self.stream)
            self._shown = False


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class StopOnRequest(Callback):
    """Ends training after the current batch once requested() is true (a signal arrived, say)."""

    def __init__(self, requested):
        self.requested = requested

    def on_batch_end(self, run, batch_loss):
        return INTERRUPTED if self.requested() else None


class EarlyStopping(Callback):
    """Stops when the validation loss has not improved for patience epochs, and goes back
    to the weights of the best epoch (Keras's EarlyStopping with restore_best_weights).

    best_epoch is the epoch of the lowest validation loss so far (1-based).
    """

    name = "early_stopping"

    def __init__(self, patience):
        self.patience = patience
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.best_weights = None
        self.stopped = False

    def on_epoch_end(self, run, logs):
        if logs["val_loss"] < self.best_loss:
            self.best_loss, self.best_epoch = logs["val_loss"], run.epoch
            self.best_weights = packed_parameters(run.model)
        elif run.epoch - self.best_epoch >= self.patience:
            self.stopped = True
            return STOPPED_EARLY
        return None

    def on_train_end(self, run):
        if self.stopped:
            unpack_parameters(self.best_weights, run.model)
        run.result.extras["best_epoch"] = self.best_epoch

    def state(self):
        values = {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                  "stopped": self.stopped}
        arrays = {} if self.best_weights is None else {"best_weights": self.best_weights}
        return values, arrays

    def restore(self, values, arrays):
        self.best_loss, self.best_epoch = float(values["best_loss"]), int(values["best_epoch"])
        if not isinstance(values["stopped"], bool):
            raise TypeError(f"early stopping's stopped is {values['stopped']!r}, not true or false")
        self.stopped = values["stopped"]
        self.best_weights = arrays.get("best_weights")
        if self.best_weights is not None:
            self.best_weights = np.array(self.best_weights)


class LayerHealth(Callback):
    """How each layer is learning, measured every epoch (CS231n's and Nielsen's diagnostics).

    For every layer: the norm of its weight gradient and the size of a step's
    update relative to the weights (about 1e-3 is healthy, by CS231n's rule of
    thumb), both averaged over a sample of the epoch's batches (every
    SAMPLE_EVERY-th, which keeps the cost near 1% of an epoch; in an epoch of
    fewer batches, its last); and for hidden layers whose activation saturates,
    the share of activations beyond its saturation limits (ACTIVATIONS) on the
    first SATURATION_ROWS validation rows. Kept in
    run.result.extras["layer_health"], one list per measure, one entry per epoch
    with one value per layer. seconds counts the time it takes.
    """

    SAMPLE_EVERY = 10
    SATURATION_ROWS = 1000

    def __init__(self, X_val):
        self.X_sample = X_val[:self.SATURATION_ROWS]
        self.seconds = 0.0

    def on_train_begin(self, run):
        model = run.model
        self.health = run.result.extras.setdefault(
            "layer_health", {"layers": model.layer_names(), "gradient_norm": [],
                             "update_ratio": [], "saturation": []})
        self._before = [np.empty_like(layer.weights) for layer in model.layers]
        self._reset()

    def _reset(self):
        self._batch = 0
        self._samples = 0
        self._gradient_norm = np.zeros(len(self._before))
        self._update_ratio = np.zeros(len(self._before))

    def on_batch_end(self, run, batch_loss):
        self._batch += 1
        every = min(self.SAMPLE_EVERY, run.n_batches)
        position = self._batch % every
        if every > 1 and position == every - 1:
            self._keep_weights(run.model)
        elif position == 0:
            with timed(self):
                for index, (before, layer) in enumerate(zip(self._before, run.model.layers)):
                    np.subtract(layer.weights, before, out=before)
                    self._gradient_norm[index] += np.linalg.norm(layer.grad_weights)
                    self._update_ratio[index] += (np.linalg.norm(before)
                                                  / (np.linalg.norm(layer.weights) or 1.0))
                self._samples += 1
        return None

    def on_epoch_begin(self, run):
        if run.n_batches == 1:  # one batch an epoch: the weights before it are these
            self._keep_weights(run.model)

    def _keep_weights(self, model):
        with timed(self):
            for before, layer in zip(self._before, model.layers):
                np.copyto(before, layer.weights)

    def on_epoch_end(self, run, logs):
        with timed(self):
            samples = max(self._samples, 1)
            self.health["gradient_norm"].append((self._gradient_norm / samples).tolist())
            self.health["update_ratio"].append((self._update_ratio / samples).tolist())
            self.health["saturation"].append(saturation(run.model, self.X_sample))
            self._reset()
        return None


class StuckAtChance(Callback):
    """Stops a run that can no longer learn: EPOCHS epochs in a row, its validation accuracy
    within noise of chance, it answers one class for nearly every row, and a hidden layer is
    nearly all saturated, so that almost no gradient passes it. Each epoch's share of the most
    answered class is kept in run.result.extras["most_answered_share"] (so a resumed run decides
    as the uninterrupted one); LayerHealth must come before it."""

    EPOCHS = 3
    ONE_CLASS = 0.9
    SATURATED = 0.99

    def __init__(self, X_val, y_val, n_classes):
        self.X_sample = X_val[:LayerHealth.SATURATION_ROWS]
        self.level, self.noise = chance_level(y_val, n_classes)

    def on_epoch_end(self, run, logs):
        answers = np.bincount(run.model.predict_proba(self.X_sample).argmax(axis=1))
        shares = run.result.extras.setdefault("most_answered_share", [])
        shares.append(float(answers.max() / len(self.X_sample)))
        saturation = run.result.extras.get("layer_health", {}).get("saturation", [])
        recent = zip(run.result.history["val_accuracy"][-self.EPOCHS:], shares[-self.EPOCHS:],
                     saturation[-self.EPOCHS:])
        dead = [accuracy <= self.level + self.noise and share >= self.ONE_CLASS
                and max((s for s in layers if s is not None), default=0) >= self.SATURATED
                for accuracy, share, layers in recent]
        if len(dead) == self.EPOCHS and all(dead) and run.epoch < run.epochs:
            return STUCK
        return None


# Each saturating activation's limits: a unit whose output is below the first or above the
# second is saturated, its derivative nearly 0, and it barely learns. ReLU never saturates.
SATURATION_LIMITS = {"sigmoid": (0.01, 0.99), "tanh": (-0.98, 0.98)}


def saturation(model, X):
    """Share of each hidden layer's activations on X beyond its activation's SATURATION_LIMITS
    (None for an activation without any, and for the output layer): such units barely learn,
    their derivative being near 0."""
    shares = []
    activations = X
    for layer in model.hidden_layers:
        activations = layer.forward(activations)
        limits = SATURATION_LIMITS.get(layer.activation)
        if limits is None:
            shares.append(None)
        else:
            low, high = limits
            shares.append(float(np.mean((activations < low) | (activations > high))))
    return shares + [None]


def weights_per_layer(model):
    return [layer.weights.size for layer in model.layers]


def health_sentence(health, model):
    """One sentence that reads the layer health for the summary: how fast each layer learned in
    the first epoch (before a decaying learning rate shrinks every step), and how saturated the
    hidden layers were at the end."""
    if not health["gradient_norm"]:
        return ""
    per_weight = gradient_rms(health["gradient_norm"][0], weights_per_layer(model))
    parts = []
    if len(per_weight) > 1 and per_weight[0] > 0 and per_weight[-1] > 0:
        ratio = per_weight[-1] / per_weight[0]
        comparison = (f"{ratio:.3g} times smaller" if ratio >= 1
                      else f"{1 / ratio:.3g} times larger")
        parts.append(f"the first hidden layer's weights got gradients {comparison} than the output "
                     f"layer's (root mean square per weight)")
    ratios = health["update_ratio"][0]
    parts.append(f"each step moved a layer's weights by {min(ratios):.1e} to {max(ratios):.1e} of "
                 f"their size (about 1e-3 is healthy)")
    text = "in the first epoch, " + "; ".join(parts)
    saturated = {name: share for name, share in zip(health["layers"], health["saturation"][-1])
                 if share is not None}
    if saturated:
        name = max(saturated, key=saturated.get)
        text += (f"; by the last, {saturated[name]:.1%} of {name}'s activations were saturated"
                 + (" (the most of any layer)" if len(saturated) > 1 else ""))
    return text


def shift_block(source, target, dy, dx):
    """target = source moved down by dy and right by dx pixels, for a block of images.

    source and target are (n, height, width); what moves in from outside is 0,
    nothing wraps around.
    """
    height, width = source.shape[1:]
    if abs(dy) >= height or abs(dx) >= width:
        target[...] = 0
        return target
    target[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        source[:, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    # Only the strips the image moved away from need zeros.
    target[:, :max(dy, 0)] = 0
    target[:, height + min(dy, 0):] = 0
    target[:, :, :max(dx, 0)] = 0
    target[:, :, width + min(dx, 0):] = 0
    return target


class Augment(Callback):
    """Replaces each epoch's shuffled training rows by shifted copies, each image by its own
    random shift of up to pixels in each direction, drawn from the run's generator (so a
    seed gives the same run, and --resume stays exact).

    The rows arrive in a random order, so cutting them into consecutive blocks, one
    per shift, with block sizes drawn from a multinomial, gives every image an
    independent, uniformly drawn shift, and lets each block move by plain slicing
    (measured 4 to 7 times faster than gathering the images of each shift). The
    rows are then shuffled once more, so that a batch mixes shifts.
    image_shape is (height, width); seconds counts the time it takes.
    """

    def __init__(self, image_shape, pixels):
        self.image_shape = tuple(image_shape)
        self.pixels = pixels
        self.seconds = 0.0
        self._shifts = [(dy, dx) for dy in range(-pixels, pixels + 1)
                        for dx in range(-pixels, pixels + 1)]
        self._buffers = None

    def on_epoch_begin(self, run):
        with timed(self):
            X, Y, labels = run.X_epoch, run.Y_epoch, run.labels_epoch
            if self._buffers is None:
                self._buffers = (np.empty_like(X), np.empty_like(Y), np.empty_like(labels))
            shifted, Y_out, labels_out = self._buffers
            images = X.reshape(len(X), *self.image_shape)
            shifted_images = shifted.reshape(images.shape)
            counts = run.rng.multinomial(len(X), [1 / len(self._shifts)] * len(self._shifts))
            start = 0
            for (dy, dx), count in zip(self._shifts, counts):
                shift_block(images[start:start + count], shifted_images[start:start + count],
                            dy, dx)
                start += count
            order = run.rng.permutation(len(X))
            # mode="clip" lets take write straight into out (the indices are all valid).
            np.take(shifted, order, axis=0, out=X, mode="clip")
            np.take(Y, order, axis=0, out=Y_out, mode="clip")
            np.take(labels, order, out=labels_out, mode="clip")
            run.Y_epoch, run.labels_epoch = Y_out, labels_out


def save_examples(path, title, dataset, pixels, seed, count=8):
    """augmented.png: the first count training images and three shifted copies of each.

    The shifts are drawn from a generator of their own (seeded from --seed), so
    the picture takes nothing from the run's.
    """
    make_folder(os.path.dirname(path))
    images = dataset.X_train[:count].reshape(count, *dataset.image_shape)
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(3):
        shifted = np.empty_like(images)
        for index, (dy, dx) in enumerate(rng.integers(-pixels, pixels + 1, size=(count, 2))):
            shift_block(images[index:index + 1], shifted[index:index + 1], int(dy), int(dx))
        copies.append(shifted)
    unit = "pixel" if pixels == 1 else "pixels"
    save_figure(plot_augmented(images, copies, f"{title}: training images (top row) and the "
                                               f"copies --augment makes of them (shifts up to "
                                               f"{pixels} {unit})"), path)
