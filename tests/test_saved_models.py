"""model.npz: saving, loading (every format version), damaged or odd model files refused,
--evaluate, and --predict with the rows or images it reads."""

import io
import json

import numpy as np
import pytest

from helpers import (
    FIXTURES,
    ROOT,
    assert_one_line_error,
    make_mnist_like,
    npz,
    run_in_process,
    tiny_record,
)
from mlp.datasets import DATASETS, load_iris
from mlp.diagnostics import assess
from mlp.errors import DataError
from mlp.saved_models import VERSION, load_model, save_model
from Model import Model


def test_a_saved_model_predicts_exactly_what_the_original_did(tmp_path):
    rng = np.random.default_rng(0)
    dataset = load_iris(f"{ROOT}/iris.data", 0.1, rng)
    model = Model(4, [8, 5], 3, rng)
    for parameter in model.parameters():
        parameter[...] = rng.normal(size=parameter.shape)
    path = tmp_path / "model.npz"
    with open(path, "wb") as stream:
        save_model(stream, model, dataset.class_names, dataset.feature_mean, dataset.feature_scale,
                   tiny_record())
    loaded, details = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(dataset.X_test),
                                  model.predict_proba(dataset.X_test))
    assert loaded.hidden_sizes == [8, 5] and loaded.dtype == np.float32
    assert details["class_names"] == dataset.class_names
    np.testing.assert_array_equal(details["feature_mean"], dataset.feature_mean)


@pytest.mark.slow
def test_evaluate_a_saved_model_reproduces_the_runs_test_accuracy(capsys, trained):
    model = trained["results"] / "blobs" / "model.npz"
    result = run_in_process(capsys, "--model", model, "--evaluate")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((trained["results"] / "blobs" / "metrics.json").read_text())
    assert f"test accuracy {metrics['test_accuracy']:.4f} on 48 test rows" in result.stdout
    assert "precision" in result.stdout and "mid" in result.stdout


