"""The multilayer perceptron: hidden layers, a softmax output layer, categorical
cross-entropy, mini-batch training, evaluation and the plot of its history.

With HiddenLayer.py and OutputLayer.py this is the whole network; the three need
numpy (matplotlib for plot_history) and nothing else, so they can be read, or
copied into a notebook, on their own. The update rule (an optimizer) and what
runs between steps (callbacks) come in from outside, following the contracts
written beside fit.
"""

import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from HiddenLayer import HiddenLayer
from OutputLayer import OutputLayer

# The history's lists, as Keras's History names them (history.csv's columns too).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# An epoch whose mean training loss exceeds this many times that of guessing
# uniformly, ln(n_classes), has diverged even though every number is still finite:
# the weights have blown up into saturation and the model is confidently wrong.
DIVERGED_LOSS_FACTOR = 3.0

# How training ended: FitResult.status is one of these, or a reason a callback gave.
COMPLETED = "completed"
DIVERGED = "diverged"
STOPPED_EARLY = "stopped_early"
INTERRUPTED = "interrupted"


# ----------------------------------------------------------------- the loss

def cross_entropy(P, Y):
    """The mean categorical cross-entropy -(1/n) sum(Y * log P) of probabilities P against
    one-hot Y, both (n_samples, n_classes), as a Python float."""
    return summed_cross_entropy(P, Y) / P.shape[0]


def summed_cross_entropy(P, Y):
    """-sum(Y * log P) over the samples, as a Python float.

    Each probability is clipped below at the dtype's machine epsilon first (as
    scikit-learn does), so a confidently wrong prediction costs a large finite
    loss instead of log(0) = -inf.
    """
    true_class_probability = np.einsum("ij,ij->i", P, Y)
    np.maximum(true_class_probability, np.finfo(P.dtype).eps, out=true_class_probability)
    return 0.0 - float(np.log(true_class_probability).sum())  # 0.0 - : never print -0.0


def cross_entropy_gradient(P, Y):
    """dL/dZ, the gradient of the mean cross-entropy with respect to the softmax's scores Z.

    With L = -(1/n) * sum(Y * log P) and P = softmax(Z), the chain rule goes
    through dL/dP = -Y / (n P) and the softmax Jacobian diag(P) - P P^T; their
    product is (P * sum(Y) - Y) / n, and each row of one-hot Y sums to 1, so
    dL/dZ = (P - Y) / n. Computed this way it never divides by a probability
    that may be 0, which is why the loss, not the output layer, takes this step.
    """
    return (P - Y) * (1.0 / Y.shape[0])


