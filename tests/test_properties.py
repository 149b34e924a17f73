"""A search for bad inputs, with Hypothesis: every flag, every way of writing --hidden_layers,
every split, CSV and npz file either works or is refused in one line; never a traceback.

Each property is checked in this process on the examples Hypothesis generates (a fixed set
in CI: see conftest.py). What the search found is pinned by plain tests beside the others of
their subject (test_cli.py, test_data_files.py, test_saved_models.py, test_resume.py).
"""

import contextlib
import io
import json
import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from helpers import tiny_record
from mlp import flags
from mlp.checkpoint import checkpoint_contents, read_checkpoint
from mlp.datasets import (
    DataError,
    load_csv,
    read_feature_rows,
    read_images,
    read_mnist_npz,
    split_images,
    table_dataset,
    table_source,
)
from mlp.errors import UserError
from mlp.optimizers import optimizer_for
from mlp.saved_models import load_model, save_model
from Model import COMPLETED, DIVERGED, Callback, Model, one_hot

FLAGS_WITH_VALUES = [action.option_strings[0] for action in flags.build_parser()._actions
                     if action.option_strings and action.nargs != 0 and action.dest != "help"]
UNICODE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
FLAG_VALUES = st.one_of(
    st.integers().map(str),
    st.text("0123456789", min_size=20, max_size=5000),   # numbers of any size, as typed
    st.floats().map(repr),
    st.text(UNICODE, max_size=20),
    st.sampled_from(["", " ", "-", "--", "-1", "0", "1", "0.5", "1e309", "-inf", "NaN", "1_000",
                     "0x10", "١٢", "[", "]", "[]", "mnist,iris", ",", "256,64", "+3", " 7 "]),
)


def read_or_refusal(read, path, *args):
    """read(path, *args), or None once the DataError it raised is checked: one line that
    starts with the file's name."""
    try:
        return read(path, *args)
    except DataError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error), str(error)
        return None


def read_generated(tmp_path_factory, name, data, read, *args):
    """Write data to a new file called name and read it with read_or_refusal."""
    path = tmp_path_factory.mktemp("generated") / name
    path.write_bytes(data)
    return read_or_refusal(read, path, *args)


def parse(argv):
    """(the training flags or None, exit status or None, the error lines Main.py prints) of
    flags.parse_args."""
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            return flags.parse_args(argv).training, None, []
        except UserError as error:  # Main.py prints it as one line and exits with its status
            return None, error.exit_status, f"Main.py: error: {error}".splitlines()


# ------------------------------------------------------------------ flags

@given(flag=st.sampled_from(FLAGS_WITH_VALUES), value=FLAG_VALUES)
def test_any_value_of_any_flag_is_accepted_valid_or_refused_in_one_line_naming_the_flag(flag,
                                                                                        value):
    training, status, lines = parse([flag, value])
    if training is None:
        assert status == 2 and len(lines) == 1, lines
        assert flag in lines[0] and lines[0].startswith("Main.py: error: argument "), lines
        return
    assert training.epochs >= 1 and (training.batch_size is None or training.batch_size >= 1)
    assert math.isfinite(training.learning_rate) and training.learning_rate > 0
    assert 0 < training.validation_split < 1 and training.seed >= 0
    assert all(isinstance(width, int) and width >= 1 for width in training.hidden_sizes)
    for rate in (training.weight_decay, training.dropout):
        assert rate is None or (math.isfinite(rate) and rate >= 0)


# --------------------------------------------------------- --hidden_layers

FORMS = ["[{}]", "[{}]", "{}", "{}", "[ {} ]"]
SEPARATORS = [", ", ",", ",", " ", " , "]


@given(widths=st.lists(st.integers(1, 10 ** 6), max_size=6), form=st.integers(0, len(FORMS) - 1),
       split_by_the_shell=st.booleans(), with_equals=st.booleans())
