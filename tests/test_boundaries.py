"""Whatever a file or a caller hands the project, it answers at once: files are read within
bounds (no FIFO, device or giant line blocks or exhausts it), and the Python API names the
argument that is wrong."""

import os
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import assert_one_line_error, run_in_process, run_main
from Model import Model, one_hot

# ------------------------------------------------------------ files, read within bounds

def refused_quickly(*flags, expected, tmp_path):
    """Main.py with flags, in a process of its own: one line naming expected, exit 2, within
    10 seconds, nothing written."""
    started = time.monotonic()
    result = run_main(*flags, "--output_dir", tmp_path / "out", timeout=60)
    assert time.monotonic() - started < 10
    assert_one_line_error(result, *expected)
    assert not (tmp_path / "out").exists()


def test_a_fifo_nobody_writes_is_refused_before_it_blocks(tmp_path):
    os.mkfifo(tmp_path / "rows.csv")
    refused_quickly("--csv", tmp_path / "rows.csv", "--target", "kind", tmp_path=tmp_path,
                    expected=[f"{tmp_path / 'rows.csv'}: is a named pipe (FIFO), not a file"])


@pytest.mark.parametrize("flags, device", [(("--csv", "/dev/zero", "--target", "a"), "/dev/zero"),
                                           (("--datasets", "mnist", "--mnist_path",
                                             "/dev/urandom"), "/dev/urandom")])
def test_a_device_is_refused_before_it_is_read(tmp_path, flags, device):
    refused_quickly(*flags, tmp_path=tmp_path, expected=[f"{device}: is a character device"])


def test_a_line_of_fifty_megabytes_is_refused_naming_it(tmp_path):
    (tmp_path / "one.csv").write_bytes(b"kind,x\n" + b"1," * 25_000_000)
    refused_quickly("--csv", tmp_path / "one.csv", "--target", "kind", tmp_path=tmp_path,
                    expected=["one.csv: line 2 is 50,000,000 characters long, more than"])


def test_a_cell_too_long_to_be_a_value_is_refused_naming_its_line(tmp_path):
    (tmp_path / "cell.csv").write_text("kind,x\na,1\nb," + "9" * 20_000 + "\n")
    refused_quickly("--csv", tmp_path / "cell.csv", "--target", "kind", tmp_path=tmp_path,
                    expected=["cell.csv: line 3 is 20,000 characters long in one cell"])


def test_json_nested_deeper_than_any_model_is_refused(capsys, finished, tmp_path):
    with np.load(finished / "iris" / "model.npz") as archive:
        arrays = dict(archive)
    arrays["record"] = np.array("[" * 100_000 + "]" * 100_000)
    np.savez(tmp_path / "model.npz", **arrays)
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--evaluate")
    assert_one_line_error(result, "a damaged model file",
                          "JSON nested 100000 levels deep, more than 32")


def test_a_checkpoint_whose_json_is_too_deep_is_refused(capsys, tmp_path):
    from mlp.checkpoint import read_checkpoint

    np.savez(tmp_path / "checkpoint.npz", state=np.array("{\"a\": " * 50 + "1" + "}" * 50),
             parameters=np.zeros(3))
    with pytest.raises(Exception) as raised:
        read_checkpoint(tmp_path / "checkpoint.npz")
    assert "a damaged checkpoint" in str(raised.value) and "50 levels deep" in str(raised.value)


def test_a_file_larger_than_its_kind_may_be_is_refused_before_reading(tmp_path):
    from mlp.errors import DataError
    from mlp.files import read_bytes

    (tmp_path / "big.csv").write_bytes(b"x" * 2048)
    with pytest.raises(DataError) as raised:
        read_bytes(tmp_path / "big.csv", "a CSV file", largest=1024)
    assert str(raised.value) == (f"{tmp_path / 'big.csv'}: 2,048 bytes, more than the 1,024 it "
                                 f"may be (half the memory available, at most 1,024); expected a "
                                 f"CSV file")