def one_hot(labels, n_classes, dtype=np.float32):
    """The (n_samples, n_classes) indicator matrix of integer class labels (n_samples,)."""
    labels = checked_labels(labels, n_classes)
    Y = np.zeros((len(labels), n_classes), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


# ------------------------------------- what fit returns, and what it calls

@dataclass
class FitResult:
    """What happened in Model.fit, as Keras's History says it.

    history holds the lists of HISTORY_KEYS, one value per finished epoch;
    epoch_seconds and learning_rates one per finished epoch too. status is
    COMPLETED, DIVERGED (diverged_epoch says when), or the reason a callback
    gave to stop. extras is where callbacks leave what they measured
    ("best_epoch", "layer_health"). A FitResult saved after an epoch is also
    what fit continues from (resume_from).
    """
    history: dict = field(default_factory=lambda: {key: [] for key in HISTORY_KEYS})
    epoch_seconds: list = field(default_factory=list)
    learning_rates: list = field(default_factory=list)
    status: str = COMPLETED
    diverged_epoch: Optional[int] = None
    extras: dict = field(default_factory=dict)

    @property
    def epochs_finished(self):
        return len(self.history["loss"])


@dataclass
class TrainingRun:
    """What a callback can see of the training in progress."""
    model: object
    optimizer: object
    rng: object
    epochs: int
    batch_size: int
    result: FitResult = field(default_factory=FitResult)
    epoch: int = 0
    stop_reason: Optional[str] = None
    n_batches: int = 0
    X_epoch: object = None
    Y_epoch: object = None
    labels_epoch: object = None


class Callback:
    """What fit calls between steps, as Keras's Callback; a callback defines the hooks it needs:

        on_train_begin(run)            before the first epoch
        on_epoch_begin(run)            after the epoch's rows are shuffled into run.X_epoch,
                                       run.Y_epoch and run.labels_epoch, which it may change
        on_batch_end(run, batch_loss)  after every optimizer step
        on_epoch_end(run, logs)        after every finished, evaluated epoch
        on_train_end(run)              after the last epoch, however training ended

    run is the TrainingRun; logs holds the epoch's loss and accuracy (on the training
    rows), val_loss, val_accuracy, learning_rate and seconds. on_batch_end and
    on_epoch_end may return a reason (a short word) to stop training; it becomes
    the result's status. Stopped from on_batch_end, the unfinished epoch is left
    out of the history; stopped from on_epoch_end, the epoch is kept, and the
    callbacks after the one that asked still see it, with run.stop_reason set.
    """

    def on_train_begin(self, run):
        pass

    def on_epoch_begin(self, run):
        pass

    def on_batch_end(self, run, batch_loss):
        return None

    def on_epoch_end(self, run, logs):
        return None

    def on_train_end(self, run):
        pass


class GradientDescent:
    """The optimizer fit uses when it is given none: W <- W - learning_rate * dL/dW.

    An optimizer is anything with a learning_rate attribute and a step() that
    updates the model's parameters in place from the gradients backward() left.
    """

    def __init__(self, model, learning_rate):
        self.model = model
        self.learning_rate = learning_rate

    def step(self):
        for parameter, gradient in zip(self.model.parameters(), self.model.gradients()):
            parameter -= self.learning_rate * gradient


# ---------------------------------------------------------------- the model

class Model:
    """A multilayer perceptron for classification.

    n_features inputs feed len(hidden_sizes) HiddenLayers of the given widths
    (none at all is softmax regression), each with the activation of that name
    (the assignment's sigmoid by default) and, while training, dropout, which
    feed an OutputLayer with one softmax unit per class; the loss is
    categorical cross-entropy. Weights are drawn from rng, a numpy Generator.
    """

    def __init__(self, n_features, hidden_sizes, n_classes, rng, dtype=np.float32,
                 activation="sigmoid", dropout=0.0):
        check_network(n_features, hidden_sizes, n_classes, dtype, dropout)
        rng = generator(rng)
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.dropout = dropout
        self.hidden_sizes = list(hidden_sizes)
        widths = [n_features] + self.hidden_sizes
        self.hidden_layers = [HiddenLayer(n_in, n_out, rng, self.dtype, activation, dropout)
                              for n_in, n_out in zip(widths, widths[1:])]
        self.output_layer = OutputLayer(widths[-1], n_classes, rng, self.dtype)

    @property
    def layers(self):
        return self.hidden_layers + [self.output_layer]

    @property
    def n_features(self):
        return self.layers[0].n_inputs

    @property
    def n_classes(self):
        return self.output_layer.n_classes

    def layer_names(self):
        """"hidden 1", "hidden 2", ..., "output": the layers' names wherever they are reported."""
        return [f"hidden {i + 1}" for i in range(len(self.hidden_layers))] + ["output"]

    def parameters(self):
        """Every layer's weights and bias, input layer first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self):
        """The gradient arrays backward() fills, in the order of parameters()."""
        return [g for layer in self.layers for g in layer.gradients()]

    def forward(self, X, training_rng=None):
        """Class probabilities P (n_samples, n_classes) for inputs X (n_samples, n_features).

        training_rng, the generator dropout draws from, is given only while
        training; evaluating and predicting use every unit.
        """
        activations = X
        for layer in self.layers:
            activations = layer.forward(activations, training_rng)
        return activations

    def backward(self, Y):
        """Gradients of the loss of the last forward() against one-hot Y.

        The loss gives dL/d(the output layer's scores); each layer, last to
        first, turns the gradient with respect to its output into the gradient
        with respect to its input, which is the output of the layer below. The
        first layer skips that last product: nothing upstream of the data needs it.
        """
        grad = cross_entropy_gradient(self.output_layer.probabilities, Y)
        for position in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[position].backward(grad, need_input_grad=position > 0)

    def loss(self, X, Y, training_rng=None):
        """Mean loss of the model on X against one-hot Y."""
        return cross_entropy(self.forward(X, training_rng), Y)

    def predict_proba(self, X, chunk_size=8192):
        """Class probabilities (n_samples, n_classes), computed chunk_size rows at a time."""
        X = checked_inputs(X, self.n_features)
        P = np.empty((len(X), self.n_classes), dtype=self.dtype)
        for begin in range(0, len(X), chunk_size):
            P[begin:begin + chunk_size] = self.forward(X[begin:begin + chunk_size])
        return P

    def evaluate(self, X, Y):
        """(mean loss, accuracy) on inputs X against one-hot targets Y."""
        Y = checked_targets(Y, len(X), self.n_classes)
        P = self.predict_proba(X)
        accuracy = float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
        return cross_entropy(P, Y), accuracy

    def all_finite(self):
        """True when no weight or bias is NaN or infinite."""
        return all(math.isfinite(float(p.sum())) for p in self.parameters())

    # ------------------------------------------------------------- training

    def fit(self, X_train, Y_train, X_val, Y_val, epochs=30, batch_size=32, rng=None,
            learning_rate=0.1, optimizer=None, callbacks=(), resume_from=None):
        """Train with mini-batch gradient descent; return a FitResult.

        X_* are (n_samples, n_features), Y_* one-hot (n_samples, n_classes).
        Each epoch visits the training rows in a fresh order drawn from rng (a
        numpy Generator; seed 0 if none), in batches of batch_size, one
        optimizer step per batch (GradientDescent at learning_rate if no
        optimizer is given), then evaluates the validation set. An epoch's
        training loss and accuracy are the means over its batches, as in Keras.
        An epoch whose loss or weights stop being finite, or whose loss is far
        worse than guessing, ends training as DIVERGED and is not in the history.

        resume_from, the FitResult saved after an epoch, continues a run whose
        model, optimizer, generator and callbacks were restored to that moment,
        exactly as if it had never stopped (a status other than COMPLETED: it
        had been asked to stop then, and trains no further).
        """
        rng = np.random.default_rng(0) if rng is None else generator(rng)
        X_train, X_val = (checked_inputs(X, self.n_features, name)
                          for X, name in ((X_train, "X_train"), (X_val, "X_val")))
        Y_train, Y_val = (checked_targets(Y, len(X), self.n_classes, name) for Y, X, name in
                          ((Y_train, X_train, "Y_train"), (Y_val, X_val, "Y_val")))
        optimizer = optimizer or GradientDescent(self, learning_rate)
        result = resume_from or FitResult()
        first_epoch = result.epochs_finished + 1
        last_epoch = epochs if result.status == COMPLETED else result.epochs_finished
        run = TrainingRun(self, optimizer, rng, epochs, batch_size, result, first_epoch - 1,
                          n_batches=-(-len(X_train) // batch_size))
        # The shuffled copy of the training rows each epoch writes into, allocated once.
        labels = Y_train.argmax(axis=1)
        run.X_epoch, run.Y_epoch = np.empty_like(X_train), np.empty_like(Y_train)
        run.labels_epoch = np.empty_like(labels)
        for callback in callbacks:
            callback.on_train_begin(run)
        # A diverging run overflows in its matrix products (whether numpy warns depends on
        # the BLAS); the checks below catch it and say so once, as DIVERGED.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(first_epoch, last_epoch + 1):
                run.epoch = epoch
                started = time.perf_counter()
                order = rng.permutation(len(X_train))
                for rows, into in ((X_train, run.X_epoch), (Y_train, run.Y_epoch),
                                   (labels, run.labels_epoch)):
                    np.take(rows, order, axis=0, out=into, mode="clip")  # clip: no temporary
                for callback in callbacks:
                    callback.on_epoch_begin(run)
                status, train_loss, train_accuracy = self._train_epoch(run, callbacks)
                if status == COMPLETED and self._diverged(train_loss):
                    status = DIVERGED
                if status != COMPLETED:
                    result.status = status
                    if status == DIVERGED:
                        result.diverged_epoch = epoch
                    break
                val_loss, val_accuracy = self.evaluate(X_val, Y_val)
                logs = {"loss": train_loss, "accuracy": train_accuracy,
                        "val_loss": val_loss, "val_accuracy": val_accuracy}
                for key in HISTORY_KEYS:
                    result.history[key].append(logs[key])
                result.epoch_seconds.append(time.perf_counter() - started)
                result.learning_rates.append(optimizer.learning_rate)
                logs.update(learning_rate=optimizer.learning_rate,
                            seconds=result.epoch_seconds[-1])
                for callback in callbacks:
                    reason = callback.on_epoch_end(run, logs)
                    run.stop_reason = run.stop_reason or reason
                if run.stop_reason:
                    result.status = run.stop_reason
                    break
        for callback in callbacks:
            callback.on_train_end(run)
        return result

    def _diverged(self, train_loss):
        """Whether a finished epoch left the weights non-finite, or the model far worse than
        guessing."""
        return (not self.all_finite()
                or train_loss > DIVERGED_LOSS_FACTOR * math.log(self.n_classes))

    def _train_epoch(self, run, callbacks):
        """One pass over the epoch's shuffled rows, run.X_epoch and run.Y_epoch, in batches.

        Returns (status, mean training loss, training accuracy); status is
        COMPLETED, DIVERGED (a batch loss was not finite) or the reason a
        callback gave to stop.
        """
        X_epoch, Y_epoch, labels_epoch = run.X_epoch, run.Y_epoch, run.labels_epoch
        batch_size = run.batch_size
        loss_sum, n_correct = 0.0, 0
        for begin in range(0, len(X_epoch), batch_size):
            X_batch = X_epoch[begin:begin + batch_size]
            Y_batch = Y_epoch[begin:begin + batch_size]
            P = self.forward(X_batch, run.rng)
            batch_loss = summed_cross_entropy(P, Y_batch)
            if not math.isfinite(batch_loss):
                return DIVERGED, None, None
            loss_sum += batch_loss
            n_correct += int(np.count_nonzero(
                P.argmax(axis=1) == labels_epoch[begin:begin + batch_size]))
            self.backward(Y_batch)
            run.optimizer.step()
            for callback in callbacks:
                reason = callback.on_batch_end(run, batch_loss / len(X_batch))
                if reason:
                    return reason, None, None
        return COMPLETED, loss_sum / len(X_epoch), n_correct / len(X_epoch)


# ------------------------------------------------------------------ the plot

def plot_history(history, metric, title, best_epoch=None, n_val=None):
    """A matplotlib Figure of one metric ("loss" or "accuracy") per epoch.

    Training and validation curves share the axes (n_val, when given, says in
    the legend how many rows the validation curve is measured on: on a dozen,
    one row moves the accuracy by 8 points); best_epoch, when given, is
    marked with a vertical line. The Figure is made without pyplot (drawn by
    Agg), so no window or global state is involved; save it with savefig.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    train = history[metric]
    val = history["val_" + metric]
    epochs = range(1, len(train) + 1)
    marker = "o" if len(train) <= 30 else None
    axes.plot(epochs, train, marker=marker, markersize=3, label="training")
    axes.plot(epochs, val, marker=marker, markersize=3,
              label=f"validation ({n_val} rows)" if n_val else "validation")
    if best_epoch:
        axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                     label=f"lowest validation loss (epoch {best_epoch})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
    axes.set_title(title)
    if not train:  # training ended before its first epoch did: say so, draw no empty scale
        axes.text(0.5, 0.5, "no epoch finished: nothing to plot", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        return figure
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


# ------------------------------------------------- what a caller hands the model

def check_network(n_features, hidden_sizes, n_classes, dtype, dropout):
    """TypeError or ValueError naming the argument of Model(...) that cannot make a network."""
    for name, value, least in (("n_features", n_features, 1), ("n_classes", n_classes, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} is {value!r}; expected a whole number of at least {least}")
    sizes = list(hidden_sizes) if np.iterable(hidden_sizes) else None
    if sizes is None or not all(isinstance(size, (int, np.integer)) and not isinstance(size, bool)
                                and size >= 1 for size in sizes):
        raise ValueError(f"hidden_sizes is {hidden_sizes!r}; expected a list of widths of at "
                         f"least 1, such as [256, 64] ([] for none)")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"dtype is {dtype!r}; expected a float type such as np.float32")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout is {dropout!r}; expected a rate from 0 up to, not including, 1")


def generator(rng):
    """rng as a numpy Generator: one already, or one seeded with rng (an int or None)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (not isinstance(rng, (int, np.integer)) or isinstance(rng, bool)
                            or rng < 0):
        raise TypeError(f"rng is {rng!r}; expected a seed (a whole number >= 0) or a "
                        f"numpy Generator, such as np.random.default_rng(0)")
    return np.random.default_rng(rng)


def checked_inputs(X, n_features, name="X"):
    """X as an array of shape (n_samples, n_features) of finite numbers; else TypeError or
    ValueError naming name, what it is and what is expected."""
    X = np.asarray(X)
    if X.dtype.kind not in "iuf":
        raise TypeError(f"{name} holds {X.dtype} values; expected numbers, an array of shape "
                        f"(n_samples, {n_features})")
    if X.ndim != 2 or X.shape[1] != n_features or len(X) == 0:
        raise ValueError(f"{name} has shape {X.shape}; expected (n_samples, {n_features}): at "
                         f"least one row, and one column per feature the model was built for")
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        raise ValueError(f"{name} row {int(np.argmin(finite))} holds NaN or infinity; expected "
                         f"finite numbers")
    return X


def checked_targets(Y, n_samples, n_classes, name="Y"):
    """Y as one-hot rows of shape (n_samples, n_classes); else an error naming name that says,
    for class labels, how to make them one-hot."""
    Y = np.asarray(Y)
    if Y.ndim == 1:
        raise ValueError(f"{name} has shape {Y.shape}: class labels; expected one-hot rows of "
                         f"shape ({n_samples}, {n_classes}), which one_hot({name}, {n_classes}) "
                         f"makes of them")
    if Y.dtype.kind not in "biuf":
        raise TypeError(f"{name} holds {Y.dtype} values; expected one-hot rows of numbers")
    if Y.shape != (n_samples, n_classes):
        raise ValueError(f"{name} has shape {Y.shape}; expected ({n_samples}, {n_classes}): "
                         f"one one-hot row per row of the inputs, one column per class")
    if not (np.isfinite(Y).all() and Y.min(initial=0) >= 0
            and np.allclose(Y.sum(axis=1), 1, atol=1e-3)):
        raise ValueError(f"{name} has rows that are not one-hot (each row: numbers from 0 to 1 "
                         f"that sum to 1)")
    return Y


def checked_labels(labels, n_classes):
    """labels as whole class indices (n_samples,) from 0 to n_classes - 1; else an error that
    says which label is wrong."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iuf":
        raise ValueError(f"labels has shape {labels.shape} of {labels.dtype}; expected class "
                         f"indices (n_samples,) from 0 to {n_classes - 1}")
    wrong = (labels != np.round(labels)) | (labels < 0) | (labels >= n_classes)  # NaN too
    if wrong.any():
        first = int(np.argmax(wrong))
        raise ValueError(f"labels[{first}] is {labels[first].item()!r}; expected a whole class "
                         f"index from 0 to {n_classes - 1}")
    return labels.astype(np.intp)
