"""The failures the property-based search (test_properties.py) found, each pinned by its
smallest example. Before the fixes each of these ended in a traceback or a wrong result."""

import io
import json

import numpy as np
import pytest

from Model import Model
from mlp import flags
from mlp.checkpoint import read_checkpoint
from mlp.datasets import DataError, load_csv, read_images, read_mnist_npz, split_images, table_dataset, table_source
from mlp.model_file import load_model, save_model
from helpers import assert_one_line_error, run_in_process


def test_hidden_layers_after_an_equals_sign_split_by_the_shell():
    # --hidden_layers=[256, 64] typed without quotes: "unrecognized arguments: 64]".
    assert flags.parse_args(["--hidden_layers=[256,", "64]"]).hidden_layers == [256, 64]
    assert flags.parse_args(["--hidden_layers=256", "64", "--epochs", "2"]).hidden_layers == [256, 64]


def test_a_width_written_with_two_dashes_is_named_as_the_hidden_layers_fault(capsys):
    # [100, --1] was "unrecognized arguments: --1]", naming no flag.
    result = run_in_process(capsys, "--hidden_layers", "[100,", "--1]")
    assert_one_line_error(result, "argument --hidden_layers", "'--1' is not a whole number")


def test_iris_with_a_validation_split_that_leaves_no_training_rows(capsys, tmp_path):
    # The example: ZeroDivisionError: float division by zero.
    result = run_in_process(capsys, "--datasets", "iris", "--validation_split", "0.99",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "iris.data: --validation_split 0.99 leaves no training row of "
                                  "class 'Iris-setosa'", "expected a smaller --validation_split")


def test_a_table_whose_smallest_classes_lose_their_training_rows():
    y = np.repeat([0, 1], [3, 3])
    with pytest.raises(DataError, match="leaves no training row of class 'a'"):
        table_dataset(table_source("csv", "t", "t.csv", b"", 6, 0.9, 0, ["x", "y"], ["x"]), "t.csv",
                      np.arange(6.0)[:, None], y, ["a", "b"], np.random.default_rng(0),
                      np.dtype(np.float32))


def test_one_training_image_and_a_class_left_out_of_training():
    images = np.zeros((1, 4, 4), np.uint8)
    with pytest.raises(DataError, match="1 training image; expected at least 2"):
        split_images(images, np.array([3]), 0.1, np.random.default_rng(0), "m.npz")
    images = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(DataError, match="none of class"):
        split_images(images, np.array([0, 1, 2]), 0.5, np.random.default_rng(0), "m.npz")


def test_a_csv_with_a_header_and_no_rows(tmp_path):
    # IndexError: single positional indexer is out-of-bounds.
    path = tmp_path / "t.csv"
    path.write_text("a,y")
    with pytest.raises(DataError, match="a header and no rows"):
        load_csv(path, "y", 0.1, np.random.default_rng(0))


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_images_that_are_not_real_numbers_or_are_empty(tmp_path):
    # Complex images were accepted (their imaginary part silently dropped).
    with pytest.raises(DataError, match="expected \\(n_images, 28, 28\\) pixels"):
        read_images(npz(tmp_path / "c.npz", x_test=np.zeros((2, 4, 4), np.complex64)))
    with pytest.raises(DataError, match="expected \\(n_images, 28, 28\\) pixels"):
        read_images(npz(tmp_path / "e.npz", x_test=np.zeros((0, 0), np.uint8)))


def test_mnist_images_with_no_pixels(tmp_path):
    # ValueError: zero-size array to reduction operation minimum which has no identity.
    path = npz(tmp_path / "m.npz", x_train=np.zeros((6, 0, 4), np.uint8), y_train=np.zeros(6, np.uint8),
               x_test=np.zeros((3, 4, 4), np.uint8), y_test=np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="x_train has shape \\(6, 0, 4\\)"):
        read_mnist_npz(path)


def test_a_npy_file_where_an_npz_is_expected(capsys, tmp_path):
    # np.load returns a bare array for .npy: "'numpy.ndarray' object does not support the
    # context manager protocol".
    path = tmp_path / "mnist.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir", tmp_path)
    assert_one_line_error(result, str(path), "not an npz archive")


@pytest.fixture
def model_file():
    buffer = io.BytesIO()
    save_model(buffer, Model(3, [2], 2, np.random.default_rng(0)), ["a", "b"], None, None, {})
    buffer.seek(0)
    with np.load(buffer) as archive:
        return dict(archive)


@pytest.mark.parametrize("change, reason", [
    ({"version": np.zeros(0, np.uint8)}, "version is not a whole number"),     # TypeError
    ({"version": np.array(2 + 1j)}, "version is not a whole number"),          # ComplexWarning
    ({"layer_sizes": np.zeros(0, np.int64)}, "layer sizes []"),                # IndexError
    ({"weights_0": np.full((3, 2), "abc")}, "not numbers"),                    # a string dtype
    ({"options": np.array("[1, 2]")}, "not a JSON object"),                    # AttributeError later
])
def test_damaged_model_files(tmp_path, model_file, change, reason):
    path = npz(tmp_path / "model.npz", **dict(model_file, **change))
    with pytest.raises(DataError) as raised:
        load_model(path)
    assert str(raised.value).startswith(f"{path}: a damaged model file") and reason in str(raised.value)


def test_a_checkpoint_whose_state_is_not_an_object(tmp_path):
    # AttributeError: 'list' object has no attribute 'get'.
    path = npz(tmp_path / "checkpoint.npz", state=np.array(json.dumps([1, 2])),
               parameters=np.zeros(3, np.float32))
    with pytest.raises(DataError, match="a damaged checkpoint"):
        read_checkpoint(path)
