"""The data a run is made of: recorded exactly (kind, file, size, hash, split, contracts), read
again from the record by --evaluate and --resume, and refused in one line when it changed.
Data contracts: pixels 0-255 or 0-1, CSV headers and labels normalised alike for training and
prediction, values float32 can standardise, predictions.csv quoted as CSV."""

import csv
import json
import os
import shutil

import numpy as np
import pytest

from helpers import (
    IRIS,
    ROOT,
    assert_one_line_error,
    kill_at,
    make_csv,
    make_mnist_like,
    npz,
    run_in_process,
    words,
)
from mlp.datasets import (
    load_csv,
    load_dataset,
    read_feature_rows,
    read_images,
    read_mnist_npz,
    split_images,
    table_dataset,
    table_source,
)
from mlp.errors import DataError

SMALL = ["--epochs", "2", "--hidden_layers", "[8]"]


def read_metrics(folder):
    with open(os.path.join(folder, "metrics.json")) as stream:
        return json.load(stream)


def evaluated_accuracy(result):
    """The test accuracy that --evaluate printed, as a float."""
    assert result.returncode == 0, result.stderr
    return float(result.stdout.split("test accuracy ")[1].split()[0])


def train_csv(capsys, path, out, *flags, target="kind"):
    result = run_in_process(capsys, "--csv", path, "--target", target, *SMALL, "--output_dir", out,
                            *flags)
    assert result.returncode == 0, result.stderr
    return result


# ------------------------------------------------------------- the record

