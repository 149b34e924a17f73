"""What a run measures of itself and draws: the test set's scores (confusion matrix, per-class
precision, recall and F1, calibration), the chance level and whether the network is stuck at
it, the size of each layer's gradients, and the diagnostic figures beside the loss and
accuracy plots.

Each figure function returns a matplotlib Figure made without pyplot (no window, no global
state); mlp.report saves them.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from mlp.files import write_atomically
from Model import cross_entropy, one_hot

# ------------------------------------------------------------------ what a run measures

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
                     "confidence": [float(c) if f else None
                                    for c, f in zip(mean_confidence, filled)],
                     "accuracy": [float(a) if f else None for a, f in zip(accuracy, filled)]}}


# A hidden layer with this share of its activations saturated passes almost no gradient back.
SATURATED = 0.9


def chance_level(labels, n_classes):
    """(the accuracy of always answering the most common class of labels, at least 1 /
    n_classes; the noise around it: two standard errors of an accuracy over len(labels) rows)."""
    level = max(np.bincount(labels, minlength=n_classes).max() / len(labels), 1 / n_classes)
    return float(level), float(max(2 * np.sqrt(level * (1 - level) / len(labels)), 1 / len(labels)))


def chance_verdict(counts, class_names, saturation=None):
    """Whether a model whose test confusion matrix is counts learned nothing: its accuracy within
    noise of chance_level; and why: "saturated" (a hidden layer past SATURATED, a network that
    cannot learn) or "undertrained". The evidence as a dict: accuracy, chance level, noise, the
    class it answers most and for what share of rows, and the hidden layers' saturation at the
    end (saturation: one share per layer, None where it does not apply)."""
    labels = np.repeat(np.arange(len(counts)), counts.sum(axis=1))
    level, noise = chance_level(labels, len(counts))
    accuracy = float(np.trace(counts) / counts.sum())
    answers = counts.sum(axis=0) / counts.sum()
    shares = [share for share in saturation or [] if share is not None]
    stuck = accuracy <= level + noise
    cause = None if not stuck else "saturated" if max(shares, default=0) >= SATURATED \
        else "undertrained"
    return {"stuck": stuck, "cause": cause, "accuracy": accuracy, "chance_level": level,
            "noise": noise, "most_answered": class_names[int(answers.argmax())],
            "most_answered_share": float(answers.max()),
            "saturation": max(shares) if shares else None,
            "saturated_layer": (int(np.argmax([-1 if share is None else share
                                               for share in saturation])) if shares else None)}


@dataclass
class Assessment:
    """A model's report on a test set: its mean loss and accuracy, the confusion matrix
    (n_classes, n_classes), each class's scores (per_class_scores), the expected calibration
    error and the bins it came from (calibration()), and the probabilities (n_samples,
    n_classes) they all come from."""
    loss: float
    accuracy: float
    confusion_matrix: np.ndarray
    per_class: dict
    calibration_error: float
    calibration_bins: dict
    probabilities: np.ndarray
    chance: Optional[dict] = None       # chance_verdict, once the layers' saturation is known

    def to_json(self):
        """Its part of metrics.json."""
        return {"test_loss": self.loss, "test_accuracy": self.accuracy,
                "expected_calibration_error": self.calibration_error,
                "per_class": self.per_class, "confusion_matrix": self.confusion_matrix.tolist(),
                "calibration": self.calibration_bins,
                **({"stuck_at_chance": self.chance["stuck"], "chance": self.chance}
                   if self.chance else {})}


def assess(model, X, labels, class_names, saturation=None):
    """The Assessment of model on inputs X against integer labels (n_samples,); given the
    hidden layers' saturation at the end of training, with its chance_verdict."""
    P = model.predict_proba(X)
    counts = confusion_matrix(labels, P.argmax(axis=1), len(class_names))
    table = calibration(P, labels)
    return Assessment(loss=cross_entropy(P, one_hot(labels, len(class_names), P.dtype)),
                      accuracy=float(np.trace(counts) / len(labels)), confusion_matrix=counts,
                      per_class=per_class_scores(counts, class_names),
                      calibration_error=table["expected_calibration_error"],
                      calibration_bins=table["bins"], probabilities=P,
                      chance=(chance_verdict(counts, class_names, saturation)
                              if saturation is not None else None))


