"""Reading, checking and splitting the data sets: MNIST and tables such as Iris.

DATASETS, at the end, is the registry of named data sets: --datasets, its
help, each data set's path flag and defaults, the memory check and --evaluate
are all built from it. A new data set is its loader and one entry there.

Every problem with a file a user supplies is raised as a DataError whose
message names the file and says what is wrong, for Main.py to print in one line.
"""

import contextlib
import importlib.util
import io
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from mlp.errors import DataError, closest
from mlp.files import read_bytes, read_npz_arrays
from mlp.record import CSV, DataSource, fingerprint

# The project's top folder, where the shipped iris.data lies.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_FILE = "an npz file in the layout of Keras's mnist.npz"
MNIST_CLASSES = [str(digit) for digit in range(10)]
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "class"]
TEST_FRACTION = 0.2
# The largest feature value a table may hold: float32's, so that standardising, and a model
# saved in float32, stay finite.
LARGEST_VALUE = float(np.finfo(np.float32).max)
@dataclass
class Dataset:
    """A classification data set split three ways.

    X_* are float arrays (n_samples, n_features); y_* are integer class indices
    (n_samples,) into class_names. data says exactly which file it was read
    from and how (mlp.record.DataSource); source, where, as the user would
    write it. feature_mean and feature_scale are what the features were
    standardised with (None when they were not).
    """
    data: DataSource
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str = ""
    feature_mean: np.ndarray = field(default=None, repr=False)
    feature_scale: np.ndarray = field(default=None, repr=False)
    feature_names: list = None
    image_shape: tuple = None

    @property
    def kind(self):
        """"mnist", "iris" or "csv": what its defaults and loader are looked up by."""
        return self.data.kind

    @property
    def title(self):
        """How messages and plots name it: "MNIST", "Iris", or a CSV's file name."""
        return self.data.title

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return len(self.class_names)


def keras_cache_file():
    """Where keras.datasets.mnist.load_data() keeps mnist.npz: $KERAS_HOME/datasets/mnist.npz."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "datasets", "mnist.npz")


def read_mnist_npz(path, content=None):
    """(x_train, y_train, x_test, y_test) from an npz file in the layout of Keras's mnist.npz
    (content: the file's bytes, when they have been read already)."""
    archive = read_npz_arrays(path, MNIST_FILE, content=content)
    missing = [key for key in MNIST_KEYS if key not in archive]
    if missing:
        raise DataError(f"{path}: missing arrays {', '.join(missing)}; an MNIST npz holds "
                        f"{', '.join(MNIST_KEYS)}")
    arrays = [archive[key] for key in MNIST_KEYS]
    for images, labels, part in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        check_mnist_part(path, images, labels, part)
    if arrays[0].shape[1:] != arrays[2].shape[1:]:
        raise DataError(f"{path}: x_train images are {arrays[0].shape[1:]} but x_test images "
                        f"are {arrays[2].shape[1:]}; expected the same shape")
    train_scale, test_scale = pixel_scale(arrays[0]), pixel_scale(arrays[2])
    if train_scale != test_scale:
        raise DataError(f"{path}: x_train's pixels run from 0 to {train_scale} but x_test's from "
                        f"0 to {test_scale}; expected both on one scale (0-255, or 0-1 floats)")
    return tuple(arrays)


def check_mnist_part(path, images, labels, part):
    """Raise DataError if x_<part> and y_<part> are not images and digit labels that match."""
    if images.ndim not in (2, 3) or images.size == 0:
        raise DataError(f"{path}: x_{part} has shape {images.shape}; expected "
                        f"(n_images, 28, 28) with n_images >= 1")
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise DataError(f"{path}: x_{part} has dtype {images.dtype}; expected uint8 pixels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: y_{part} has shape {labels.shape} and dtype {labels.dtype}; "
                        f"expected one integer label per image")
    if len(labels) != len(images):
        raise DataError(f"{path}: x_{part} has {len(images)} images but y_{part} has "
                        f"{len(labels)} labels; expected one label per image")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: y_{part} has labels from {labels.min()} to {labels.max()}; "
                        f"expected digits 0 to 9")
    check_pixels(path, images, f"x_{part} has")


def check_pixels(path, images, what):
    """Raise DataError unless every pixel of images is a finite value from 0 to 255; what
    names the images in the message ("x_train has")."""
    if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
        raise DataError(f"{path}: {what} pixel values that are NaN or infinite")
    if images.min() < 0 or images.max() > 255:
        raise DataError(f"{path}: {what} pixel values from {images.min()} to "
                        f"{images.max()}; expected 0 to 255")