def test_every_way_of_writing_a_list_parses_to_that_list(widths, form, split_by_the_shell,
                                                         with_equals):
    text = FORMS[form].format(SEPARATORS[form].join(map(str, widths)))
    tokens = text.split() if split_by_the_shell else [text]
    assume(tokens)  # an empty unquoted list reaches the program as no token at all
    argv = ([f"--hidden_layers={tokens[0]}", *tokens[1:]] if with_equals
            else ["--hidden_layers", *tokens])
    training, status, lines = parse([*argv, "--epochs", "3"])
    assert training is not None, lines
    assert training.hidden_sizes == widths and training.epochs == 3


MANGLED = st.sampled_from(["[[", "]]", "[", "]", "-", "+-", ".5", "0", ";", ",,", " , ,", "x",
                           "1e3", "٣", "--", "=", "[]", "\t", "0x1"])


@given(widths=st.lists(st.integers(1, 999), min_size=1, max_size=4), junk=MANGLED,
       where=st.integers(0, 40), split_by_the_shell=st.booleans())
def test_a_mangled_list_is_parsed_or_refused_in_one_line(widths, junk, where, split_by_the_shell):
    text = "[" + ", ".join(map(str, widths)) + "]"
    where = min(where, len(text))
    text = text[:where] + junk + text[where:]
    tokens = text.split() if split_by_the_shell else [text]
    assume(tokens)
    training, status, lines = parse(["--hidden_layers", *tokens])
    if training is None:
        assert status == 2 and len(lines) == 1 and "--hidden_layers" in lines[0], lines
    else:
        assert all(isinstance(width, int) and width >= 1 for width in training.hidden_sizes)


# ------------------------------------------------------------------ splits

@given(counts=st.lists(st.integers(1, 80), min_size=2, max_size=8),
       validation_split=st.floats(0.0001, 0.9999))
def test_a_table_split_has_rows_in_every_part_or_says_which_is_empty(counts, validation_split):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), 2))
    names = [f"class{i}" for i in range(len(counts))]
    try:
        data = table_source("csv", "t", "t.csv", b"", len(y), validation_split, 0, None, ["a", "b"])
        dataset = table_dataset(data, "t.csv", X, y, names, rng, np.dtype(np.float32))
    except DataError as error:
        assert str(error).startswith("t.csv: ") and ("--validation_split" in str(error)
                                                     or "needs at least 3" in str(error))
        return
    for part in (dataset.y_train, dataset.y_val, dataset.y_test):
        assert len(part) > 0
    assert set(dataset.y_train.tolist()) == set(range(len(counts)))
    assert np.isfinite(dataset.X_train).all()


@given(labels=st.lists(st.integers(0, 9), min_size=1, max_size=40),
       validation_split=st.floats(0.0001, 0.9999))
def test_an_image_split_has_rows_in_both_parts_or_says_which_is_empty(labels, validation_split):
    y = np.array(labels, np.uint8)
    images = np.zeros((len(y), 4, 4), np.uint8)
    try:
        train, val = split_images(images, y, validation_split, np.random.default_rng(0), "m.npz")
    except DataError as error:
        assert str(error).startswith("m.npz: ") and ("--validation_split" in str(error)
                                                     or "expected at least 2" in str(error))
        return
    assert len(train) > 0 and len(val) > 0
    assert set(y[train].tolist()) == set(y.tolist())


# ------------------------------------------------------------- CSV files

CELLS = st.one_of(st.sampled_from(["1.5", "-2", "0", "", "inf", "-inf", "nan", "1e308", "-1e308",
                                   '"3"', '" 4.5 "', "abc", "1,5", "TRUE", "  7  ", "1e-320"]),
                  st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr))
NAMES = st.sampled_from(["a", "b", "c", "y", "a", "\ufeffa", "ünï", "1", " y", "y "])