def gradient_rms(norms, weights_per_layer):
    """Each layer's weight-gradient norm as a root mean square per weight (norm / sqrt(count)):
    layers of different sizes compared on one footing, in the sentence and in the plot."""
    return [norm / np.sqrt(count) for norm, count in zip(norms, weights_per_layer)]


# ------------------------------------------------------------------ what a run draws

def save_figure(figure, path):
    write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=120))


def new_figure(width, height):
    """An empty matplotlib Figure of width x height inches, drawn by Agg (no window, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_confusion_matrix(counts, class_names, title):
    """A Figure of the confusion matrix: true classes down, predicted across, counts in the
    cells."""
    size = max(4.5, 0.55 * len(class_names) + 2.5)
    figure = new_figure(size + 1, size)
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


def plot_calibration(bins, calibration_error, title):
    """A reliability diagram: each confidence bin's accuracy against its mean confidence.

    A perfectly calibrated model's bars reach the diagonal; bars below it mean
    overconfidence. The number of test rows in each bin is written above its bar, whose top
    is drawn as a line (a bin whose rows were all wrong shows as a line at 0); a bin no row
    fell in has neither bar nor number.
    """
    n_bins = len(bins["count"])
    width = 1.0 / n_bins
    lower = [upper - width for upper in bins["upper"]]
    filled = [(left, accuracy, count) for left, accuracy, count
              in zip(lower, bins["accuracy"], bins["count"]) if count]
    figure = new_figure(6, 5.2)
    axes = figure.subplots()
    axes.bar([left for left, _, _ in filled], [accuracy for _, accuracy, _ in filled],
             width=width, align="edge", edgecolor="black", linewidth=0.5,
             label="accuracy of the bin's rows")
    # Each bar's top as a line: a bin whose few rows were all wrong (accuracy 0) is seen too.
    axes.hlines([accuracy for _, accuracy, _ in filled], [left for left, _, _ in filled],
                [left + width for left, _, _ in filled], color="black", linewidth=1.5)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for left, accuracy, count in filled:
        axes.text(left + width / 2, accuracy + 0.01, str(count), ha="center", va="bottom",
                  fontsize=7, rotation=90)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.15)
    axes.set_xlabel("confidence (probability of the predicted class)")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title}\nexpected calibration error "
                   f"{calibration_error:.4f} over {n_bins} bins\n"
                   f"above each bar its test rows (at 0: none right); no rows, no bar",
                   fontsize=10)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def plot_layer_health(health, title, weights_per_layer, learning_rates):
    """A Figure of each layer's health per epoch, in the measures the summary's sentence reads:
    the root mean square of the weight gradient per weight, a step's update relative to the
    weights (both on log scales), and the share of saturated activations.

    weights_per_layer is each layer's number of weights; learning_rates, each epoch's rate. The
    update ratio's reference is CS231n's rule of thumb, 1e-3 at the starting rate, scaled by
    the schedule: a rate that decays to 0 takes healthy updates down with it.
    """
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    epochs = np.arange(1, len(health["gradient_norm"]) + 1)
    series = {"gradient_rms": [gradient_rms(norms, weights_per_layer)
                               for norms in health["gradient_norm"]],
              "update_ratio": health["update_ratio"], "saturation": health["saturation"]}
    measures = (("gradient_rms", "gradient per weight", "root mean square of dL/dW", True),
                ("update_ratio", "update per step", "|update| / |weights|", True),
                ("saturation", "saturated activations", "share of a layer's activations", False))
    layers = health["layers"]
    many = len(layers) > LEGEND_LAYERS  # then colours by depth, on a colour bar, not a legend
    colours = _depth_colours(len(layers)) if many else [None] * len(layers)
    figure = new_figure(14, 4.4)
    panels = figure.subplots(1, 3)
    for axes, (key, label, unit, log) in zip(panels, measures):
        _plot_layers(axes, epochs, series[key], layers, colours, log, many)
        if log and axes.lines:
            axes.set_yscale("log")
        elif not log:
            axes.set_ylim(0, max([0.05] + [1.1 * value for line in axes.lines
                                           for value in line.get_ydata()]))
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        if key == "update_ratio":
            start = learning_rates[0] or 1.0
            axes.plot(epochs, [1e-3 * rate / start for rate in learning_rates[:len(epochs)]],
                      color="grey", linestyle="--", linewidth=1,
                      label="1e-3 x learning rate / starting rate\n"
                            "(rule of thumb, with the schedule)")
        axes.set_xlabel("epoch")
        axes.set_ylabel(unit)
        axes.set_title(label, fontsize=10)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if any(line.get_label()[:1] != "_" for line in axes.lines):
            axes.legend(fontsize=8)
    if many:
        _depth_colour_bar(figure, panels, len(layers))
    figure.suptitle(title)
    return figure


def _plot_layers(axes, epochs, values_per_epoch, layers, colours, log, many):
    """One line per layer of a measure (values_per_epoch: per epoch, one value per layer);
    none for a layer without the measure, and on a log scale none for an all-0 line (a 0 is
    left a gap)."""
    for index, name in enumerate(layers):
        values = [epoch[index] for epoch in values_per_epoch]
        if any(value is None for value in values):
            continue
        if log:
            values = [value if value > 0 else np.nan for value in values]
            if np.isnan(values).all():
                continue
        axes.plot(epochs, values, marker="o" if len(values) <= 30 and not many else None,
                  markersize=3, color=colours[index], label=None if many else name)


# Up to this many layers, each gets a line with a name in the legend; beyond, colours by depth.
LEGEND_LAYERS = 8


def _depth_colours(n_layers):
    from matplotlib import colormaps

    return [colormaps["viridis"](index / max(n_layers - 1, 1)) for index in range(n_layers)]


def _depth_colour_bar(figure, panels, n_layers):
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(Normalize(1, n_layers), colormaps["viridis"])
    figure.colorbar(mappable, ax=list(panels), shrink=0.9,
                    label=f"layer: 1 = first hidden, {n_layers} = output")


def plot_augmented(images, copies, title):
    """A Figure of images (n, height, width) in the top row and each array of copies below."""
    rows = 1 + len(copies)
    figure = new_figure(len(images) * 1.1, rows * 1.2 + 0.6)
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
    the true class, and the predicted one with the probability the model gave it.
    """
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true_labels)
    confidence = probabilities[wrong, predicted[wrong]]
    chosen = wrong[np.argsort(-confidence, kind="stable")][:count]
    columns = 8
    rows = max(1, -(-len(chosen) // columns))
    figure = new_figure(columns * 1.3, rows * 1.55 + 0.6)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.axis("off")
    for axes, index in zip(grid.ravel(), chosen):
        axes.imshow(images[index], cmap="gray_r")
        axes.set_title(f"true {class_names[true_labels[index]]}\npredicted "
                       f"{class_names[predicted[index]]} "
                       f"({probabilities[index, predicted[index]]:.0%})", fontsize=8)
    figure.suptitle(title)
    return figure


def plot_hidden_weights(weights, image_shape, title, count=64):
    """A Figure of the incoming weights of the first count units, each drawn as an image.

    weights is (n_pixels, n_units); red is a positive weight, blue a negative
    one, on one symmetric colour scale for every unit (its limit the 99th percentile of
    the weights' sizes, so that a few large weights do not wash out the rest), shown on a
    colour bar.
    """
    units = weights[:, :count]
    columns = int(np.ceil(np.sqrt(units.shape[1])))
    rows = -(-units.shape[1] // columns)
    figure = new_figure(columns * 0.9, rows * 0.9 + 0.6)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.axis("off")
    limit = float(np.percentile(np.abs(units), 99)) or 1.0
    for unit, axes in enumerate(grid.ravel()[:units.shape[1]]):
        image = axes.imshow(units[:, unit].reshape(image_shape), cmap="RdBu_r", vmin=-limit,
                            vmax=limit)
    figure.colorbar(image, ax=grid.ravel().tolist(), shrink=0.6, label="weight")
    figure.suptitle(title)
    return figure