def pixel_scale(images):
    """What a pixel's full brightness is in images: 1 for floats that all lie in [0, 1] (images
    already scaled, as many tools store them), else 255 (0-255 pixels, integers or floats).
    The features are the pixels divided by it, so that images are never rescaled twice."""
    if np.issubdtype(images.dtype, np.floating) and images.max() <= 1.0:
        return 1
    return 255


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration; Python exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras_backend_for_download():
    """The KERAS_BACKEND to set before importing Keras to download MNIST, or None to leave it.

    With TensorFlow installed, or a backend chosen by the user, Keras is left
    as it is. Without TensorFlow (Python 3.14 and later, where it publishes no
    wheels, installs Keras and jax instead) Keras runs on jax; its numpy backend
    would not do, since it imports jax too.
    """
    if os.environ.get("KERAS_BACKEND") or importlib.util.find_spec("tensorflow") is not None:
        return None
    return "jax" if importlib.util.find_spec("jax") is not None else None


def load_mnist_arrays(mnist_path=None):
    """MNIST's four arrays, where they came from (as the user would write it), and the bytes
    of the file they were read from (None when Keras downloaded them and kept no file).

    In order: the file at mnist_path; else Keras's cache file, read with numpy
    (tensorflow is not imported); else keras.datasets.mnist.load_data(), which
    downloads into that cache (with TensorFlow, or Keras on its jax backend).
    """
    if mnist_path:
        content = read_bytes(mnist_path, MNIST_FILE)
        return read_mnist_npz(mnist_path, content), mnist_path, content
    cache_file = keras_cache_file()
    if os.path.exists(cache_file):
        content = read_bytes(cache_file, MNIST_FILE)
        return read_mnist_npz(cache_file, content), cache_file, content
    backend = keras_backend_for_download()
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    try:
        with native_stderr_silenced():  # TensorFlow's C++ start-up log ignores TF_CPP_MIN_LOG_LEVEL
            from keras.datasets import mnist
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as error:  # no tensorflow, no network, a refused download...
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise DataError(
            f"{cache_file}: MNIST is not there and Keras could not download it ({reason}); "
            f"pass --mnist_path FILE or put mnist.npz in $KERAS_HOME/datasets/") from None
    if os.path.isfile(cache_file):  # where the download landed: record that file
        content = read_bytes(cache_file, "the mnist.npz Keras downloaded")
        return read_mnist_npz(cache_file, content), cache_file, content
    return (x_train, y_train, x_test, y_test), "keras.datasets.mnist", None


def images_to_features(images, dtype, scale=255):
    """Images (n, 28, 28) of pixels from 0 to scale as (n, 784) features in [0, 1], in dtype."""
    features = images.reshape(len(images), -1).astype(dtype)
    if scale != 1:
        features *= dtype.type(1.0 / scale)
    return features


def validation_count(n_rows, validation_split):
    """How many of n_rows go to validation: validation_split of them, at least 1."""
    return min(max(1, round(n_rows * validation_split)), n_rows - 1)


def split_images(images, labels, validation_split, rng, path):
    """Row indices (train, validation): validation_split of the rows, drawn with rng, held out.

    Raises DataError when a part would be empty or a class would be missing
    from training, saying what to change.
    """
    if len(images) < 2:
        raise DataError(f"{path}: {len(images)} training image; expected at least 2, one to "
                        f"train on and one to validate on")
    n_val = validation_count(len(images), validation_split)
    order = rng.permutation(len(images))
    val_rows, train_rows = order[:n_val], order[n_val:]
    missing = np.setdiff1d(labels, labels[train_rows])
    if missing.size:
        raise DataError(f"{path}: --validation_split {validation_split:g} leaves {len(train_rows)} "
                        f"training images and none of class {missing[0]}; expected a smaller "
                        f"--validation_split")
    return train_rows, val_rows