@st.composite
def csv_files(draw):
    """The bytes of a CSV file: a header (maybe), rows of cells, a separator, odd bytes at times."""
    n_columns = draw(st.integers(1, 4))
    header = [draw(NAMES) for _ in range(n_columns - 1)] + ["y"]
    separator = draw(st.sampled_from([",", ",", ";", "\t"]))
    classes = draw(st.lists(st.sampled_from(["p", "q", "r", "s", "1", "2"]), min_size=1,
                            max_size=4))
    rows = [[draw(CELLS) for _ in range(n_columns - 1)] + [draw(st.sampled_from(classes))]
            for _ in range(draw(st.integers(0, 30)))]
    lines = ([separator.join(header)] if draw(st.booleans()) else []) + \
        [separator.join(row) for row in rows]
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"\xef\xbb\xbf", b"", b"\xff\xfe"])) + data
    if draw(st.integers(0, 9)) == 0:
        data += b"\n" + b"1," * draw(st.integers(1000, 20000)) + b"p\n"
    if draw(st.integers(0, 9)) == 0:
        data = data.replace(b"a", b"\xe9", 1)
    return data


def train_briefly(dataset):
    """One epoch of a small network on the data set: nothing may warn or fail."""
    rng = np.random.default_rng(0)
    model = Model(dataset.n_features, [4], dataset.n_classes, rng)
    result = model.fit(dataset.X_train, one_hot(dataset.y_train, dataset.n_classes),
                       dataset.X_val, one_hot(dataset.y_val, dataset.n_classes),
                       epochs=1, batch_size=4, rng=rng, optimizer=optimizer_for(model, "adam",
                                                                                0.01))
    assert result.status in (COMPLETED, DIVERGED)


@given(data=csv_files())
def test_a_csv_to_train_on_trains_or_is_refused_in_one_line(tmp_path_factory, data):
    dataset = read_generated(tmp_path_factory, "table.csv", data, load_csv, "y", 0.2,
                             np.random.default_rng(0))
    if dataset is None:
        return
    assert np.isfinite(dataset.X_train).all() and np.isfinite(dataset.X_test).all()
    assert min(len(dataset.X_train), len(dataset.X_val), len(dataset.X_test)) > 0
    train_briefly(dataset)


@given(data=csv_files(), n_features=st.integers(1, 3))
def test_a_csv_to_predict_is_read_or_refused_in_one_line(tmp_path_factory, data, n_features):
    X = read_generated(tmp_path_factory, "rows.csv", data.replace(b"y\n", b"c\n", 1),
                       read_feature_rows, ["a", "b", "c"][:n_features])
    if X is None:
        return
    assert X.ndim == 2 and X.shape[1] == n_features and len(X) > 0 and np.isfinite(X).all()


# ------------------------------------------------------------- npz files

DTYPES = st.sampled_from([np.uint8, np.int64, np.int8, np.float32, np.float64, np.bool_,
                          np.complex64, "U3", np.uint16])
SHAPES = st.lists(st.integers(0, 6), max_size=4).map(tuple)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(DTYPES))
    shape = draw(SHAPES)
    values = np.random.default_rng(draw(st.integers(0, 99))).normal(0, 300, size=shape)
    if dtype.kind == "U":
        return np.full(shape, "abc", dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


@st.composite
def npz_files(draw, base):
    """The bytes of an npz file: base's arrays with some replaced, removed or added; or random
    bytes; or base's file cut short."""
    kind = draw(st.sampled_from(["arrays", "arrays", "arrays", "random", "truncated"]))
    buffer = io.BytesIO()
    if kind == "random":
        return draw(st.binary(max_size=400))
    contents = dict(base)
    if kind == "arrays":
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(sorted(contents) + ["other"]))
            if draw(st.integers(0, 3)) == 0:
                contents.pop(key, None)
            else:
                contents[key] = draw(arrays())
    np.savez(buffer, **contents)
    data = buffer.getvalue()
    if kind == "truncated":
        data = data[:draw(st.integers(0, len(data) - 1))]
    return data


