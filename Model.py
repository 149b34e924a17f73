"""The multilayer perceptron: sigmoid hidden layers, a softmax output layer,
categorical cross-entropy, mini-batch training, evaluation and plots."""

import math
import time

import numpy as np

from HiddenLayer import HiddenLayer
from OutputLayer import OutputLayer

HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def cross_entropy(P, Y):
    """Mean categorical cross-entropy -(1/n) * sum(Y * log P) of probabilities P against one-hot Y.

    Both are (n_samples, n_classes). Each probability is clipped below at the
    dtype's machine epsilon first (as scikit-learn does), so a confidently wrong
    prediction costs a large finite loss instead of log(0) = -inf.
    """
    return summed_cross_entropy(P, Y) / P.shape[0]


def summed_cross_entropy(P, Y):
    """The cross-entropy summed, not averaged, over the samples, as a Python float."""
    true_class_probability = np.einsum("ij,ij->i", P, Y)
    np.maximum(true_class_probability, np.finfo(P.dtype).eps, out=true_class_probability)
    return -float(np.log(true_class_probability).sum())


def one_hot(labels, n_classes, dtype=np.float32):
    """The (n_samples, n_classes) indicator matrix of integer class labels (n_samples,)."""
    Y = np.zeros((len(labels), n_classes), dtype=dtype)
    Y[np.arange(len(labels)), labels] = 1
    return Y


class Model:
    """A multilayer perceptron for classification.

    n_features inputs feed len(hidden_sizes) sigmoid HiddenLayers of the given
    widths (none at all is softmax regression), which feed an OutputLayer with
    one softmax unit per class. Weights are drawn from rng, a numpy Generator.
    """

    def __init__(self, n_features, hidden_sizes, n_classes, rng, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.hidden_sizes = list(hidden_sizes)
        widths = [n_features] + self.hidden_sizes
        self.hidden_layers = [
            HiddenLayer(n_in, n_out, rng, self.dtype) for n_in, n_out in zip(widths, widths[1:])
        ]
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

    def parameters(self):
        """Every layer's weights and bias, input layer first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self):
        """The gradient arrays backward() fills, in the order of parameters()."""
        return [g for layer in self.layers for g in layer.gradients()]

    def forward(self, X):
        """Class probabilities P (n_samples, n_classes) for inputs X (n_samples, n_features)."""
        activations = X
        for layer in self.layers:
            activations = layer.forward(activations)
        return activations

    def backward(self, Y):
        """Gradients of the mean cross-entropy of the last forward() against one-hot Y.

        The output layer turns Y into dL/d(its inputs); each hidden layer, last
        to first, turns the gradient with respect to its activations into the
        gradient with respect to its inputs. The first layer skips that last
        product: nothing upstream of the data needs it.
        """
        grad = self.output_layer.backward(Y, need_input_grad=bool(self.hidden_layers))
        for position in range(len(self.hidden_layers) - 1, -1, -1):
            grad = self.hidden_layers[position].backward(grad, need_input_grad=position > 0)

    def loss(self, X, Y):
        """Mean cross-entropy of the model on X against one-hot Y."""
        return cross_entropy(self.forward(X), Y)

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
        """(mean cross-entropy, accuracy) on inputs X against one-hot targets Y."""
        P = self.predict_proba(X)
        accuracy = float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
        return cross_entropy(P, Y), accuracy

    def all_finite(self):
        """True when no weight or bias is NaN or infinite."""
        return all(math.isfinite(float(p.sum())) for p in self.parameters())

    def fit(self, X_train, Y_train, X_val, Y_val, optimizer, epochs, batch_size, rng,
            on_epoch_end=None, stop_requested=None):
        """Train with mini-batch gradient descent; return what happened.

        Each epoch visits the training rows in a fresh order drawn from rng, in
        batches of batch_size, taking one optimizer step per batch; then the
        model is evaluated on the validation set. The training loss and accuracy
        of an epoch are the means over its batches, as Keras reports them.
        on_epoch_end(epoch, record) is called after every epoch, record holding
        that epoch's metrics and seconds. stop_requested(), checked after every
        batch, ends training early when it returns True.

        Returns a dict: "history" (lists of HISTORY_KEYS, one value per finished
        epoch), "epoch_seconds", and "status": "completed", "diverged" (the loss
        or weights stopped being finite; "diverged_epoch" says when) or
        "interrupted".
        """
        n_samples = len(X_train)
        labels_train = Y_train.argmax(axis=1)
        X_order = np.empty_like(X_train)
        Y_order = np.empty_like(Y_train)
        labels_order = np.empty_like(labels_train)
        history = {key: [] for key in HISTORY_KEYS}
        epoch_seconds = []
        result = {"history": history, "epoch_seconds": epoch_seconds, "status": "completed"}

        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            # One contiguous shuffled copy per epoch: every batch is then a slice.
            order = rng.permutation(n_samples)
            np.take(X_train, order, axis=0, out=X_order)
            np.take(Y_train, order, axis=0, out=Y_order)
            np.take(labels_train, order, out=labels_order)

            loss_sum = 0.0
            n_correct = 0
            for begin in range(0, n_samples, batch_size):
                X_batch = X_order[begin:begin + batch_size]
                Y_batch = Y_order[begin:begin + batch_size]
                P = self.forward(X_batch)
                batch_loss = summed_cross_entropy(P, Y_batch)
                if not math.isfinite(batch_loss):
                    result.update(status="diverged", diverged_epoch=epoch)
                    return result
                loss_sum += batch_loss
                n_correct += int(np.count_nonzero(
                    P.argmax(axis=1) == labels_order[begin:begin + batch_size]))
                self.backward(Y_batch)
                optimizer.step()
                if stop_requested is not None and stop_requested():
                    result["status"] = "interrupted"
                    return result

            if not self.all_finite():
                result.update(status="diverged", diverged_epoch=epoch)
                return result
            val_loss, val_accuracy = self.evaluate(X_val, Y_val)
            record = {
                "train_loss": loss_sum / n_samples,
                "train_accuracy": n_correct / n_samples,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
            }
            for key in HISTORY_KEYS:
                history[key].append(record[key])
            epoch_seconds.append(time.perf_counter() - started)
            if on_epoch_end is not None:
                on_epoch_end(epoch, dict(record, seconds=epoch_seconds[-1]))
        return result


def plot_history(history, metric, title):
    """A matplotlib Figure of one metric ("loss" or "accuracy") per epoch.

    Training and validation curves share the axes. The Figure is made without
    pyplot, so no window or global state is involved; save it with savefig.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    train = history["train_" + metric]
    val = history["val_" + metric]
    epochs = range(1, len(train) + 1)
    marker = "o" if len(train) <= 30 else None
    axes.plot(epochs, train, marker=marker, markersize=3, label="training")
    axes.plot(epochs, val, marker=marker, markersize=3, label="validation")
    axes.set_xlabel("epoch")
    axes.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    return figure
