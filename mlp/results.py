"""Writing what a run leaves behind: plots, metrics.json, history.csv and model.npz.

Every file is written atomically; during training, LiveRecords keeps
metrics.json, history.csv and the plots up to date after each epoch."""

import json
import os
import textwrap
import time

from Model import COMPLETED, Callback, plot_history
from mlp.callbacks import timed, weights_per_layer
from mlp.console import network_text, settings_text
from mlp.files import append_text, make_folder, save_text, write_atomically
from mlp.plots import (plot_calibration, plot_confusion_matrix, plot_hidden_weights,
                       plot_layer_health, plot_misclassified, save_figure)
from mlp.record import RunRecord
from mlp.saved_models import save_model


HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                   "seconds")
# Redrawing the two plots costs about 0.4 s. During training they are redrawn at most
# once in PLOT_INTERVAL seconds, and never sooner than the last redraw's time divided by
# PLOT_BUDGET, so that they cost at most that share of the run; always at the end.
PLOT_INTERVAL = 10.0
PLOT_BUDGET = 0.02
# Characters of a plot title's line that fit across the figure; longer lines are wrapped.
TITLE_WIDTH = 70


def save_json(data, path):
    save_text(json.dumps(data, indent=2) + "\n", path)


def save_history_plots(folder, title, network, settings, result, status=None, n_val=None):
    """loss.png and accuracy.png: training and validation per epoch, the best epoch marked.

    settings is the RunSettings; result a Model.FitResult; status, when given, is said
    instead of its own.
    """
    status = status or result.status
    text = settings_text(network, settings)
    if status != COMPLETED:
        text += f" ({status.replace('_', ' ')})"
    text = textwrap.fill(text, TITLE_WIDTH)
    for metric in ("loss", "accuracy"):
        save_figure(plot_history(result.history, metric, f"{title}: {metric} per epoch\n{text}",
                                 best_epoch=result.extras.get("best_epoch"), n_val=n_val),
                    os.path.join(folder, f"{metric}.png"))


def run_record(dataset, settings, result, train_seconds, status=None, costs=None, threads=None,
               assessment=None):
    """The RunRecord of a run, with what the callbacks cost (costs: {name: seconds}), the BLAS
    threads (threads.ThreadChoice) and the test set's Assessment, as far as they are known."""
    measures = dict(costs or {}, **(threads.record() if threads else {}),
                    **(assessment.record() if assessment else {}))
    return RunRecord.of(dataset, settings, result, train_seconds, status, measures)


def history_csv(result):
    """history.csv's text: a header of HISTORY_COLUMNS and one row per finished epoch."""
    return "".join([",".join(HISTORY_COLUMNS) + "\n"]
                   + [history_row(result, epoch) for epoch in range(len(result.learning_rates))])


def history_row(result, index):
    """The history.csv line of epoch index + 1 of a Model.FitResult."""
    history = result.history
    values = (index + 1, history["train_loss"][index], history["train_accuracy"][index],
              history["val_loss"][index], history["val_accuracy"][index],
              result.learning_rates[index], result.epoch_seconds[index])
    return ",".join(repr(value) if isinstance(value, float) else str(value)
                    for value in values) + "\n"


class LiveRecords(Callback):
    """Keeps a run's records up to date while it trains, in its folder.

    After every epoch: a row appended to history.csv (so tail -f and a
    spreadsheet see it), metrics.json rewritten with "status": "running", and
    the loss and accuracy plots redrawn when their time has come (see
    PLOT_INTERVAL). seconds counts the time spent writing.
    """

    def __init__(self, folder, dataset, settings, clock=time.monotonic):
        self.folder, self.dataset, self.settings = folder, dataset, settings
        self.path = os.path.join(folder, "history.csv")
        self.clock = clock
        self.seconds = 0.0
        self._next_plot = None

    def on_train_begin(self, run):
        # Loaded here, not counted: the plots at the end load it anyway.
        import matplotlib.figure  # noqa: F401

        with timed(self):
            make_folder(self.folder)
            save_text(history_csv(run.result), self.path)
        self._next_plot = self.clock() + PLOT_INTERVAL

    def on_epoch_end(self, run, logs):
        with timed(self):
            append_text(self.path, history_row(run.result, len(run.result.learning_rates) - 1))
            record = run_record(self.dataset, self.settings, run.result,
                                sum(run.result.epoch_seconds), status="running")
            save_json(record.to_json(), os.path.join(self.folder, "metrics.json"))
            started = self.clock()
            if started >= self._next_plot:
                network = network_text(self.dataset.n_features, self.settings.hidden_layers,
                                       self.dataset.n_classes)
                save_history_plots(self.folder, self.dataset.title, network,
                                   self.settings, run.result, status=COMPLETED,
                                   n_val=len(self.dataset.X_val))
                finished = self.clock()
                self._next_plot = finished + max(PLOT_INTERVAL, (finished - started) / PLOT_BUDGET)
        return None


def write_results(folder, dataset, settings, model, result, train_seconds, costs, threads,
                  assessment):
    """Everything one data set's run leaves in folder: plots, metrics.json, model.npz.

    settings is the run's RunSettings; result is the FitResult of Model.fit;
    costs, threads and assessment (mlp.metrics.assess on the test set, None when
    training diverged) as run_record takes them.
    """
    make_folder(folder)
    title = dataset.title
    network = network_text(dataset.n_features, settings.hidden_layers, dataset.n_classes)
    save_history_plots(folder, title, network, settings, result, n_val=len(dataset.X_val))
    health = result.extras.get("layer_health", {})
    if health.get("gradient_norm"):
        save_figure(plot_layer_health(health, f"{title}: each layer's health per epoch "
                                              f"({network} {settings.activation})",
                                      weights_per_layer(model), result.learning_rates),
                    os.path.join(folder, "layer_health.png"))
    record = run_record(dataset, settings, result, train_seconds, costs=costs, threads=threads,
                        assessment=assessment).to_json()
    if assessment is not None:
        save_figure(plot_calibration(assessment.calibration_bins, assessment.calibration_error,
                                     f"{title}: test set reliability"),
                    os.path.join(folder, "calibration.png"))
        save_figure(plot_confusion_matrix(assessment.confusion_matrix, dataset.class_names,
                                          f"{title}: test set, accuracy {assessment.accuracy:.2%}"),
                    os.path.join(folder, "confusion_matrix.png"))
        if dataset.image_shape is not None:
            write_image_plots(folder, title, dataset, model, assessment)
        write_atomically(os.path.join(folder, "model.npz"),
                         lambda stream: save_model(stream, model, dataset.class_names,
                                                   dataset.feature_mean, dataset.feature_scale,
                                                   record))
    save_json(record, os.path.join(folder, "metrics.json"))


def write_image_plots(folder, title, dataset, model, assessment):
    """For a data set of images: the most confidently misclassified ones, and the first layer's
    weights."""
    images = dataset.X_test.reshape(len(dataset.X_test), *dataset.image_shape)
    save_figure(plot_misclassified(images, dataset.y_test, assessment.probabilities,
                                   dataset.class_names,
                                   f"{title}: the test images most confidently misclassified"),
                os.path.join(folder, "misclassified.png"))
    first = model.layers[0]
    what = "first hidden layer" if model.hidden_layers else "output layer (no hidden layer)"
    save_figure(plot_hidden_weights(first.weights, dataset.image_shape,
                                    f"{title}: incoming weights of the {what}, "
                                    f"{min(64, first.weights.shape[1])} of "
                                    f"{first.weights.shape[1]} units"),
                os.path.join(folder, "hidden_weights.png"))