def load_mnist(mnist_path, validation_split, rng, dtype=np.float32, seed=None):
    """MNIST as a Dataset: validation_split of the training images, drawn at random
    with rng, held out for validation; the official test images kept for the end.
    seed is what rng was seeded with, for the record."""
    dtype = np.dtype(dtype)
    (x_train, y_train, x_test, y_test), source, content = load_mnist_arrays(mnist_path)
    train_rows, val_rows = split_images(x_train, y_train, validation_split, rng, source)
    scale = pixel_scale(x_train)
    if content is None:  # downloaded, no file kept: the arrays themselves are the identity
        content = b"".join(np.ascontiguousarray(array).tobytes()
                           for array in (x_train, y_train, x_test, y_test))
    data = DataSource(kind="mnist", title=DATASETS["mnist"].title,
                      path=os.path.realpath(source) if os.path.isfile(source) else source,
                      size=len(content), sha256=fingerprint(content),
                      rows=len(x_train) + len(x_test), split_seed=seed,
                      validation_split=validation_split, test_fraction=None, pixel_scale=scale)
    # Convert each part on its own: a float copy of all 60,000 images first would
    # cost another 188 MB at the peak.
    return Dataset(
        data=data,
        X_train=images_to_features(x_train[train_rows], dtype, scale),
        y_train=y_train[train_rows].astype(np.int64),
        X_val=images_to_features(x_train[val_rows], dtype, scale),
        y_val=y_train[val_rows].astype(np.int64),
        X_test=images_to_features(x_test, dtype, scale), y_test=y_test.astype(np.int64),
        class_names=MNIST_CLASSES, source=source,
        image_shape=tuple(x_train.shape[1:]) if x_train.ndim == 3 else None)


def read_table(path, has_header, expected="a CSV file"):
    """(the first row's cells as text, the other rows as a DataFrame, the file's bytes) of a CSV
    file, any failure raised as DataError. has_header(first_row) says whether the first row is
    a header: when it is not, it stays in the DataFrame as data and the first value is None.

    The rows are parsed alike whether or not a header is above them (pandas infers each
    column's type from the rows alone), so that training and prediction read one file the
    same way.
    """
    import pandas as pd

    content = read_bytes(path, expected)
    problem = overlong_line_or_field(content)
    if problem:
        raise DataError(f"{path}: {problem}; expected {expected} of short rows of values")
    try:
        first = pd.read_csv(io.BytesIO(content), header=None, nrows=1, dtype=str,
                            skipinitialspace=True, keep_default_na=False)
        first_row = [str(cell) for cell in first.iloc[0]]
        header = has_header(first_row)
        try:
            frame = pd.read_csv(io.BytesIO(content), header=None, skiprows=1 if header else 0,
                                skipinitialspace=True)
        except pd.errors.EmptyDataError:
            if not header:
                raise
            frame = pd.DataFrame(columns=range(len(first_row)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError, IndexError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path}: not a readable CSV file ({reason})") from None
    if header and frame.shape[1] != len(first_row):
        raise DataError(f"{path}: its header has {len(first_row)} columns but its rows have "
                        f"{frame.shape[1]}; expected one name per column")
    return (first_row if header else None), frame, content


# A CSV line or cell longer than this is no table of features (a row of 100,000 numbers is
# about 1 MB); it is refused before the parser spends minutes on it.
LONGEST_LINE = 4 * 2**20
LONGEST_FIELD = 10_000


def overlong_line_or_field(content):
    """What is too long in a CSV file's bytes ('line 3 is 52,428,800 characters long, more than
    ...'), or None."""
    characters = np.frombuffer(content, np.uint8)
    for limit, what, separators in ((LONGEST_LINE, "characters long", b"\n"),
                                    (LONGEST_FIELD, "characters long in one cell", b"\n,")):
        ends = np.flatnonzero(np.isin(characters, list(separators)))
        lengths = np.diff(np.concatenate(([-1], ends, [len(characters)]))) - 1
        if lengths.size and lengths.max() > limit:
            first = int(np.argmax(lengths > limit))
            start = ends[first - 1] + 1 if first else 0
            line = int(np.count_nonzero(characters[:start] == ord("\n"))) + 1
            return f"line {line} is {int(lengths[first]):,} {what}, more than {limit:,}"
    return None


def normalised_names(cells, path):
    """A header's cells as column names: spaces stripped at both ends, the same for training
    and for prediction. An empty or repeated name is refused (DataError)."""
    names = [cell.strip() for cell in cells]
    for position, name in enumerate(names):
        if not name:
            raise DataError(f"{path}: column {position + 1} of its header has no name; expected "
                            f"a name for every column")
        if name in names[:position]:
            raise DataError(f"{path}: its header names column {name!r} twice; expected each "
                            f"name once")
    return names


def feature_values(frame, path):
    """The columns of frame as a float64 matrix: numbers as they are, True/False as 1/0.
    A column that is not numeric, a missing or infinite value, or one beyond LARGEST_VALUE is
    refused (DataError naming the column)."""
    import pandas as pd

    for position, column in enumerate(frame.columns):
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values):  # (True/False columns are numeric)
            bad = values[pd.to_numeric(values, errors="coerce").isna()]
            name = repr(column) if isinstance(column, str) else position + 1  # no header: by place
            raise DataError(f"{path}: column {name} is not numeric (it holds "
                            f"{str(bad.iloc[0])!r}); expected numbers in every feature column")
    X = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        raise DataError(f"{path}: some feature values are infinite; expected finite numbers")
    too_large = np.abs(X).max(axis=0, initial=0.0) > LARGEST_VALUE
    if too_large.any():
        position = int(np.argmax(too_large))
        column = frame.columns[position]
        name = repr(column) if isinstance(column, str) else position + 1
        raise DataError(f"{path}: column {name} holds values as large as "
                        f"{np.abs(X[:, int(np.argmax(too_large))]).max():g}; expected values "
                        f"within +-{LARGEST_VALUE:.3g} (float32's range), which standardising "
                        f"keeps finite")
    return X


