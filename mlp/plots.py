"""The diagnostic figures a run draws beside the loss and accuracy plots (Model.plot_history).

Each function returns a matplotlib Figure made without pyplot (no window, no
global state); mlp.records saves them.
"""

import numpy as np

from Model import new_figure


def plot_confusion_matrix(counts, class_names, title):
    """A Figure of the confusion matrix: true classes down, predicted across, counts in the cells."""
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
    figure = new_figure(6, 5.2)
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

    figure = new_figure(13, 4.2)
    panels = figure.subplots(1, 3)
    epochs = range(1, len(health["gradient_norm"]) + 1)
    measures = (("gradient_norm", "norm of the weight gradient", True),
                ("update_ratio", "|update| / |weights| per step", True),
                ("saturation", "share of activations saturated", False))
    for axes, (key, label, log) in zip(panels, measures):
        for index, name in enumerate(health["layers"]):
            values = [epoch[index] for epoch in health[key]]
            # A log scale cannot show a line with no positive value (matplotlib would warn).
            if all(value is not None for value in values) and (not log or max(values) > 0):
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
    the true class and the predicted one with its probability.
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
    figure = new_figure(columns * 0.9, rows * 0.9 + 0.6)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.axis("off")
    for unit, axes in enumerate(grid.ravel()[:units.shape[1]]):
        picture = units[:, unit].reshape(image_shape)
        limit = float(np.abs(picture).max()) or 1.0
        axes.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit)
    figure.suptitle(title)
    return figure