def test_every_artifact_records_the_same_identity_of_the_data(trained):
    import hashlib

    folder = trained["results"] / "mnist"
    metrics = read_metrics(folder)
    data = metrics["data"]
    content = trained["mnist"].read_bytes()
    assert data["kind"] == "mnist" and data["title"] == "MNIST"
    assert data["path"] == os.path.realpath(trained["mnist"])
    assert (data["size"], data["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert (data["rows"], data["split_seed"], data["validation_split"]) == (1200, 0, 0.1)
    assert data["pixel_scale"] == 255 and data["test_fraction"] is None
    with np.load(folder / "model.npz") as model:
        assert json.loads(str(model["record"]))["data"] == data
    blobs = read_metrics(trained["results"] / "blobs")
    assert blobs["dataset"] == "csv" and blobs["data"]["title"] == "blobs"
    assert blobs["data"]["header"] == ["width", "height", "depth", "kind"]
    assert blobs["data"]["feature_names"] == ["width", "height", "depth"]
    assert blobs["data"]["target"] == "kind" and blobs["data"]["test_fraction"] == 0.2


def test_a_checkpoint_records_the_data_too(tmp_path):
    from helpers import kill_at
    from mlp.checkpoint import read_checkpoint

    kill_at("checkpoint:2", "--datasets", "iris", *SMALL[2:], "--epochs", "3",
            "--output_dir", tmp_path)
    _, _, record = read_checkpoint(tmp_path / "iris" / "checkpoint.npz")
    assert record.data.path == os.path.join(ROOT, "iris.data")
    assert record.data.rows == 150


# ------------------------------------------------------- --evaluate reads what was recorded

def test_evaluate_reads_the_mnist_file_the_model_was_trained_on(trained, capsys, monkeypatch,
                                                                 tmp_path):
    # A Keras cache that holds other images: evaluating must not read it.
    (tmp_path / "datasets").mkdir()
    make_mnist_like(tmp_path / "datasets" / "mnist.npz", seed=5)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = trained["results"] / "mnist"
    result = run_in_process(capsys, "--model", folder / "model.npz", "--evaluate")
    assert evaluated_accuracy(result) == round(read_metrics(folder)["test_accuracy"], 4)
    assert "on 200 test rows" in result.stdout


def test_evaluate_reads_the_iris_file_the_model_was_trained_on(tmp_path, capsys):
    # The same flowers in another order: another split, so other numbers, if it were ignored.
    lines = open(os.path.join(ROOT, "iris.data")).read().splitlines()
    mine = tmp_path / "my_iris.data"
    mine.write_text("\n".join(reversed([line for line in lines if line])) + "\n")
    out = tmp_path / "out"
    assert run_in_process(capsys, "--datasets", "iris", "--iris_path", mine, *SMALL,
                          "--output_dir", out).returncode == 0
    result = run_in_process(capsys, "--model", out / "iris" / "model.npz", "--evaluate")
    assert evaluated_accuracy(result) == round(read_metrics(out / "iris")["test_accuracy"], 4)
    assert str(mine) in read_metrics(out / "iris")["data"]["path"]


def test_a_csv_that_changed_after_training_is_refused_by_evaluate_and_resume(tmp_path, capsys):
    data = make_csv(tmp_path / "data.csv", n_per_class=20)
    out = tmp_path / "out"
    train_csv(capsys, data, out)
    model = out / "data" / "model.npz"
    header, *rows = data.read_text().splitlines()
    data.write_text("\n".join([header, *reversed(rows)]) + "\n")  # same rows, reordered
    result = run_in_process(capsys, "--model", model, "--evaluate")
    assert_one_line_error(result, f"{data}: not the data the model {model} was trained on",
                          "the same size but other bytes", "pass --csv FILE")
    data.write_text("\n".join([header, *rows[:-1]]) + "\n")  # a row fewer
    result = run_in_process(capsys, "--model", model, "--evaluate")
    assert_one_line_error(result, "bytes, not")
    # --resume of a killed run on the changed file: refused, the checkpoint kept.
    from helpers import kill_at

    data.write_text("\n".join([header, *rows]) + "\n")
    kill_at("checkpoint:2", "--csv", data, "--target", "kind", *SMALL, "--output_dir",
            tmp_path / "again")
    checkpoint = (tmp_path / "again" / "data" / "checkpoint.npz").read_bytes()
    data.write_text("\n".join([header, *reversed(rows)]) + "\n")
    result = run_in_process(capsys, "--csv", data, "--target", "kind", *SMALL, "--output_dir",
                            tmp_path / "again", "--resume")
    assert_one_line_error(result, "not the data the run in", "was trained on")
    assert (tmp_path / "again" / "data" / "checkpoint.npz").read_bytes() == checkpoint


def test_the_same_bytes_under_another_path_are_accepted(tmp_path, capsys, monkeypatch):
    data = make_csv(tmp_path / "data.csv", n_per_class=20)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    train_csv(capsys, "data.csv", out)  # a relative path, evaluated from another folder
    expected = round(read_metrics(out / "data")["test_accuracy"], 4)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "data.csv").write_text("other,rows\n1,2\n")
    model = out / "data" / "model.npz"
    assert evaluated_accuracy(run_in_process(capsys, "--model", model, "--evaluate")) == expected
    # Moved: refused, saying where it was and how to point at it; pointed at, accepted.
    moved = tmp_path / "moved.csv"
    shutil.move(data, moved)
    result = run_in_process(capsys, "--model", model, "--evaluate")
    assert_one_line_error(result, f"{data}: no such file", "pass --csv FILE")
    result = run_in_process(capsys, "--model", model, "--evaluate", "--csv", moved,
                            "--target", "kind")
    assert evaluated_accuracy(result) == expected


def test_a_model_saved_before_data_was_recorded_says_so_once(capsys):
    from helpers import FIXTURES

    result = run_in_process(capsys, "--model", os.path.join(FIXTURES, "iris_model_v2.npz"),
                            "--evaluate")
    assert result.returncode == 0
    assert result.stderr.count("could not be verified") == 1
    assert "test loss 0.1935" in result.stdout


# ------------------------------------------------------- kinds, not file names

@pytest.mark.parametrize("name", ["iris.csv", "mnist.csv", "MNIST.csv"])
def test_a_csv_named_like_a_data_set_is_a_csv(tmp_path, capsys, name):
    data = make_csv(tmp_path / name, n_per_class=20)
    out = tmp_path / "out"
    result = train_csv(capsys, data, out)
    folder = out / f"{name[:-4]}_csv"
    metrics = read_metrics(folder)
    assert metrics["dataset"] == "csv" and metrics["data"]["title"] == name[:-4]
    # A small table's defaults (Iris's), whatever its name says.
    assert (metrics["batch_size"], metrics["lr_schedule"], metrics["weight_decay"],
            metrics["dropout"]) == (1, "constant", 0.0, 0.0)
    assert result.stdout.startswith(f"{name[:-4]}: ") and "(pixels" not in result.stdout
    evaluated = run_in_process(capsys, "--model", folder / "model.npz", "--evaluate")
    assert evaluated_accuracy(evaluated) == round(metrics["test_accuracy"], 4)
    assert "on 12 test rows" in evaluated.stdout


# ------------------------------------------------------------ pixel scale

def test_mnist_pixels_already_scaled_to_0_1_are_not_scaled_again(tmp_path, capsys):
    whole = make_mnist_like(tmp_path / "ints.npz", n_train=300, n_test=60)
    with np.load(whole) as arrays:
        scaled = {key: (arrays[key] / np.float32(255)).astype(np.float32) if key.startswith("x")
                  else arrays[key] for key in arrays.files}
    np.savez(tmp_path / "floats.npz", **scaled)
    ints = load_dataset("mnist", str(whole), None, 0.1, 0, np.dtype(np.float32))
    floats = load_dataset("mnist", str(tmp_path / "floats.npz"), None, 0.1, 0, np.dtype(np.float32))
    assert (ints.data.pixel_scale, floats.data.pixel_scale) == (255, 1)
    np.testing.assert_allclose(floats.X_train, ints.X_train, atol=1e-6)
    assert floats.X_train.max() == pytest.approx(1.0)
    accuracies = []
    for name in ("ints", "floats"):
        result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path",
                                tmp_path / f"{name}.npz", *SMALL, "--learning_rate", "0.01",
                                "--batch_size", "16", "--output_dir", tmp_path / name)
        assert result.returncode == 0, result.stderr
        accuracies.append(read_metrics(tmp_path / name / "mnist")["test_accuracy"])
    assert "(pixels already 0 to 1, used as they are)" in words(result.stdout)
    # The same images on either scale train alike (divided by 255 twice, they would not learn).
    assert accuracies[1] == pytest.approx(accuracies[0], abs=0.05) and accuracies[0] > 0.5
    out = tmp_path / "floats"
    # Predicting on either scale gives the same classes.
    predictions = []
    for name in ("ints.npz", "floats.npz"):
        assert run_in_process(capsys, "--model", out / "mnist" / "model.npz", "--predict",
                              tmp_path / name, "--output_dir", tmp_path / name[:-4]).returncode == 0
        with open(tmp_path / name[:-4] / "predictions.csv") as stream:
            predictions.append([row[1] for row in csv.reader(stream)])
    assert predictions[0] == predictions[1] and len(set(predictions[0][1:])) > 3