def table_to_arrays(frame, target, path):
    """Features (n_rows, n_features) float64, class indices (n_rows,) and class names
    from a DataFrame whose column target holds the class of each row (class names have
    spaces stripped at both ends, as column names do)."""
    if target not in frame.columns:
        raise DataError(f"{path}: no column {target!r}; the columns are "
                        f"{', '.join(map(str, frame.columns))} (the first row must name them)")
    if len(frame) == 0:
        raise DataError(f"{path}: a header and no rows; expected rows of data below it")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"{path}: no feature columns besides {target!r}")
    missing = frame.isna().any(axis=1).to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise DataError(f"{path}: {int(missing.sum())} rows have missing values "
                        f"(the first is data row {first + 1}); expected every cell filled")
    X = feature_values(features, path)
    refuse_a_measurement(frame[target], target, path)
    labels = frame[target].astype(str).str.strip().to_numpy()
    class_names, y = np.unique(labels, return_inverse=True)
    if len(class_names) < 2:
        raise DataError(f"{path}: column {target!r} has a single class "
                        f"({class_names[0]}); expected at least two")
    return X, y.astype(np.int64), [str(name) for name in class_names]


def refuse_a_measurement(column, target, path):
    """DataError when the class column holds numbers that are not all whole: a measurement
    (scikit-learn's type_of_target calls it "continuous"), which a classifier cannot learn."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all() and not (numbers == numbers.round()).all():
        raise DataError(f"{path}: column {target!r} holds numbers that are not whole, "
                        f"{column.nunique():,} distinct values in {len(column):,} rows: a "
                        f"measurement, not a class; expected a class for each row (names or "
                        f"whole numbers), with several rows of each class, as a classifier needs")


def stratified_split(y, validation_split, rng, test_fraction=TEST_FRACTION):
    """Row indices (train, validation, test), each class divided in the same proportions.

    Within each class, test_fraction of the rows go to test and validation_split
    of the rest to validation, at least one row each; so every class needs three rows.
    """
    parts = ([], [], [])
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_test = max(1, round(len(rows) * test_fraction))
        n_val = max(1, round((len(rows) - n_test) * validation_split))
        parts[2].append(rows[:n_test])
        parts[1].append(rows[n_test:n_test + n_val])
        parts[0].append(rows[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def table_dataset(data, source, X, y, class_names, rng, dtype):
    """A Dataset from a table's arrays: a stratified split, then features
    standardised with the mean and standard deviation of the training rows alone.
    data is the table's DataSource (its path, split and feature names); source,
    its path as the user wrote it."""
    path, validation_split = source, data.validation_split
    counts = np.bincount(y, minlength=len(class_names))
    if counts.min() < 3:
        scarce = class_names[int(counts.argmin())]
        raise DataError(f"{path}: class {scarce!r} has {counts.min()} rows; every class needs "
                        f"at least 3 to appear in training, validation and test")
    train, val, test = stratified_split(y, validation_split, rng)
    missing = np.setdiff1d(np.arange(len(class_names)), y[train])
    if missing.size:
        scarce = int(missing[0])
        raise DataError(f"{path}: --validation_split {validation_split:g} leaves no training row "
                        f"of class {class_names[scarce]!r} ({counts[scarce]} rows: "
                        f"{max(1, round(counts[scarce] * TEST_FRACTION))} for test, the rest for "
                        f"validation); expected a smaller --validation_split")
    mean = X[train].mean(axis=0)
    scale = X[train].std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature: centre it, do not divide by zero

    def standardised(rows):
        return ((X[rows] - mean) / scale).astype(dtype)

    return Dataset(data=data, X_train=standardised(train), y_train=y[train],
                   X_val=standardised(val), y_val=y[val],
                   X_test=standardised(test), y_test=y[test],
                   class_names=class_names, source=str(source),
                   feature_mean=mean, feature_scale=scale, feature_names=data.feature_names)


def table_source(kind, title, path, content, n_rows, validation_split, seed, header,
                 feature_names, target=None):
    """The DataSource of a table read from path (its bytes, content)."""
    return DataSource(kind=kind, title=title, path=os.path.realpath(path), size=len(content),
                      sha256=fingerprint(content), rows=n_rows, split_seed=seed,
                      validation_split=validation_split, test_fraction=TEST_FRACTION,
                      header=header, feature_names=feature_names, target=target)


def load_iris(path, validation_split, rng, dtype=np.float32, seed=None):
    """The UCI iris.data file (no header; four measurements, then the class) as a Dataset."""
    _, frame, content = read_table(path, has_header=lambda first_row: False,
                                   expected="the UCI iris.data file (the project ships one "
                                            "beside Main.py)")
    if frame.shape[1] != len(IRIS_COLUMNS):
        raise DataError(f"{path}: {frame.shape[1]} columns; expected {len(IRIS_COLUMNS)} "
                        f"(four measurements, then the class)")
    frame.columns = IRIS_COLUMNS
    X, y, class_names = table_to_arrays(frame, "class", path)
    data = table_source("iris", DATASETS["iris"].title, path, content, len(frame),
                        validation_split, seed, None, IRIS_COLUMNS[:-1])
    return table_dataset(data, path, X, y, class_names, rng, np.dtype(dtype))


def csv_title(path):
    """A CSV file's name without its folder and .csv: its title in messages and plots."""
    name = os.path.basename(str(path))
    return name[:-4] if name.lower().endswith(".csv") else name


