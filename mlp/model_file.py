"""Saving a trained Model to an npz file and loading it back, without pickle.

The file holds plain arrays: the layer sizes, the hidden layers' activation,
each layer's weights and bias, the class names, the standardisation the
features went through, and the options of the run as a JSON string. A file
that is not such a model is refused with a DataError naming it.

Versions: 1 had no activation (every model was sigmoid); 2 records it.
"""

import json

import numpy as np

from HiddenLayer import ACTIVATIONS
from Model import Model
from mlp.errors import DataError
from mlp.guarded import parse_json, read_npz_arrays
from mlp.run_record import check_record

FORMAT = "numpy-mlp-model"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def model_arrays(model, class_names, feature_mean, feature_scale, options):
    """The arrays that describe a trained model, for np.savez.

    feature_mean and feature_scale (n_features,) are what was subtracted from
    and divided into the raw features before training (None when the features
    were used as they came); options is a JSON-serialisable dict.
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
        "options": np.array(json.dumps(options)),
    }
    for index, layer in enumerate(model.layers):
        arrays[f"weights_{index}"] = layer.weights
        arrays[f"bias_{index}"] = layer.bias
    return arrays


def save_model(stream, model, class_names, feature_mean, feature_scale, options):
    """Write the model to an open binary file object as an npz archive."""
    np.savez(stream, **model_arrays(model, class_names, feature_mean, feature_scale, options))


def load_model(path):
    """(Model, details) from a file written by save_model.

    details holds "class_names" (list), "feature_mean" and "feature_scale"
    (n_features,) float64 arrays, and "options" (dict).
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
    try:
        sizes = [int(size) for size in _whole_numbers(arrays, "layer_sizes")]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes {sizes}")
        n_layers = len(sizes) - 1
        weights = [_float_array(arrays, f"weights_{i}") for i in range(n_layers)]
        biases = [_float_array(arrays, f"bias_{i}") for i in range(n_layers)]
        options = parse_json(str(arrays["options"]))
        check_options(options, sizes[0])
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
    dtype = weights[0].dtype
    model = Model(sizes[0], sizes[1:-1], sizes[-1], np.random.default_rng(0), dtype=dtype,
                  activation=activation)
    for layer, W, b in zip(model.layers, weights, biases):
        layer.weights[...] = W
        layer.bias[...] = b
    if not model.all_finite():
        raise DataError(f"{path}: the model's weights are not all finite (it was saved after "
                        f"diverging)")
    details = {"class_names": class_names, "feature_mean": feature_mean,
               "feature_scale": feature_scale, "options": options}
    return model, details


def check_options(options, n_features):
    """Raise ValueError unless the options that --evaluate and --predict read are a run's
    record (run_record.check_record; each field may be missing from older files) whose feature
    names and image shape fit n_features inputs."""
    check_record(options, required=())
    names, shape = options.get("feature_names"), options.get("image_shape")
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