MNIST_BASE = {"x_train": np.zeros((6, 4, 4), np.uint8), "y_train": np.arange(6, dtype=np.uint8),
              "x_test": np.zeros((3, 4, 4), np.uint8), "y_test": np.arange(3, dtype=np.uint8)}


@given(data=npz_files(MNIST_BASE))
def test_an_mnist_file_is_read_or_refused_in_one_line(tmp_path_factory, data):
    arrays_read = read_generated(tmp_path_factory, "mnist.npz", data, read_mnist_npz)
    if arrays_read is None:
        return
    x_train, y_train, x_test, y_test = arrays_read
    assert len(x_train) == len(y_train) > 0 and len(x_test) == len(y_test) > 0


@given(data=npz_files({"x_test": np.zeros((3, 4, 4), np.uint8)}))
def test_images_to_predict_are_read_or_refused_in_one_line(tmp_path_factory, data):
    images = read_generated(tmp_path_factory, "images.npz", data, read_images)
    if images is None:
        return
    assert images.ndim in (2, 3) and images.dtype.kind in "uif"


def model_arrays_of(model):
    buffer = io.BytesIO()
    save_model(buffer, model, ["a", "b"], None, None, tiny_record())
    buffer.seek(0)
    with np.load(buffer) as archive:
        return dict(archive)


MODEL_BASE = model_arrays_of(Model(3, [2], 2, np.random.default_rng(0)))


@given(data=npz_files(MODEL_BASE))
def test_a_model_file_is_loaded_or_refused_in_one_line(tmp_path_factory, data):
    loaded = read_generated(tmp_path_factory, "model.npz", data, load_model)
    if loaded is None:
        return
    model, _ = loaded
    assert np.isfinite(model.predict_proba(np.zeros((1, model.n_features), model.dtype))).all()


def whole_checkpoint():
    """The arrays of a whole checkpoint, as mlp.checkpoint writes one after epoch 1 of a tiny
    run."""
    rng = np.random.default_rng(0)
    model = Model(3, [2], 2, rng)
    X = rng.normal(size=(8, 3)).astype(np.float32)
    Y = one_hot(rng.integers(0, 2, 8), 2)
    kept = {}

    class Keep(Callback):
        def on_epoch_end(self, run, logs):
            kept["values"], kept["arrays"] = checkpoint_contents(run, tiny_record(run.result), [])

    model.fit(X, Y, X, Y, epochs=1, batch_size=4, rng=rng,
              optimizer=optimizer_for(model, "adam", 0.01), callbacks=[Keep()])
    return {"state": np.array(json.dumps(kept["values"])),
            **{name: np.array(array) for name, array in kept["arrays"].items()}}


CHECKPOINT_BASE = whole_checkpoint()
STATES = st.sampled_from(["", "[]", "3", "null", '{"format": "numpy-mlp-checkpoint"}',
                          '{"format": "numpy-mlp-checkpoint", "version": 2}', "{", '"text"'])


def test_the_checkpoint_search_starts_from_a_whole_checkpoint(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, **CHECKPOINT_BASE)
    (tmp_path / "checkpoint.npz").write_bytes(buffer.getvalue())
    values, arrays, _ = read_checkpoint(str(tmp_path / "checkpoint.npz"))
    assert values["epoch"] == 1 and arrays["parameters"].size == (3 + 1) * 2 + (2 + 1) * 2


@given(data=npz_files(CHECKPOINT_BASE), state=st.one_of(st.none(), STATES))
def test_a_checkpoint_is_read_or_refused_in_one_line(tmp_path_factory, data, state):
    if state is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **dict(CHECKPOINT_BASE, state=np.array(state)))
        data = buffer.getvalue()
    checkpoint = read_generated(tmp_path_factory, "checkpoint.npz", data, read_checkpoint)
    if checkpoint is None:
        return
    values, arrays_read, _ = checkpoint
    assert isinstance(values, dict) and "parameters" in arrays_read
