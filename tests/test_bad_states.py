"""States of folders and files, and combinations of flags, that must be refused in one line
(or, for a good run, that must pass without a word on stderr), with nothing of the user's changed."""

import json
import os
import shutil

import numpy as np
import pytest

from helpers import (ROOT, assert_one_line_error, kill_at, make_csv, make_mnist_like, run_in_process,
                     run_main, snapshot, words)

IRIS = ("--datasets", "iris", "--epochs", "2", "--hidden_layers", "[4]")


@pytest.fixture
def finished(capsys, tmp_path):
    """An output folder holding a finished Iris run."""
    out = tmp_path / "out"
    assert run_in_process(capsys, *IRIS, "--output_dir", out).returncode == 0
    return out


# ------------------------------------------------- paths a run will write

def test_a_data_set_folder_that_is_a_file(capsys, tmp_path):
    (tmp_path / "iris").write_text("my notes\n")
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", f"{tmp_path / 'iris'} is a file")
    assert snapshot(tmp_path) == {"iris": b"my notes\n"}


def test_a_file_the_run_writes_that_is_a_folder(capsys, tmp_path):
    (tmp_path / "iris" / "model.npz").mkdir(parents=True)
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", "model.npz is a folder")
    assert sorted(os.listdir(tmp_path / "iris")) == ["model.npz"]


def test_results_that_would_land_on_the_data_file(capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    make_csv(data / "wine.data")
    before = snapshot(data)
    result = run_in_process(capsys, "--csv", data / "wine.data", "--target", "kind",
                            "--output_dir", data)
    assert_one_line_error(result, "argument --output_dir", "is that data file itself")
    assert snapshot(data) == before


def test_predictions_that_would_land_on_a_folder_or_the_rows(capsys, finished, tmp_path):
    model = finished / "iris" / "model.npz"
    rows = tmp_path / "predictions.csv"
    rows.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", "over", "the --predict file")
    (tmp_path / "out2" / "predictions.csv").mkdir(parents=True)
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir",
                            tmp_path / "out2")
    assert_one_line_error(result, "predictions.csv is a folder")


def test_a_lock_that_is_a_folder(capsys, tmp_path):
    (tmp_path / ".lock").mkdir()
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --output_dir", ".lock, the lock", "is not a file")
    assert sorted(os.listdir(tmp_path)) == [".lock"]


def test_an_output_dir_that_links_nowhere(capsys, tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    for output_dir in (tmp_path / "out", tmp_path / "out" / "deeper"):
        result = run_in_process(capsys, *IRIS, "--output_dir", output_dir)
        assert_one_line_error(result, "argument --output_dir", "which does not exist")
    assert not (tmp_path / "gone").exists()


def test_a_refused_resume_creates_nothing(capsys, tmp_path):
    result = run_in_process(capsys, *IRIS, "--output_dir", tmp_path / "new", "--resume")
    assert_one_line_error(result, "argument --resume: nothing to resume")
    assert not (tmp_path / "new").exists()


# ------------------------------------------------- what a checkpoint holds

@pytest.fixture
def unfinished(tmp_path):
    """An output folder whose Iris run (4 epochs) was killed after its second epoch's checkpoint."""
    out = tmp_path / "out"
    kill_at("checkpoint:3", "--datasets", "iris", "--epochs", "4", "--hidden_layers", "[4]",
            "--output_dir", out)
    return out


def rewrite_state(path, change):
    with np.load(path) as archive:
        arrays = dict(archive)
    state = json.loads(str(arrays["state"]))
    change(state)
    arrays["state"] = np.array(json.dumps(state))
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, reason", [
    (lambda state: state["result"]["history"].pop("val_loss"), "KeyError: 'val_loss'"),
    (lambda state: state.update(settings=["not", "a", "dict"]), "settings is list, not dict"),
    (lambda state: state.update(epoch="2"), "epoch '2' of 4"),
    (lambda state: state.update(epoch=9), "epoch 9 of 4"),
    (lambda state: state["result"].update(learning_rates=[0.001]), "learning_rates is not a list of 2"),
    (lambda state: state["result"]["history"].update(val_loss=["x", "y"]), "not numbers"),
    (lambda state: state["rng"].update(state="x"), "a damaged checkpoint"),
])
def test_a_checkpoint_holding_the_wrong_things_is_refused(capsys, unfinished, change, reason):
    path = unfinished / "iris" / "checkpoint.npz"
    rewrite_state(path, change)
    before = snapshot(unfinished)
    result = run_in_process(capsys, "--datasets", "iris", "--epochs", "4", "--hidden_layers", "[4]",
                            "--output_dir", unfinished, "--resume")
    assert_one_line_error(result, str(path), reason)
    assert snapshot(unfinished) == before