def test_train_and_test_images_on_two_scales_are_refused(tmp_path, capsys):
    path = make_mnist_like(tmp_path / "m.npz", n_train=50, n_test=20)
    with np.load(path) as arrays:
        mixed = dict(arrays)
    mixed["x_test"] = mixed["x_test"] / np.float32(255)
    np.savez(path, **mixed)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path,
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "x_train's pixels run from 0 to 255 but x_test's from 0 to 1")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ tables

def write(path, text):
    path.write_text(text)
    return path


def rows_of(classes, n=12, columns=2, seed=0):
    """CSV body lines: n rows per class, columns features that separate the classes."""
    rng = np.random.default_rng(seed)
    lines = []
    for index, name in enumerate(classes):
        for row in rng.normal(3 * index, 0.5, size=(n, columns)):
            lines.append(",".join(f"{value:.3f}" for value in row) + f",{name}")
    return lines


def test_a_header_is_normalised_alike_for_training_and_prediction(tmp_path, capsys):
    # Spaces around names, a True/False column, labels with trailing spaces.
    body = [line.replace(",c0", ",c0 ") if i % 2 else line
            for i, line in enumerate(rows_of(["c0", "c1"]))]
    body = [line.rsplit(",", 1)[0] + (",True," if i % 3 else ",False,") + line.rsplit(",", 1)[1]
            for i, line in enumerate(body)]
    data = write(tmp_path / "t.csv", " a , b ,flag, y \n" + "\n".join(body) + "\n")
    out = tmp_path / "out"
    train_csv(capsys, data, out, target="y")
    metrics = read_metrics(out / "t")
    assert metrics["classes"] == ["c0", "c1"]
    assert metrics["data"]["feature_names"] == ["a", "b", "flag"]
    assert metrics["data"]["header"] == ["a ", "b ", "flag",
                                         "y "]  # as read (leading spaces skipped)
    result = run_in_process(capsys, "--model", out / "t" / "model.npz", "--predict", data,
                            "--output_dir", tmp_path / "p")
    assert result.returncode == 0, result.stderr
    assert "24 rows of" in result.stdout


