"""Saved models: model.npz written and read back without pickle, and used by --evaluate (on
the test split it was trained with) and --predict (on new rows).

The file holds plain arrays: the layer sizes, the hidden layers' activation, each layer's
weights and bias, the class names, the standardisation the features went through, and the
run's record (record.RunRecord, the JSON of its metrics.json). A file that is not such a
model is refused with a DataError naming it; an older one is read through record.upgrade."""

import json
import os

import numpy as np

from HiddenLayer import ACTIVATIONS
from mlp.datasets import DATASETS, image_features, load_dataset, read_feature_rows
from mlp.diagnostics import assess
from mlp.errors import DataError
from mlp.files import (
    PREDICTIONS,
    check_predictions_path,
    csv_text,
    make_folder,
    parse_json,
    read_npz_arrays,
    save_text,
    say,
)
from mlp.record import (
    CSV,
    UNVERIFIED,
    RunRecord,
    check_loaded,
    data_file_flag,
    data_file_to_reuse,
    upgrade,
)
from Model import Model

FORMAT = "numpy-mlp-model"
VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)


def model_arrays(model, class_names, feature_mean, feature_scale, record):
    """The arrays that describe a trained model, for np.savez.

    feature_mean and feature_scale (n_features,) are what was subtracted from
    and divided into the raw features before training (None when the features
    were used as they came); record is the run's RunRecord.
    """
    n_features = model.n_features
    if feature_mean is None:
        feature_mean, feature_scale = np.zeros(n_features), np.ones(n_features)
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "layer_sizes": np.array([n_features, *model.hidden_sizes, model.n_classes], dtype=np.int64),
        "activation": np.array(model.activation),
        "class_names": np.array([str(name) for name in class_names]),
        "feature_mean": np.asarray(feature_mean, np.float64),
        "feature_scale": np.asarray(feature_scale, np.float64),
        "record": np.array(json.dumps(record.to_json())),
    }
    for index, layer in enumerate(model.layers):
        arrays[f"weights_{index}"] = layer.weights
        arrays[f"bias_{index}"] = layer.bias
    return arrays


def save_model(stream, model, class_names, feature_mean, feature_scale, record):
    """Write the model to an open binary file object as an npz archive."""
    np.savez(stream, **model_arrays(model, class_names, feature_mean, feature_scale, record))


def load_model(path):
    """(Model, details) from a file written by save_model.

    details holds "class_names" (list), "feature_mean" and "feature_scale"
    (n_features,) float64 arrays, and "record" (the run's RunRecord).
    """
    not_a_model = f"{path}: not a model saved by this project (Main.py writes them as model.npz)"
    arrays = read_npz_arrays(path, "a model.npz saved by Main.py",
                             f"{not_a_model}; it is not a readable npz file")
    if str(arrays.get("format", "")) != FORMAT:
        raise DataError(not_a_model)
    try:
        version = int(_whole_numbers(arrays, "version", np.array(-1)))
    except (TypeError, ValueError):
        raise DataError(f"{path}: a damaged model file (its version is not a whole "
                        f"number)") from None
    if version > VERSION:
        raise DataError(f"{path}: a model file of version {version}, written by a newer version "
                        f"of this project; this one reads versions {READABLE_VERSIONS[0]} to "
                        f"{VERSION}: update it to use this model")
    if version not in READABLE_VERSIONS:
        raise DataError(f"{path}: a model file of version {version}; this project reads "
                        f"versions {READABLE_VERSIONS[0]} to {VERSION}")
    activation = str(arrays.get("activation", "sigmoid"))
    if activation not in ACTIVATIONS:
        raise DataError(f"{path}: a damaged model file (unknown activation {activation!r}; "
                        f"expected one of {', '.join(ACTIVATIONS)})")
    sizes, weights, biases, details = model_parts(path, arrays, version)
    dtype = weights[0].dtype
    model = Model(sizes[0], sizes[1:-1], sizes[-1], np.random.default_rng(0), dtype=dtype,
                  activation=activation)
    for layer, W, b in zip(model.layers, weights, biases):
        layer.weights[...] = W
        layer.bias[...] = b
    if not model.all_finite():
        raise DataError(f"{path}: the model's weights are not all finite (it was saved after "
                        f"diverging)")
    return model, details