def load_csv(path, target, validation_split, rng, dtype=np.float32, seed=None):
    """A CSV file with a header row, numeric feature columns and the class in column target."""
    header, frame, content = read_table(path, has_header=lambda first_row: True)
    frame.columns = normalised_names(header, path)
    target = target.strip()
    X, y, class_names = table_to_arrays(frame, target, path)
    feature_names = [column for column in frame.columns if column != target]
    data = table_source(CSV, csv_title(path), path, content, len(frame), validation_split, seed,
                        header, feature_names, target)
    return table_dataset(data, path, X, y, class_names, rng, np.dtype(dtype))


def read_feature_rows(path, feature_names):
    """The rows of a CSV to predict on, as (n_rows, len(feature_names)) float64.

    With a header, it must name every one of the model's features: those
    columns are taken in the model's order, whatever their order in the file
    (others, such as a class column, are ignored), and a missing one is refused,
    never replaced by the column in its place. Without a header, the file must
    have exactly one column per feature, in the model's order. The first row is
    a header when none of its cells is a number, or when it names every feature
    (a model trained on columns named 1, 2, ...); otherwise it is data.
    """
    import pandas as pd

    feature_names = [name.strip() for name in feature_names]

    def has_header(first_row):
        cells = [cell.strip() for cell in first_row]
        no_numbers = pd.to_numeric(pd.Series(cells), errors="coerce").isna().all()
        return no_numbers or set(feature_names) <= set(cells)

    header, frame, _ = read_table(path, has_header)
    if header is not None:
        frame.columns = normalised_names(header, path)
        missing = [name for name in feature_names if name not in frame.columns]
        if missing:
            raise DataError(f"{path}: its header has no column {missing[0]!r}"
                            f"{did_you_mean(missing[0], frame.columns)}; expected the model's "
                            f"features {', '.join(feature_names)}")
        frame = frame[feature_names]
    elif frame.shape[1] != len(feature_names):
        raise DataError(f"{path}: {frame.shape[1]} columns; the model takes {len(feature_names)} "
                        f"features ({', '.join(feature_names)})")
    if len(frame) == 0:
        raise DataError(f"{path}: a header and no rows; expected rows of features to predict")
    if frame.isna().any().any():
        raise DataError(f"{path}: some rows have missing values; expected every cell filled")
    return feature_values(frame, path)


def did_you_mean(name, candidates):
    """' (did you mean 'x'?)' for the candidate closest to name, or '' when none is close."""
    close = closest(name, candidates)
    return f" (did you mean {close!r}?)" if close else ""


