"""The multilayer perceptron: hidden layers, a softmax output layer,
categorical cross-entropy, mini-batch training, evaluation and plots."""

import math
import time
from typing import Callable, NamedTuple

import numpy as np

from Callbacks import TrainingRun, overrides
from HiddenLayer import HiddenLayer
from Optimizer import LEARNING_RATE_SCHEDULES, make_optimizer
from OutputLayer import OutputLayer

HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
# An epoch whose mean training loss exceeds this many times that of guessing
# uniformly, ln(n_classes), has diverged even though every number is still finite:
# the weights have blown up into saturation and the model is confidently wrong.
DIVERGED_LOSS_FACTOR = 3.0


def cross_entropy(P, Y):
    """Mean categorical cross-entropy -(1/n) * sum(Y * log P) of probabilities P against one-hot Y."""
    return CROSS_ENTROPY.value(P, Y)


def summed_cross_entropy(P, Y):
    """-sum(Y * log P) over the samples, as a Python float; P and Y are (n_samples, n_classes).

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
    grad_scores = P - Y
    grad_scores *= 1.0 / Y.shape[0]
    return grad_scores


class Loss(NamedTuple):
    """A loss as the pair training needs: its value and its gradient for the output layer."""
    summed: Callable         # (P, Y) -> the loss summed over the samples, a float
    gradient: Callable       # (P, Y) -> d(mean loss)/d(output layer's scores), like P

    def value(self, P, Y):
        """The mean loss over the samples (what is reported and differentiated)."""
        return self.summed(P, Y) / P.shape[0]


CROSS_ENTROPY = Loss(summed_cross_entropy, cross_entropy_gradient)


def one_hot(labels, n_classes, dtype=np.float32):
    """The (n_samples, n_classes) indicator matrix of integer class labels (n_samples,)."""
    Y = np.zeros((len(labels), n_classes), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


def confusion_matrix(true_labels, predicted_labels, n_classes):
    """Counts C (n_classes, n_classes): C[i, j] rows of true class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (true_labels, predicted_labels), 1)
    return counts


def per_class_scores(counts, class_names):
    """Precision, recall, F1 and support of every class from a confusion matrix.

    Precision of class j is the share of rows predicted j that are j; recall
    the share of rows of class j predicted j; F1 their harmonic mean. A ratio
    with nothing to divide by is reported as 0, as scikit-learn does.
    """
    true_positives = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0)
    actual = counts.sum(axis=1)
    scores = {}
    for j, name in enumerate(class_names):
        precision = true_positives[j] / predicted[j] if predicted[j] else 0.0
        recall = true_positives[j] / actual[j] if actual[j] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                        "support": int(actual[j])}
    return scores


CALIBRATION_BINS = 15


def calibration(P, labels, n_bins=CALIBRATION_BINS):
    """How far the model's confidence is from its accuracy, as Guo et al. (2017) measure it.

    The confidence of a row is its largest probability in P (n_samples,
    n_classes); the rows are put into n_bins equal-width bins of confidence,
    ((m - 1) / n_bins, m / n_bins], and the expected calibration error is the
    rows' share of each bin times the gap between the bin's accuracy and its
    mean confidence, summed. Returns {"expected_calibration_error", "bins":
    {"upper", "count", "confidence", "accuracy"} per bin, None where a bin is empty}.
    """
    confidence = P.max(axis=1).astype(np.float64)
    correct = (P.argmax(axis=1) == labels).astype(np.float64)
    which = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    confidence_sums = np.bincount(which, weights=confidence, minlength=n_bins)
    correct_sums = np.bincount(which, weights=correct, minlength=n_bins)
    filled = counts > 0
    mean_confidence = np.divide(confidence_sums, counts, out=np.zeros(n_bins), where=filled)
    accuracy = np.divide(correct_sums, counts, out=np.zeros(n_bins), where=filled)
    error = float(np.sum(counts / len(P) * np.abs(accuracy - mean_confidence)))
    return {"expected_calibration_error": error,
            "bins": {"upper": [(m + 1) / n_bins for m in range(n_bins)],
                     "count": counts.tolist(),
                     "confidence": [float(c) if f else None for c, f in zip(mean_confidence, filled)],
                     "accuracy": [float(a) if f else None for a, f in zip(accuracy, filled)]}}