@pytest.mark.parametrize("header, expected", [
    ("a,a,y", "its header names column 'a' twice"),
    ("a,,y", "column 2 of its header has no name"),
    ("a, b ,b,y", "its header names column 'b' twice")])
def test_duplicate_and_empty_names_are_refused_in_training_and_prediction(tmp_path, capsys, header,
                                                                         expected):
    columns = header.count(",")
    data = write(tmp_path / "t.csv", header + "\n" + "\n".join(rows_of(["p", "q"], columns=columns))
                 + "\n")
    result = run_in_process(capsys, "--csv", data, "--target", "y", "--output_dir", tmp_path / "o")
    assert_one_line_error(result, expected)
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        read_feature_rows(str(data), ["a", "b"])


def test_a_numeric_header_is_a_header_and_numeric_rows_are_rows(tmp_path, capsys):
    data = write(tmp_path / "n.csv", "1,2,y\n" + "\n".join(rows_of(["p", "q"])) + "\n")
    out = tmp_path / "out"
    train_csv(capsys, data, out, target="y")
    rows = write(tmp_path / "rows.csv", "2,1\n0.1,0.2\n3.0,3.1\n")
    assert read_feature_rows(str(rows), ["1", "2"]).tolist() == [[0.2, 0.1], [3.1, 3.0]]
    no_header = write(tmp_path / "plain.csv", "0.1,0.2\n3.0,3.1\n")
    assert read_feature_rows(str(no_header), ["1", "2"]).tolist() == [[0.1, 0.2], [3.0, 3.1]]
    result = run_in_process(capsys, "--model", out / "n" / "model.npz", "--predict", rows,
                            "--output_dir", tmp_path / "p")
    assert result.stdout.startswith("2 rows of"), result.stdout


def test_values_float32_cannot_standardise_are_refused_naming_the_column(tmp_path, capsys):
    body = rows_of(["p", "q"])
    body[3] = "1e300," + body[3].split(",", 1)[1]
    data = write(tmp_path / "big.csv", "a,b,y\n" + "\n".join(body) + "\n")
    result = run_in_process(capsys, "--csv", data, "--target", "y", "--output_dir", tmp_path / "o")
    assert_one_line_error(result, "column 'a' holds values as large as 1e+300",
                          "float32's range")
    assert not (tmp_path / "o").exists()
    with pytest.raises(DataError, match="column 'a' holds values as large as 1e"):
        read_feature_rows(str(write(tmp_path / "r.csv", "a,b\n1e39,1\n")), ["a", "b"])


def test_predictions_quote_class_names_with_commas_and_quotes(tmp_path, capsys):
    names = ['red, dark', 'say "hi"', "plain"]
    rng = np.random.default_rng(0)
    data = tmp_path / "q.csv"
    with open(data, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["a", "b", "y"])
        for index, name in enumerate(names):
            for row in rng.normal(4 * index, 0.5, size=(12, 2)):
                writer.writerow([f"{row[0]:.3f}", f"{row[1]:.3f}", name])
    out = tmp_path / "out"
    train_csv(capsys, data, out, "--epochs", "20", target="y")
    assert read_metrics(out / "q")["classes"] == sorted(names)
    result = run_in_process(capsys, "--model", out / "q" / "model.npz", "--predict", data,
                            "--output_dir", tmp_path / "p")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p" / "predictions.csv", newline="") as stream:
        table = list(csv.reader(stream))
    assert table[0] == ["row", "predicted"] + [f"probability_{name}" for name in sorted(names)]
    assert all(len(row) == 5 for row in table) and len(table) == 37
    assert {row[1] for row in table[1:]} <= set(names)