@pytest.mark.slow
def test_predict_rows_of_a_csv_with_a_saved_model(capsys, trained, tmp_path):
    rows = tmp_path / "new.csv"
    rows.write_text("depth,width,height\n1,-2,0\n0,2,-2\n-1,0,2\n")  # columns in another order
    result = run_in_process(capsys, "--model", trained["results"] / "blobs" / "model.npz",
                            "--predict", rows,
                      "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert lines[0] == "row,predicted,probability_high,probability_low,probability_mid"
    assert [line.split(",")[1] for line in lines[1:]] == ["low", "high", "mid"]
    for line in lines[1:]:
        assert sum(float(p) for p in line.split(",")[2:]) == pytest.approx(1, abs=1e-4)


@pytest.mark.slow
def test_predict_images_with_a_saved_model(capsys, trained, tmp_path):
    result = run_in_process(capsys, "--model", trained["results"] / "mnist" / "model.npz",
                      "--predict", trained["mnist"], "--output_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert len(lines) == 201
    with np.load(trained["mnist"]) as archive:
        truth = archive["y_test"]
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    metrics = json.loads((trained["results"] / "mnist" / "metrics.json").read_text())
    assert np.mean(predicted == truth) == pytest.approx(metrics["test_accuracy"])


@pytest.mark.slow
def test_a_file_that_is_not_a_model_is_refused(capsys, trained, tmp_path):
    result = run_in_process(capsys, "--model", trained["mnist"], "--evaluate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{trained['mnist']}: not a model saved by this project" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_model_needs_something_to_do(capsys, tmp_path):
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--output_dir", tmp_path)
    assert result.returncode == 2 and "--evaluate, --predict FILE, or both" in result.stderr


@pytest.mark.parametrize("text, reason", [
    ("1.0,2.0,abc\n", "column 3 is not numeric"),          # a data row with a word is not a header
    ("width,height,depth\n", "a header and no rows"),
    ("width,height,depth\n1,,3\n", "missing values"),
    ("1,2\n", "2 columns; the model takes 3"),
])
@pytest.mark.slow
def test_bad_rows_to_predict(capsys, trained, tmp_path, text, reason):
    rows = tmp_path / "rows.csv"
    rows.write_text(text)
    result = run_in_process(capsys, "--model", trained["results"] / "blobs" / "model.npz",
                            "--predict", rows,
                      "--output_dir", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{rows}:" in result.stderr and reason in result.stderr
    assert not (tmp_path / "predictions.csv").exists()


def test_a_model_saved_before_activations_were_recorded_evaluates_as_it_did(capsys):
    """tests/fixtures/iris_model_v1.npz: the documented command's Iris model, saved in format
    version 1 (no activation) by the code before the layer table; it scored 0.9333, loss 0.1935."""
    path = f"{FIXTURES}/iris_model_v1.npz"
    model, details = load_model(path)
    assert model.activation == "sigmoid" and model.hidden_sizes == [256, 64]
    result = run_in_process(capsys, "--model", path, "--evaluate")
    assert result.returncode == 0, result.stderr
    assert "test loss 0.1935, test accuracy 0.9333 on 30 test rows" in result.stdout


def test_a_model_saved_before_the_package_layout_evaluates_as_it_did(capsys):
    """tests/fixtures/iris_model_v2.npz: the documented command's Iris model (--seed 0), saved in
    format version 2 by the code before mlp/ (04a4ea1); its metrics.json said test loss
    0.1934770425160726, accuracy 0.9333333333333333, calibration error 0.07775623798370361."""
    result = run_in_process(capsys, "--model", f"{FIXTURES}/iris_model_v2.npz", "--evaluate")
    assert result.returncode == 0, result.stderr
    assert "test loss 0.1935, test accuracy 0.9333 on 30 test rows" in result.stdout
    assert "expected calibration error 0.0778" in result.stdout
    model, details = load_model(f"{FIXTURES}/iris_model_v2.npz")
    dataset = load_iris(DATASETS["iris"].default_path, 0.1, np.random.default_rng(0), np.float32)
    assessment = assess(model, dataset.X_test, dataset.y_test, details["class_names"])
    assert assessment.loss == 0.1934770425160726
    assert assessment.calibration_error == 0.07775623798370361


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_saved_model_keeps_its_activation(tmp_path, activation):
    rng = np.random.default_rng(0)
    model = Model(4, [6], 3, rng, activation=activation)
    path = tmp_path / "model.npz"
    with open(path, "wb") as stream:
        save_model(stream, model, ["a", "b", "c"], None, None, tiny_record())
    loaded, _ = load_model(path)
    assert loaded.activation == activation
    X = rng.normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_model_file_from_a_newer_version_is_refused(capsys, tmp_path):
    with np.load(f"{FIXTURES}/iris_model_v1.npz") as archive:
        arrays = dict(archive)
    arrays["version"] = np.array(VERSION + 1)
    path = tmp_path / "future.npz"
    np.savez(path, **arrays)
    result = run_in_process(capsys, "--model", path, "--evaluate")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert (f"{path}: a model file of version {VERSION + 1}, written by a newer version"
            in result.stderr)


@pytest.fixture
def model_file():
    buffer = io.BytesIO()
    save_model(buffer, Model(3, [2], 2, np.random.default_rng(0)), ["a", "b"], None, None,
               tiny_record())
    buffer.seek(0)
    with np.load(buffer) as archive:
        return dict(archive)


@pytest.mark.parametrize("change, reason", [
    ({"version": np.zeros(0, np.uint8)}, "version is not a whole number"),     # TypeError
    ({"version": np.array(2 + 1j)}, "version is not a whole number"),          # ComplexWarning
    ({"layer_sizes": np.zeros(0, np.int64)}, "layer sizes []"),                # IndexError
    ({"weights_0": np.full((3, 2), "abc")}, "not numbers"),                    # a string dtype
    ({"record": np.array("[1, 2]")}, "not a JSON object"),
])
def test_damaged_model_files(tmp_path, model_file, change, reason):
    path = npz(tmp_path / "model.npz", **dict(model_file, **change))
    with pytest.raises(DataError) as raised:
        load_model(path)
    assert (str(raised.value).startswith(f"{path}: a damaged model file")
            and reason in str(raised.value))


def predictions(capsys, model, rows, out):
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir", out)
    assert result.returncode == 0, result.stderr
    return (out / "predictions.csv").read_text()


@pytest.mark.parametrize("change, reason", [
    ({"seed": "zero"}, "field 'seed' is \"zero\"; expected a whole number of at least 0"),
    ({"validation_split": 3},
     "field 'validation_split' is 3; expected a fraction strictly between 0 and 1"),
    ({"data": {"size": -1}}, "field 'data.size' is -1; expected a whole number of at least 0"),
    ({"feature_names": ["a"]}, "feature names are not 4 texts"),
    ({"image_shape": [28, 28]}, "does not hold 4 pixels"),
])
def test_a_model_file_whose_record_is_of_the_wrong_kind_is_refused(capsys, finished, tmp_path,
                                                                   change, reason):
    with np.load(finished / "iris" / "model.npz") as archive:
        arrays = dict(archive)
    record = json.loads(str(arrays["record"]))
    for key, value in change.items():
        record[key] = dict(record[key], **value) if key == "data" else value
    arrays["record"] = np.array(json.dumps(record))
    np.savez(tmp_path / "model.npz", **arrays)
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--evaluate")
    assert_one_line_error(result, "a damaged model file", reason)


def test_a_pickled_npz_is_refused_without_advice_to_unpickle_it(capsys, tmp_path):
    np.savez(tmp_path / "model.npz", format=np.array([{"a": 1}], dtype=object))
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--evaluate")
    line = assert_one_line_error(result, "never unpickles")
    assert "allow_pickle" not in line


def test_a_header_in_another_order_is_read_by_name(capsys, finished, tmp_path):
    model = finished / "iris" / "model.npz"
    (tmp_path / "ordered.csv").write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n6.3,3.3,6.0,2.5\n5.1,3.5,1.4,0.2\n")
    (tmp_path / "shuffled.csv").write_text(
        "petal_width,sepal_length,petal_length,sepal_width\n2.5,6.3,6.0,3.3\n0.2,5.1,1.4,3.5\n")
    ordered = predictions(capsys, model, tmp_path / "ordered.csv", tmp_path / "a")
    assert predictions(capsys, model, tmp_path / "shuffled.csv", tmp_path / "b") == ordered


def test_a_misspelt_header_is_refused_with_the_near_miss(capsys, finished, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal_width,sepal_length,petal_lenght,petal_width\n3.3,6.3,6.0,2.5\n")
    result = run_in_process(capsys, "--model", finished / "iris" / "model.npz", "--predict", rows,
                            "--output_dir", tmp_path / "p")
    assert_one_line_error(result, "no column 'petal_length'", "did you mean 'petal_lenght'?")
    assert not (tmp_path / "p").exists()


def test_images_to_predict_are_checked_as_training_images_are(capsys, tmp_path):
    data = make_mnist_like(tmp_path / "m.npz", n_train=200, n_test=50)
    assert run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs", "1",
                          "--hidden_layers", "[4]", "--output_dir", tmp_path).returncode == 0
    np.savez(tmp_path / "bright.npz", x_test=np.full((3, 28, 28), 1000.0))
    result = run_in_process(capsys, "--model", tmp_path / "mnist" / "model.npz", "--predict",
                            tmp_path / "bright.npz", "--output_dir", tmp_path / "p")
    assert_one_line_error(result, "pixel values from 1000.0 to 1000.0; expected 0 to 255")