def model_parts(path, arrays, version):
    """(layer sizes, weights, biases, details) read out of a model file's arrays, each checked
    against the others; DataError naming the file when they are damaged."""
    try:
        sizes = [int(size) for size in _whole_numbers(arrays, "layer_sizes")]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes {sizes}")
        n_layers = len(sizes) - 1
        weights = [_float_array(arrays, f"weights_{i}") for i in range(n_layers)]
        biases = [_float_array(arrays, f"bias_{i}") for i in range(n_layers)]
        record = RunRecord.from_json(upgrade(parse_json(str(arrays["record"]))) if version >= 3
                                     else upgrade(parse_json(str(arrays["options"])), version,
                                                  DATASETS))
        check_inputs(record, sizes[0])
        class_names = [str(name) for name in arrays["class_names"]]
        feature_mean = _float_array(arrays, "feature_mean").astype(np.float64)
        feature_scale = _float_array(arrays, "feature_scale").astype(np.float64)
    except (KeyError, ValueError, TypeError, IndexError) as error:
        raise DataError(f"{path}: a damaged model file ({type(error).__name__}: {error})") from None
    expected = [(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]
    if ([w.shape for w in weights] != expected
            or [b.shape for b in biases] != [(n,) for n in sizes[1:]]
            or len(class_names) != sizes[-1] or feature_mean.shape != (sizes[0],)
            or feature_scale.shape != (sizes[0],)
            or len({w.dtype for w in weights + biases}) != 1
            or weights[0].dtype not in (np.float32, np.float64)):
        raise DataError(f"{path}: a damaged model file (its arrays do not match its layer sizes "
                        f"{sizes}, or are not all float32 or all float64)")
    if not (np.isfinite(feature_mean).all() and np.isfinite(feature_scale).all()
            and np.all(feature_scale > 0)):
        raise DataError(f"{path}: a damaged model file (its feature standardisation is not finite "
                        f"and positive)")
    return sizes, weights, biases, {"class_names": class_names, "feature_mean": feature_mean,
                                    "feature_scale": feature_scale, "record": record}


def check_inputs(record, n_features):
    """Raise ValueError unless the record's feature names and image shape fit n_features."""
    names, shape = record.feature_names, record.image_shape
    if names is not None and len(names) != n_features:
        raise ValueError(f"its feature names are not {n_features} texts")
    if shape is not None and (len(shape) != 2 or shape[0] * shape[1] != n_features):
        raise ValueError(f"its image shape {shape!r} does not hold {n_features} pixels")


def _float_array(arrays, key):
    """arrays[key] if it holds real numbers; ValueError (a damaged file) if not."""
    array = arrays[key]
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{key} holds {array.dtype} values, not numbers")
    return array


def _whole_numbers(arrays, key, default=None):
    """arrays[key] (or default) if it holds whole numbers; ValueError (a damaged file) if not."""
    array = arrays[key] if default is None or key in arrays else default
    if array.dtype.kind not in "iu":
        raise ValueError(f"{key} holds {array.dtype} values, not whole numbers")
    return array


def use_saved_model(command):
    """--model FILE with --evaluate and/or --predict FILE (a flags.Command); returns the exit
    status."""
    if command.predict:
        check_predictions_path(command.output_dir, command.predict, command.model)
    model, details = load_model(command.model)
    if command.evaluate:
        evaluate_saved_model(model, details, command)
    if command.predict:
        predict_with_saved_model(model, details, command)
    return 0


def load_training_data(model, details, command):
    """The data set the saved model was trained on, split as it was then (same seed and split).

    It reads the file the model records, or the one the data set's flag names;
    either way the file must hold the very bytes the model was trained on.
    """
    record = details["record"]
    kind = record.kind
    flag = data_file_flag(kind)
    others = sorted(command.given_flags & {data_file_flag(other) for other in (*DATASETS, CSV)}
                    - {flag, "--target"})
    if others:
        raise DataError(f"argument {others[0]}: does nothing: the model {command.model} was "
                        f"trained on {kind} (its data file flag is {flag})")
    given = command.data_file(kind, given_only=True)
    recorded = record.data
    whose = f"the model {command.model}"
    if recorded is not None:
        data_file = data_file_to_reuse(recorded, given, flag, whose)
    else:
        data_file = given or (command.data_file(kind) if kind != CSV else record.source)
        if kind == CSV and not (data_file and record.settings.target):
            raise DataError(f"{command.model}: the model does not record the CSV file and class "
                            f"column it was trained on; expected a model.npz that Main.py wrote")
        say(UNVERIFIED.format(whose=whose, path=data_file or "the default file"), error=True)
    dataset = load_dataset(kind, data_file, record.settings.target,
                           record.settings.validation_split, record.settings.seed, model.dtype)
    if recorded is not None:
        check_loaded(recorded, dataset.data, whose)
    return dataset


def evaluate_saved_model(model, details, command):
    """Print the saved model's test metrics on the split it was trained with."""
    dataset = load_training_data(model, details, command)
    if dataset.n_features != model.n_features or dataset.class_names != details["class_names"]:
        raise DataError(f"{dataset.source}: its features or classes are not the ones "
                        f"{command.model} was trained on")
    assessment = assess(model, dataset.X_test, dataset.y_test, dataset.class_names)
    say(f"{dataset.title}, model {command.model}: test loss {assessment.loss:.4f}, "
        f"test accuracy {assessment.accuracy:.4f} on {len(dataset.X_test)} test rows")
    say(f"  expected calibration error "
        f"{assessment.calibration_error:.4f} (the gap between "
        f"confidence and accuracy, {len(assessment.calibration_bins['count'])} bins)")
    width = max(len("class"), *(len(name) for name in dataset.class_names))
    say(f"  {'class':<{width}}  precision  recall  f1      support")
    for name, scores in assessment.per_class.items():
        say(f"  {name:<{width}}  {scores['precision']:.4f}     {scores['recall']:.4f}  "
            f"{scores['f1']:.4f}  {scores['support']}")


def predict_with_saved_model(model, details, command):
    """Write OUTPUT_DIR/predictions.csv: each row's class and class probabilities."""
    record = details["record"]
    if record.image_shape or record.kind == "mnist":
        X = image_features(command.predict, model.dtype)
    else:
        features = read_feature_rows(command.predict, record.feature_names or
                                     [f"feature_{i}" for i in range(model.n_features)])
        X = ((features - details["feature_mean"]) / details["feature_scale"]).astype(model.dtype)
    if X.shape[1] != model.n_features:
        raise DataError(f"{command.predict}: {X.shape[1]} features per row; the model takes "
                        f"{model.n_features}")
    P = model.predict_proba(X)
    predicted = P.argmax(axis=1)
    classes = details["class_names"]
    path = os.path.join(command.output_dir, PREDICTIONS)
    make_folder(command.output_dir)
    save_text(predictions_csv(classes, predicted, P), path)
    counts = np.bincount(predicted, minlength=len(classes))
    say(f"{len(X)} rows of {command.predict} predicted with {command.model}: "
        + ", ".join(f"{name} {count}" for name, count in zip(classes, counts) if count)
        + f"; classes and probabilities in {path}")


def predictions_csv(classes, predicted, P):
    """predictions.csv's text: row, predicted class, each class's probability; class names
    with commas, quotes or line breaks quoted as CSV quotes them."""
    return csv_text(([row, classes[label], *(f"{p:.6g}" for p in probabilities)]
                     for row, (label, probabilities) in enumerate(zip(predicted, P))),
                    ["row", "predicted", *(f"probability_{name}" for name in classes)])