def read_images(path):
    """The images of an npz file to predict on: x_test of an MNIST-layout file, else its only
    array."""
    archive = read_npz_arrays(path, "an npz file of images")
    if "x_test" not in archive and len(archive) != 1:
        raise DataError(f"{path}: no array x_test, and {len(archive)} arrays to choose from; "
                        f"expected x_test or a single array of images")
    images = archive.get("x_test", next(iter(archive.values()), None))
    if images.ndim not in (2, 3) or images.dtype.kind not in "uif" or images.size == 0:
        raise DataError(f"{path}: images of shape {images.shape} and dtype {images.dtype}; "
                        f"expected (n_images, 28, 28) pixels")
    check_pixels(path, images, "its images have")
    return images


def image_features(path, dtype):
    """The images of an npz file to predict on as features, scaled as training scales them:
    0-255 pixels divided by 255, 0-1 floats as they are (see pixel_scale)."""
    images = read_images(path)
    return images_to_features(images, np.dtype(dtype), pixel_scale(images))


class DatasetEntry(NamedTuple):
    """What the program knows about a named data set before reading it."""
    title: str                # in messages and plot titles
    load: Callable            # (path or None, validation_split, rng, dtype, seed=) -> Dataset
    default_path: str         # the --<name>_path default; None: the loader finds it
    path_help: str            # what the --<name>_path flag takes
    batch_size: int           # default --batch_size
    lr_schedule: str          # default --lr_schedule, a key of LEARNING_RATE_SCHEDULES
    n_features: int           # for the memory check, before the data is read
    n_classes: int
    weight_decay: float = 0.0 # default --weight_decay
    dropout: float = 0.0      # default --dropout
    augment_pixels: int = 0   # default --augment_pixels; 0: not images, --augment refused


DATASETS = {
    "mnist": DatasetEntry(
        "MNIST", load_mnist, None,
        "an npz file in the layout of Keras's mnist.npz (default: $KERAS_HOME/datasets/mnist.npz "
        "if it exists, else Keras downloads it)",
        batch_size=32, lr_schedule="cosine", n_features=784, n_classes=10,
        # Chosen by docs/tune_regularisation.py on the validation split, seeds 0-2.
        weight_decay=0.05, dropout=0.1, augment_pixels=1),
    # Iris has 108 training rows: at batch 32 it would get 4 updates an epoch, too few
    # to converge in 30 epochs at the assignment's learning rate. One row a step gives
    # 108, and a rate held constant (a decaying one would halve the learning done).
    "iris": DatasetEntry(
        "Iris", load_iris, os.path.join(HERE, "iris.data"),
        "the UCI iris.data file (default: the copy shipped beside Main.py)",
        batch_size=1, lr_schedule="constant", n_features=4, n_classes=3),
}
# A CSV of fewer training rows than this trains with Iris's defaults, a larger one with MNIST's.
SMALL_TABLE_ROWS = 1000


def load_dataset(kind, data_file, target, validation_split, seed, dtype):
    """The data set of kind ("mnist", "iris": a key of DATASETS, read from data_file, None:
    where its loader looks by default; or "csv", the CSV file data_file whose class column is
    target), split with a generator seeded with seed, as its DataSource records."""
    rng = np.random.default_rng(seed)
    return load_with(kind, data_file, target, validation_split, rng, dtype, seed)


def load_with(kind, data_file, target, validation_split, rng, dtype, seed):
    """load_dataset with the generator given (a run goes on drawing from it: weights, batches)."""
    if kind in DATASETS:
        return DATASETS[kind].load(data_file, validation_split, rng, dtype, seed=seed)
    if kind != CSV:
        raise ValueError(f"unknown kind of data set {kind!r}")
    return load_csv(data_file, target, validation_split, rng, dtype, seed=seed)


def training_defaults(dataset):
    """The DatasetEntry whose defaults (batch size, schedule, regularisation) a loaded Dataset
    trains with where the flags leave them unset (see defaults_for)."""
    return defaults_for(dataset.kind, len(dataset.X_train))


def defaults_for(kind, n_train):
    """The DatasetEntry whose defaults a run on data set kind with n_train training rows takes:
    a named set's own, or for a CSV Iris's or MNIST's, chosen by its number of rows (never by
    its file's name). The one rule for a run and for an experiment's check of its runs."""
    if kind != CSV:
        return DATASETS[kind]
    return DATASETS["iris" if n_train < SMALL_TABLE_ROWS else "mnist"]