def test_iris_with_a_validation_split_that_leaves_no_training_rows(capsys, tmp_path):
    # Without the check: ZeroDivisionError, float division by zero.
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


def test_images_that_are_not_real_numbers_or_are_empty(tmp_path):
    # Complex images were accepted (their imaginary part silently dropped).
    with pytest.raises(DataError, match="expected \\(n_images, 28, 28\\) pixels"):
        read_images(npz(tmp_path / "c.npz", x_test=np.zeros((2, 4, 4), np.complex64)))
    with pytest.raises(DataError, match="expected \\(n_images, 28, 28\\) pixels"):
        read_images(npz(tmp_path / "e.npz", x_test=np.zeros((0, 0), np.uint8)))


def test_mnist_images_with_no_pixels(tmp_path):
    # ValueError: zero-size array to reduction operation minimum which has no identity.
    path = npz(tmp_path / "m.npz", x_train=np.zeros((6, 0, 4), np.uint8), y_train=np.zeros(6,
                                                                                           np.uint8),
               x_test=np.zeros((3, 4, 4), np.uint8), y_test=np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="x_train has shape \\(6, 0, 4\\)"):
        read_mnist_npz(path)


def test_a_npy_file_where_an_npz_is_expected(capsys, tmp_path):
    # np.load returns a bare array for .npy: "'numpy.ndarray' object does not support the
    # context manager protocol".
    path = tmp_path / "mnist.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir",
                            tmp_path)
    assert_one_line_error(result, str(path), "not an npz archive")


def npz_with(path, **overrides):
    """A small valid MNIST-layout file, with some arrays replaced (None removes one)."""
    make_mnist_like(path, n_train=50, n_test=20)
    with np.load(path) as archive:
        arrays = dict(archive)
    for key, value in overrides.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(path, **arrays)
    return path


def mnist_cases(tmp_path):
    good = make_mnist_like(tmp_path / "good.npz", n_train=50, n_test=20)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file\n" * 20)
    (tmp_path / "folder.npz").mkdir()
    images = np.zeros((50, 28, 28), np.uint8)
    float_images = images.astype(np.float32)
    float_images[3, 4, 5] = np.nan
    return {
        "missing": (tmp_path / "absent.npz", "no such file"),
        "folder": (tmp_path / "folder.npz", "is a folder"),
        "truncated": (truncated, "not a readable npz"),
        "garbage": (garbage, "not a readable npz"),
        "keys": (npz_with(tmp_path / "keys.npz", y_test=None), "missing arrays y_test"),
        "dtype": (npz_with(tmp_path / "dtype.npz", x_train=np.full((50, 28, 28), "a")), "dtype"),
        "shape": (npz_with(tmp_path / "shape.npz", x_train=np.zeros(50, np.uint8)), "shape"),
        "lengths": (npz_with(tmp_path / "lengths.npz", y_train=np.zeros(49, np.uint8)),
                    "50 images but y_train has 49 labels"),
        "labels": (npz_with(tmp_path / "labels.npz", y_train=np.full(50, 10, np.uint8)),
                   "expected digits 0 to 9"),
        "nan": (npz_with(tmp_path / "nan.npz", x_train=float_images), "NaN or infinite"),
        "pixels": (npz_with(tmp_path / "pixels.npz", x_test=np.full((20, 28, 28), 300, np.int32)),
                   "expected 0 to 255"),
        "image shapes": (npz_with(tmp_path / "sizes.npz", x_test=np.zeros((20, 14, 14), np.uint8)),
                         "expected the same shape"),
    }


MNIST_CASES = ["missing", "folder", "truncated", "garbage", "keys", "dtype", "shape", "lengths",
               "labels", "nan", "pixels", "image shapes"]


IRIS_ROW = "5.1,3.5,1.4,0.2,Iris-setosa\n"