class Model:
    """A multilayer perceptron for classification.

    n_features inputs feed len(hidden_sizes) HiddenLayers of the given widths
    (none at all is softmax regression), each with the activation of that name
    (the assignment's sigmoid by default) and, while training, dropout, which
    feed an OutputLayer with one softmax unit per class; the loss is
    categorical cross-entropy. Weights are drawn from rng, a numpy Generator.
    """

    loss_function = CROSS_ENTROPY

    def __init__(self, n_features, hidden_sizes, n_classes, rng, dtype=np.float32,
                 activation="sigmoid", dropout=0.0):
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.dropout = dropout
        self.hidden_sizes = list(hidden_sizes)
        widths = [n_features] + self.hidden_sizes
        self.hidden_layers = [HiddenLayer(n_in, n_out, rng, self.dtype, activation, dropout)
                              for n_in, n_out in zip(widths, widths[1:])]
        self.output_layer = OutputLayer(widths[-1], n_classes, rng, self.dtype)
        self.parameter_vector, self.gradient_vector = self._share_one_buffer()

    def _share_one_buffer(self):
        """Move every layer's parameters, and their gradients, into one contiguous vector each.

        The layers keep working on their own arrays, which become views of the
        vectors; an optimizer then updates the whole model in a handful of
        array operations instead of a handful per layer.
        """
        names = ("weights", "bias")
        arrays = [getattr(layer, name) for layer in self.layers for name in names]
        parameter_vector = np.concatenate([a.ravel() for a in arrays])
        gradient_vector = np.zeros_like(parameter_vector)
        offset = 0
        for layer in self.layers:
            for name in names:
                shape = getattr(layer, name).shape
                size = int(np.prod(shape))
                setattr(layer, name, parameter_vector[offset:offset + size].reshape(shape))
                setattr(layer, "grad_" + name, gradient_vector[offset:offset + size].reshape(shape))
                offset += size
        return parameter_vector, gradient_vector

    def build_optimizer(self, name, learning_rate, weight_decay=0.0):
        """The optimizer called name (a key of Optimizer.OPTIMIZERS) bound to this model's
        parameters; weight decay, if any, shrinks the weights and leaves the biases alone."""
        return make_optimizer(name, [self.parameter_vector], [self.gradient_vector], learning_rate,
                              weight_decay, [layer.weights for layer in self.layers])

    @property
    def layers(self):
        return self.hidden_layers + [self.output_layer]

    @property
    def n_features(self):
        return self.layers[0].n_inputs

    @property
    def n_classes(self):
        return self.output_layer.n_classes

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
        grad = self.loss_function.gradient(self.output_layer.probabilities, Y)
        layers = self.layers
        for position in range(len(layers) - 1, -1, -1):
            grad = layers[position].backward(grad, need_input_grad=position > 0)

    def loss(self, X, Y, training_rng=None):
        """Mean loss of the model on X against one-hot Y."""
        return self.loss_function.value(self.forward(X, training_rng), Y)

    def predict_proba(self, X, chunk_size=8192):
        """Class probabilities (n_samples, n_classes), computed chunk_size rows at a time."""
        P = np.empty((len(X), self.n_classes), dtype=self.dtype)
        for begin in range(0, len(X), chunk_size):
            P[begin:begin + chunk_size] = self.forward(X[begin:begin + chunk_size])
        return P

    def predict(self, X):
        """The most probable class index (n_samples,) for each row of X."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X, Y):
        """(mean loss, accuracy) on inputs X against one-hot targets Y."""
        P = self.predict_proba(X)
        accuracy = float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
        return self.loss_function.value(P, Y), accuracy

    def assess(self, X, labels, class_names):
        """Everything a report on a test set needs, as a dict.

        "loss" and "accuracy" on inputs X against integer labels (n_samples,);
        "confusion_matrix" and "per_class" scores; "calibration" (see
        calibration()); and the "probabilities" (n_samples, n_classes) they all
        come from.
        """
        P = self.predict_proba(X)
        counts = confusion_matrix(labels, P.argmax(axis=1), len(class_names))
        return {"loss": self.loss_function.value(P, one_hot(labels, len(class_names), P.dtype)),
                "accuracy": float(np.trace(counts) / len(labels)),
                "confusion_matrix": counts, "per_class": per_class_scores(counts, class_names),
                "calibration": calibration(P, labels), "probabilities": P}

    def summary(self):
        """The layers with their shapes and parameter counts, and the total, as lines of text
        (as Keras's Model.summary() prints them)."""
        lines = [f"  {'layer':<22}{'shape':>14}{'parameters':>14}"]
        for index, layer in enumerate(self.layers):
            if layer is self.output_layer:
                name = "output (softmax)"
            else:
                name = f"hidden {index + 1} ({layer.activation})"
            shape = f"{layer.n_inputs} -> {layer.n_outputs}"
            lines.append(f"  {name:<22}{shape:>14}{layer.weights.size + layer.bias.size:>14,}")
        lines.append(f"  {'total':<22}{'':>14}{self.parameter_vector.size:>14,}")
        return lines

    def all_finite(self):
        """True when no weight or bias is NaN or infinite."""
        return all(math.isfinite(float(p.sum())) for p in self.parameters())

    def fit(self, X_train, Y_train, X_val, Y_val, optimizer, epochs, batch_size, rng,
            schedule="constant", callbacks=(), resume_from=None):
        """Train with mini-batch gradient descent; return what happened.

        Each epoch visits the training rows in a fresh order drawn from rng, in
        batches of batch_size, taking one optimizer step per batch; then the
        model is evaluated on the validation set. schedule, a key of
        LEARNING_RATE_SCHEDULES, sets the learning rate of each epoch from the
        one the optimizer has on entry. The training loss and accuracy of an
        epoch are the means over its batches, as Keras reports them.
        callbacks (see Callbacks.py) are called after every batch and epoch,
        and may stop training. resume_from, a dict {"epoch", "result",
        "stop_reason"} saved by a checkpoint after that epoch, continues a run
        whose model, optimizer, generator and callbacks have been restored to
        that moment: it goes on exactly as the run that was never stopped.

        Returns a dict: "history" (lists of HISTORY_KEYS, one value per finished
        epoch), "epoch_seconds", "learning_rates", and "status": "completed",
        "diverged" (the loss or the weights stopped being finite, or the
        epoch's loss was far worse than guessing; "diverged_epoch" says when)
        or the reason a callback gave. A diverged epoch, and one a callback
        stopped part-way, is not in the history.
        """
        if resume_from is None:
            result = {"history": {key: [] for key in HISTORY_KEYS}, "epoch_seconds": [],
                      "learning_rates": [], "status": "completed"}
            first_epoch, stop = 1, None
        else:
            result = resume_from["result"]
            first_epoch, stop = resume_from["epoch"] + 1, resume_from["stop_reason"]
        history = result["history"]
        run = TrainingRun(self, optimizer, rng, epochs, batch_size, result, first_epoch - 1,
                          n_batches=-(-len(X_train) // batch_size))
        batch_hooks = [c.on_batch_end for c in callbacks if overrides(c, "on_batch_end")]
        epoch_hooks = [c.on_epoch_begin for c in callbacks if overrides(c, "on_epoch_begin")]
        rate_at = LEARNING_RATE_SCHEDULES[schedule].rate
        base_rate = optimizer.learning_rate
        shuffled = _ShuffleBuffers(X_train, Y_train)
        for callback in callbacks:
            callback.on_train_begin(run)
        # A diverging run overflows in its matrix products (whether numpy warns depends on
        # the BLAS); the checks below catch it and say so once, as "diverged".
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                for epoch in range(first_epoch, epochs + 1 if stop is None else first_epoch):
                    run.epoch = epoch
                    started = time.perf_counter()
                    optimizer.learning_rate = rate_at(base_rate, epoch, epochs)
                    status, train_loss, train_accuracy = self._train_epoch(
                        run, shuffled, epoch_hooks, batch_hooks)
                    if status == "completed" and self._diverged(train_loss):
                        status = "diverged"
                    if status != "completed":
                        result["status"] = status
                        if status == "diverged":
                            result["diverged_epoch"] = epoch
                        break
                    val_loss, val_accuracy = self.evaluate(X_val, Y_val)
                    logs = {"train_loss": train_loss, "train_accuracy": train_accuracy,
                            "val_loss": val_loss, "val_accuracy": val_accuracy}
                    for key in HISTORY_KEYS:
                        history[key].append(logs[key])
                    result["epoch_seconds"].append(time.perf_counter() - started)
                    result["learning_rates"].append(optimizer.learning_rate)
                    logs.update(learning_rate=optimizer.learning_rate,
                                seconds=result["epoch_seconds"][-1])
                    for callback in callbacks:
                        reason = callback.on_epoch_end(run, logs)
                        run.stop_reason = run.stop_reason or reason
                    if run.stop_reason:
                        break
            finally:
                optimizer.learning_rate = base_rate
        stop = stop or run.stop_reason
        if stop:
            result["status"] = stop
        for callback in callbacks:
            callback.on_train_end(run)
        return result

    def _diverged(self, train_loss):
        """Whether a finished epoch left the weights non-finite, or the model far worse than guessing."""
        return (not self.all_finite()
                or train_loss > DIVERGED_LOSS_FACTOR * math.log(self.n_classes))

    def _train_epoch(self, run, shuffled, epoch_hooks, batch_hooks):
        """One pass over the training rows in a new random order.

        Returns (status, mean training loss, training accuracy); status is
        "completed", "diverged" (a batch loss was not finite) or the reason a
        batch hook gave to stop.
        """
        run.X_epoch, run.Y_epoch, run.labels_epoch = shuffled.shuffle(run.rng)
        for hook in epoch_hooks:
            hook(run)
        X_order, Y_order, labels_order = run.X_epoch, run.Y_epoch, run.labels_epoch
        batch_size, optimizer = run.batch_size, run.optimizer
        loss_sum = 0.0
        n_correct = 0
        for begin in range(0, len(X_order), batch_size):
            X_batch = X_order[begin:begin + batch_size]
            Y_batch = Y_order[begin:begin + batch_size]
            P = self.forward(X_batch, run.rng)
            batch_loss = self.loss_function.summed(P, Y_batch)
            if not math.isfinite(batch_loss):
                return "diverged", None, None
            loss_sum += batch_loss
            n_correct += int(np.count_nonzero(
                P.argmax(axis=1) == labels_order[begin:begin + batch_size]))
            self.backward(Y_batch)
            optimizer.step()
            for hook in batch_hooks:
                reason = hook(run, batch_loss / len(X_batch))
                if reason:
                    return reason, None, None
        return "completed", loss_sum / len(X_order), n_correct / len(X_order)


class _ShuffleBuffers:
    """The training rows, and room for one shuffled copy of them.

    Shuffling copies the rows once per epoch into buffers allocated once, so
    that every mini-batch is then a contiguous slice: cheaper than gathering
    rows by fancy indexing for each batch.
    """

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        self.labels = Y.argmax(axis=1)
        self.X_order = np.empty_like(X)
        self.Y_order = np.empty_like(Y)
        self.labels_order = np.empty_like(self.labels)

    def shuffle(self, rng):
        order = rng.permutation(len(self.X))
        # mode="clip" (the indices are all valid anyway) lets take write straight
        # into out; the default mode="raise" goes through a temporary copy.
        np.take(self.X, order, axis=0, out=self.X_order, mode="clip")
        np.take(self.Y, order, axis=0, out=self.Y_order, mode="clip")
        np.take(self.labels, order, out=self.labels_order, mode="clip")
        return self.X_order, self.Y_order, self.labels_order


def plot_history(history, metric, title, best_epoch=None):
    """A matplotlib Figure of one metric ("loss" or "accuracy") per epoch.

    Training and validation curves share the axes; best_epoch, when given, is
    marked with a vertical line. The Figure is made without pyplot, so no
    window or global state is involved; save it with savefig.
    """
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(7, 4.5)
    axes = figure.subplots()
    train = history["train_" + metric]
    val = history["val_" + metric]
    epochs = range(1, len(train) + 1)
    marker = "o" if len(train) <= 30 else None
    axes.plot(epochs, train, marker=marker, markersize=3, label="training")
    axes.plot(epochs, val, marker=marker, markersize=3, label="validation")
    if best_epoch:
        axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                     label=f"lowest validation loss (epoch {best_epoch})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_confusion_matrix(counts, class_names, title):
    """A Figure of the confusion matrix: true classes down, predicted across, counts in the cells."""
    size = max(4.5, 0.55 * len(class_names) + 2.5)
    figure = _new_figure(size + 1, size)
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8, label="test rows")
    ticks = range(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45 if max(map(len, class_names)) > 3 else 0,
                    ha="right" if max(map(len, class_names)) > 3 else "center")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    threshold = counts.max() / 2 if counts.size else 0
    for (i, j), count in np.ndenumerate(counts):
        axes.text(j, i, str(count), ha="center", va="center", fontsize=8,
                  color="white" if count > threshold else "black")
    axes.set_title(title)
    return figure


def plot_calibration(calibration_table, title):
    """A reliability diagram: each confidence bin's accuracy against its mean confidence.

    A perfectly calibrated model's bars reach the diagonal; bars below it mean
    overconfidence. The number of test rows in each bin is written above its bar.
    """
    bins = calibration_table["bins"]
    n_bins = len(bins["count"])
    width = 1.0 / n_bins
    lower = [upper - width for upper in bins["upper"]]
    accuracy = [a if a is not None else 0.0 for a in bins["accuracy"]]
    figure = _new_figure(6, 5.2)
    axes = figure.subplots()
    axes.bar(lower, accuracy, width=width, align="edge", edgecolor="black", linewidth=0.5,
             label="accuracy of the bin's rows")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for left, value, count in zip(lower, accuracy, bins["count"]):
        if count:
            axes.text(left + width / 2, value + 0.01, str(count), ha="center", va="bottom",
                      fontsize=7, rotation=90)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.15)
    axes.set_xlabel("confidence (probability of the predicted class)")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title}\nexpected calibration error "
                   f"{calibration_table['expected_calibration_error']:.4f} ({n_bins} bins; "
                   f"test rows per bin above the bars)", fontsize=10)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def plot_layer_health(health, title):
    """A Figure of each layer's health per epoch: gradient norm, update-to-weight ratio (both
    on log scales, the ratio with CS231n's 1e-3 drawn) and the share of saturated activations."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    figure = _new_figure(13, 4.2)
    panels = figure.subplots(1, 3)
    epochs = range(1, len(health["gradient_norm"]) + 1)
    measures = (("gradient_norm", "norm of the weight gradient", True),
                ("update_ratio", "|update| / |weights| per step", True),
                ("saturation", "share of activations saturated", False))
    for axes, (key, label, log) in zip(panels, measures):
        for index, name in enumerate(health["layers"]):
            values = [epoch[index] for epoch in health[key]]
            if all(value is not None for value in values):
                axes.plot(epochs, values, marker="o" if len(values) <= 30 else None, markersize=3,
                          label=name)
        if log:
            axes.set_yscale("log")
        else:
            axes.set_ylim(0, max([0.05] + [1.1 * value for line in axes.lines
                                           for value in line.get_ydata()]))
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        if key == "update_ratio":
            axes.axhline(1e-3, color="grey", linestyle="--", linewidth=1, label="1e-3 (rule of thumb)")
        axes.set_xlabel("epoch")
        axes.set_title(label, fontsize=10)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=8)
    figure.suptitle(title)
    return figure


def plot_augmented(images, copies, title):
    """A Figure of images (n, height, width) in the top row and each array of copies below."""
    rows = 1 + len(copies)
    figure = _new_figure(len(images) * 1.1, rows * 1.2 + 0.6)
    grid = figure.subplots(rows, len(images), squeeze=False)
    for row, pictures in enumerate([images, *copies]):
        for axes, picture in zip(grid[row], pictures):
            axes.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
            axes.set_xticks([])
            axes.set_yticks([])
    figure.suptitle(title, fontsize=10)
    return figure


def plot_misclassified(images, true_labels, probabilities, class_names, title, count=24):
    """A Figure of the test images the model got most confidently wrong.

    images is (n, height, width); probabilities (n, n_classes). Each panel says
    the true class and the predicted one with its probability.
    """
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true_labels)
    confidence = probabilities[wrong, predicted[wrong]]
    chosen = wrong[np.argsort(-confidence, kind="stable")][:count]
    columns = 8
    rows = max(1, -(-len(chosen) // columns))
    figure = _new_figure(columns * 1.3, rows * 1.55 + 0.6)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.axis("off")
    for axes, index in zip(grid.ravel(), chosen):
        axes.imshow(images[index], cmap="gray_r")
        axes.set_title(f"true {class_names[true_labels[index]]}\n"
                       f"said {class_names[predicted[index]]} {probabilities[index, predicted[index]]:.2f}",
                       fontsize=8)
    figure.suptitle(title)
    return figure


def plot_hidden_weights(weights, image_shape, title, count=64):
    """A Figure of the incoming weights of the first count units, each drawn as an image.

    weights is (n_pixels, n_units); red is a positive weight, blue a negative
    one, each unit on its own symmetric colour scale.
    """
    units = weights[:, :count]
    columns = int(np.ceil(np.sqrt(units.shape[1])))
    rows = -(-units.shape[1] // columns)
    figure = _new_figure(columns * 0.9, rows * 0.9 + 0.6)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.axis("off")
    for unit, axes in enumerate(grid.ravel()[:units.shape[1]]):
        picture = units[:, unit].reshape(image_shape)
        limit = float(np.abs(picture).max()) or 1.0
        axes.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit)
    figure.suptitle(title)
    return figure