def test_a_target_of_measurements_is_refused_as_scikit_learn_would(capsys, tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{1000 + rng.random() * 100:.3f}" for _ in range(60)]
    (tmp_path / "prices.csv").write_text("size,price\n" + "\n".join(rows) + "\n")
    result = run_in_process(capsys, "--csv", tmp_path / "prices.csv", "--target", "price",
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "column 'price' holds numbers that are not whole, 60 distinct "
                                  "values in 60 rows: a measurement, not a class")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------- the Python API

X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
LABELS = np.arange(20) % 3


@pytest.mark.parametrize("call, error, words", [
    (lambda m: m.fit(X, LABELS, X, LABELS), ValueError,
     "Y_train has shape (20,): class labels; expected one-hot rows of shape (20, 3), which "
     "one_hot(Y_train, 3) makes of them"),
    (lambda m: m.evaluate(X, LABELS), ValueError, "one_hot(Y, 3)"),
    (lambda m: m.predict_proba(X[:, :3]), ValueError,
     "X has shape (20, 3); expected (n_samples, 4)"),
    (lambda m: m.fit(X[:, :3], one_hot(LABELS, 3), X, one_hot(LABELS, 3)), ValueError,
     "X_train has shape (20, 3)"),
    (lambda m: m.predict_proba(np.where(np.arange(80).reshape(20, 4) == 21, np.inf, X)),
     ValueError, "X row 5 holds NaN or infinity"),
    (lambda m: m.predict_proba(X.astype(str)), TypeError, "X holds <U"),
])
def test_the_api_names_the_argument_that_is_wrong(call, error, words):
    with pytest.raises(error) as raised:
        call(Model(4, [8], 3, rng=0))
    assert words in str(raised.value)


@pytest.mark.parametrize("arguments, words", [
    (dict(rng="seed"), "rng is 'seed'; expected a seed (a whole number >= 0) or a numpy Generator"),
    (dict(n_features=0), "n_features is 0; expected a whole number of at least 1"),
    (dict(hidden_sizes=[8, 0]), "hidden_sizes is [8, 0]"),
    (dict(n_classes=1), "n_classes is 1; expected a whole number of at least 2"),
    (dict(dropout=1.0), "dropout is 1.0"),
])
def test_a_model_that_cannot_be_built_says_which_argument(arguments, words):
    with pytest.raises((ValueError, TypeError)) as raised:
        Model(**{**dict(n_features=4, hidden_sizes=[8], n_classes=3, rng=0), **arguments})
    assert words in str(raised.value)


def test_an_int_seed_builds_the_network_a_generator_of_that_seed_builds():
    seeded, generated = Model(4, [8], 3, rng=7), Model(4, [8], 3, np.random.default_rng(7))
    for a, b in zip(seeded.parameters(), generated.parameters()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("labels, words", [
    ([0, 3], "labels[1] is 3; expected a whole class index from 0 to 2"),
    ([0, -1], "labels[1] is -1"), ([0.5], "labels[0] is 0.5"),
    ([[0, 1]], "labels has shape (1, 2)"),
])
def test_one_hot_names_the_label_that_is_no_class(labels, words):
    with pytest.raises(ValueError) as raised:
        one_hot(labels, 3)
    assert words in str(raised.value)


ARGUMENT_NAMES = ("X", "Y", "X_train", "Y_train", "X_val", "Y_val", "labels")


@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.uint8,
                                         np.complex64, "U3"]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)),
       st.sampled_from(["fit", "evaluate", "predict_proba", "one_hot"]))
def test_random_arrays_give_a_result_or_an_error_naming_an_argument(array, method):
    model = Model(4, [3], 3, rng=0)
    try:
        if method == "fit":
            model.fit(array, array, array, array, epochs=1)
        elif method == "evaluate":
            model.evaluate(array, array)
        elif method == "predict_proba":
            P = model.predict_proba(array)
            assert P.shape == (len(array), 3) and np.isfinite(P).all()
        else:
            Y = one_hot(array, 3)
            assert Y.shape == (len(array), 3) and (Y.sum(axis=1) == 1).all()
    except (ValueError, TypeError) as error:
        assert str(error).split(" ", 1)[0].split("[")[0] in ARGUMENT_NAMES, str(error)