IRIS_CASES = {
    "empty": ("", "not a readable CSV"),
    "missing value": ("5.1,3.5,,0.2,Iris-setosa\n" + IRIS_ROW * 20, "missing values"),
    "non-numeric": ("5.1,3.5,wide,0.2,Iris-setosa\n" + IRIS_ROW * 20, "'wide'"),
    "one class": (IRIS_ROW * 30, "single class"),
    "too few rows": (IRIS_ROW * 5 + "6.0,3.0,4.5,1.5,Iris-versicolor\n" * 2, "needs at least 3"),
    "columns": ("5.1,3.5,1.4,Iris-setosa\n" * 10, "4 columns; expected 5"),
    "binary": (None, "not a readable CSV"),
}


@pytest.mark.parametrize("case", MNIST_CASES)
def test_bad_mnist_files(capsys, tmp_path, case):
    path, reason = mnist_cases(tmp_path)[case]
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir",
                            tmp_path / "out")
    assert_one_line_error(result, str(path), reason)


@pytest.mark.parametrize("case", sorted(IRIS_CASES))
def test_bad_iris_files(capsys, tmp_path, case):
    text, reason = IRIS_CASES[case]
    path = tmp_path / "iris.data"
    if text is None:
        path.write_bytes(bytes(range(256)) * 8)
    else:
        path.write_text(text)
    result = run_in_process(capsys, "--datasets", "iris", "--iris_path", path, "--output_dir",
                            tmp_path / "out")
    assert_one_line_error(result, str(path), reason)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file whatever its permissions")
def test_unreadable_file(capsys, tmp_path):
    path = make_mnist_like(tmp_path / "locked.npz", n_train=50, n_test=20)
    path.chmod(0)
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", path, "--output_dir",
                            tmp_path)
    assert_one_line_error(result, str(path), "not readable")


def test_the_same_data_file_by_another_path_resumes(capsys, tmp_path, monkeypatch):
    shutil.copy(os.path.join(ROOT, "iris.data"), tmp_path / "iris.data")
    monkeypatch.chdir(tmp_path)
    kill_at("checkpoint:2", *IRIS, "--iris_path", "iris.data", "--output_dir", "here")
    result = run_in_process(capsys, *IRIS, "--iris_path", tmp_path / "iris.data",
                            "--output_dir", "here", "--resume")
    assert result.returncode == 0, result.stderr
    assert "Iris: resuming after epoch 1" in result.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_named_data_set_is_read_in_the_dtype_asked_for(dtype):
    from mlp.datasets import DATASETS, load_dataset

    iris = load_dataset("iris", DATASETS["iris"].default_path, None, 0.1, 0, np.dtype(dtype))
    assert {iris.X_train.dtype, iris.X_val.dtype, iris.X_test.dtype} == {np.dtype(dtype)}


def test_two_images_of_one_class_split_one_and_one():
    from mlp.datasets import split_images

    train, val = split_images(np.zeros((2, 28, 28), np.uint8), np.array([3, 3]), 0.5,
                              np.random.default_rng(0), "two.npz")
    assert (len(train), len(val)) == (1, 1) and set(train) | set(val) == {0, 1}


def test_pixels_from_0_to_255_are_accepted_and_256_refused():
    from mlp.datasets import check_pixels

    check_pixels("ok.npz", np.array([[0, 255]], np.int16), "x_train has")
    with pytest.raises(DataError, match=r"x_train has pixel values from 0 to 256; expected 0 to "
                                        r"255"):
        check_pixels("high.npz", np.array([[0, 256]], np.int16), "x_train has")


def test_a_headerless_tables_column_is_named_by_its_place():
    import pandas as pd

    from mlp.datasets import feature_values

    with pytest.raises(DataError, match=r"t.csv: column 2 is not numeric \(it holds 'x'\)"):
        feature_values(pd.DataFrame([[1.0, "x"], [2.0, "y"]]), "t.csv")


def test_a_csv_runs_record_names_its_file_as_given(trained):
    metrics = json.loads((trained["results"] / "blobs" / "metrics.json").read_text())
    assert metrics["source"] == str(trained["blobs"])