@pytest.mark.parametrize("change, reason", [
    ({"seed": "zero"}, "its seed is 'zero'"),
    ({"validation_split": 3}, "its validation split is 3"),
    ({"feature_names": ["a"]}, "feature names are not 4 texts"),
    ({"image_shape": [28, 28]}, "does not hold 4 pixels"),
])
def test_a_model_file_with_options_of_the_wrong_kind_is_refused(capsys, finished, tmp_path,
                                                                change, reason):
    with np.load(finished / "iris" / "model.npz") as archive:
        arrays = dict(archive)
    options = json.loads(str(arrays["options"]))
    options.update(change)
    arrays["options"] = np.array(json.dumps(options))
    np.savez(tmp_path / "model.npz", **arrays)
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--evaluate")
    assert_one_line_error(result, "a damaged model file", reason)


def test_a_pickled_npz_is_refused_without_advice_to_unpickle_it(capsys, tmp_path):
    np.savez(tmp_path / "model.npz", format=np.array([{"a": 1}], dtype=object))
    result = run_in_process(capsys, "--model", tmp_path / "model.npz", "--evaluate")
    line = assert_one_line_error(result, "never unpickles")
    assert "allow_pickle" not in line


# ------------------------------------------------------- what --predict reads

def predictions(capsys, model, rows, out):
    result = run_in_process(capsys, "--model", model, "--predict", rows, "--output_dir", out)
    assert result.returncode == 0, result.stderr
    return (out / "predictions.csv").read_text()


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


# --------------------------------------------------- flags that cannot act

@pytest.mark.parametrize("argv, reason", [
    (["--augment_pixels", "2", "--datasets", "mnist"],
     "argument --augment_pixels: does nothing without --augment"),
    (["--explain", "--gradient_check"], "argument --gradient_check: does nothing with --explain"),
    (["--explain", "--model", "m.npz", "--evaluate"], "argument --model: does nothing with --explain"),
    (["--model", "m.npz", "--evaluate", "--activation", "tanh"],
     "argument --activation: does nothing with --model"),
    (["--model", "m.npz", "--evaluate", "--output_dir", "x"],
     "argument --output_dir: does nothing with --model without --predict"),
    (["--gradient_check", "--epochs", "3"], "argument --epochs: does nothing with --gradient_check"),
    (["--learn", "0.01"], "unrecognized arguments: --learn"),
])
def test_a_flag_that_would_do_nothing_is_refused(capsys, tmp_path, monkeypatch, argv, reason):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run_in_process(capsys, *argv), reason)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------- what a run says

def test_resume_of_a_diverged_run_says_so_and_exits_1(capsys, tmp_path):
    argv = (*IRIS, "--learning_rate", "1000", "--weight_decay", "0", "--output_dir", tmp_path)
    assert run_in_process(capsys, *argv).returncode == 1
    before = snapshot(tmp_path / "iris")
    result = run_in_process(capsys, *argv, "--resume")
    assert result.returncode == 1
    assert "Iris: finished before (diverged)" in result.stdout
    assert snapshot(tmp_path / "iris") == before


def test_weight_decay_that_would_flip_the_weights_is_refused(capsys, tmp_path):
    result = run_in_process(capsys, *IRIS, "--learning_rate", "10", "--weight_decay", "0.2",
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "argument --weight_decay", "= -1 every step", "flips the sign")
    assert not (tmp_path / "out").exists()


def test_the_same_data_file_by_another_path_resumes(capsys, tmp_path, monkeypatch):
    shutil.copy(os.path.join(ROOT, "iris.data"), tmp_path / "iris.data")
    monkeypatch.chdir(tmp_path)
    kill_at("checkpoint:2", *IRIS, "--iris_path", "iris.data", "--output_dir", "here")
    result = run_in_process(capsys, *IRIS, "--iris_path", tmp_path / "iris.data",
                            "--output_dir", "here", "--resume")
    assert result.returncode == 0, result.stderr
    assert "Iris: resuming after epoch 1" in result.stdout


def test_a_good_run_of_few_batches_measures_every_epoch_and_says_nothing_on_stderr(tmp_path):
    result = run_main(*IRIS, "--batch_size", "32", "--output_dir", tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    health = json.loads((tmp_path / "iris" / "metrics.json").read_text())["layer_health"]
    assert all(min(epoch) > 0 for epoch in health["gradient_norm"])
    assert "moved a layer's weights by 0.0e+00" not in words(result.stdout)
