"""Writing what a run leaves behind: plots, metrics.json and model.npz, each file atomically."""

import json
import os
import tempfile

from Datasets import dataset_title
from Flags import network_text


def write_atomically(path, write):
    """Call write(file_object) on a temporary file beside path, then rename it to path.

    A run killed part-way leaves the old file or the new one, never half of one.
    """
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_figure(figure, path):
    write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=120))


def save_json(data, path):
    save_text(json.dumps(data, indent=2) + "\n", path)


def save_text(text, path):
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def settings_text(network, run):
    """The line under a plot's title that says how the network was trained."""
    return (f"network {network} {run['activation']}, {run['optimizer']}, learning rate "
            f"{run['learning_rate']:g} ({run['lr_schedule']}), batch {run['batch_size']}")


def write_results(folder, dataset, run, model, assessment, result, train_seconds):
    """Everything one data set's run leaves in folder: plots, metrics.json, model.npz.

    run holds the settings of the run; assessment is Model.assess on the test
    set (None when training diverged); result is what Model.fit returned.
    """
    from Model import plot_confusion_matrix, plot_history
    from ModelFile import save_model

    os.makedirs(folder, exist_ok=True)
    title = dataset_title(dataset)
    network = network_text(dataset.n_features, run["hidden_layers"], dataset.n_classes)
    settings = settings_text(network, run)
    if result["status"] != "completed":
        settings += f" ({result['status']})"
    for metric in ("loss", "accuracy"):
        save_figure(plot_history(result["history"], metric, f"{title}: {metric} per epoch\n{settings}"),
                    os.path.join(folder, f"{metric}.png"))

    metrics = dict(run, dataset=dataset.name, source=dataset.source, network=network,
                   classes=dataset.class_names, n_train=len(dataset.X_train),
                   n_val=len(dataset.X_val), n_test=len(dataset.X_test),
                   status=result["status"], epochs_completed=len(result["history"]["train_loss"]),
                   history=result["history"], learning_rates=result["learning_rates"],
                   test_loss=None, test_accuracy=None,
                   epoch_seconds=result["epoch_seconds"], train_seconds=train_seconds)
    if "diverged_epoch" in result:
        metrics["diverged_epoch"] = result["diverged_epoch"]
    if assessment is not None:
        metrics.update(test_loss=assessment["loss"], test_accuracy=assessment["accuracy"],
                       per_class=assessment["per_class"],
                       confusion_matrix=assessment["confusion_matrix"].tolist())
        save_figure(plot_confusion_matrix(assessment["confusion_matrix"], dataset.class_names,
                                          f"{title}: test set, accuracy {assessment['accuracy']:.2%}"),
                    os.path.join(folder, "confusion_matrix.png"))
        if dataset.image_shape is not None:
            write_image_plots(folder, title, dataset, model, assessment)
        options = dict(run, dataset=dataset.name, source=dataset.source,
                       feature_names=dataset.feature_names,
                       image_shape=list(dataset.image_shape) if dataset.image_shape else None)
        write_atomically(os.path.join(folder, "model.npz"),
                         lambda stream: save_model(stream, model, dataset.class_names,
                                                   dataset.feature_mean, dataset.feature_scale, options))
    save_json(metrics, os.path.join(folder, "metrics.json"))


def write_image_plots(folder, title, dataset, model, assessment):
    """For a data set of images: the most confidently misclassified ones, and the first layer's weights."""
    from Model import plot_hidden_weights, plot_misclassified

    images = dataset.X_test.reshape(len(dataset.X_test), *dataset.image_shape)
    save_figure(plot_misclassified(images, dataset.y_test, assessment["probabilities"],
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
