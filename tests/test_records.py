"""A run's record (record.RunRecord): metrics.json is its JSON, model.npz and checkpoint.npz
store the same JSON, one function writes it and one reads it back. Every field round-trips;
each field of each file set to a wrong kind or range gets the damaged-file line naming it;
files of earlier versions (the v1, v2 and v3 model fixtures, v1 and v2 checkpoints) read
through the one upgrade to the same numbers."""

import json
import os
import shutil

import numpy as np
import pytest
from test_resume import rewrite_state

import Main
from helpers import FIXTURES, IRIS, ROOT, kill_at, make_csv, run_in_process
from mlp.checkpoint import read_checkpoint
from mlp.comparison import read_run
from mlp.errors import DataError
from mlp.record import DATA_FIELDS, RECORD_FIELDS, RunRecord
from mlp.saved_models import load_model


def wrong_value(field):
    """A value the field refuses: a JSON object where it takes none, else a list."""
    return [] if field.accept({"wrong": True}) else {"wrong": True}


def damaged_copies(record):
    """(the field's name as the error names it, a copy of record with that field wrong) for
    every field of record that the table knows, and every field of its data."""
    for name in [name for name in record if name in RECORD_FIELDS] + [
            f"data.{name}" for name in record["data"]]:
        damaged = json.loads(json.dumps(record))
        if name.startswith("data."):
            damaged["data"][name[5:]] = wrong_value(DATA_FIELDS[name[5:]])
        else:
            damaged[name] = wrong_value(RECORD_FIELDS[name])
        yield name, damaged


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """The files of a finished Iris run, and checkpoint.npz of one stopped after epoch 1."""
    folder = tmp_path_factory.mktemp("records")
    assert Main.main([*IRIS, "--output_dir", str(folder / "done")]) == 0
    kill_at("checkpoint:2", *IRIS, "--output_dir", folder / "stopped")
    return folder


def test_metrics_json_is_the_record_and_the_model_and_checkpoint_store_it(records):
    metrics = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    assert set(metrics) - set(RECORD_FIELDS) == set()  # every field of metrics.json is known
    assert set(metrics["data"]) == set(DATA_FIELDS)
    record = RunRecord.from_json(metrics)
    assert record.to_json() == metrics  # every field round-trips, in metrics.json's order
    assert list(record.to_json()) == list(metrics)
    assert (record.kind, record.settings.hidden_sizes, record.data.rows, record.result.status,
            record.n_test, record.measures["test_accuracy"]) == (
        "iris", [4], 150, "completed", 30, metrics["test_accuracy"])
    model, details = load_model(records / "done" / "iris" / "model.npz")
    assert details["record"] == record  # the model file stores the record unchanged
    values, _, stopped = read_checkpoint(records / "stopped" / "iris" / "checkpoint.npz")
    assert RunRecord.from_json(values["record"]) == stopped
    assert (values["epoch"], stopped.result.epochs_finished, stopped.settings) == (
        1, 1, record.settings)
    run = read_run(str(records / "done" / "iris" / "metrics.json"))
    assert (run.kind, run.status, run.history, run.test_accuracy, run.n_val) == (
        "iris", "completed", metrics["history"], metrics["test_accuracy"], 12)


@pytest.mark.parametrize("case", ["diverged", "csv"])
def test_records_of_other_shapes_round_trip(case, tmp_path):
    """A diverged run (no test set, a diverged_epoch) and a CSV's (its header, target and
    feature names): read back, each is the record written, field for field, in its order."""
    flags = ([*IRIS, "--learning_rate", "1000", "--weight_decay", "0"] if case == "diverged"
             else ["--csv", str(make_csv(tmp_path / "blobs.csv")), "--target", "kind",
                   "--epochs", "1", "--hidden_layers", "[4]"])
    assert Main.main([*flags, "--output_dir", str(tmp_path / "out")]) == (case == "diverged")
    [folder] = [path for path in (tmp_path / "out").iterdir() if path.is_dir()]
    metrics = json.loads((folder / "metrics.json").read_text())
    record = RunRecord.from_json(metrics)
    assert list(record.to_json().items()) == list(metrics.items())
    if case == "diverged":
        assert (record.result.status, record.result.diverged_epoch, metrics["test_accuracy"]) == (
            "diverged", 1, None)
        assert not (folder / "model.npz").exists()
    else:
        assert (record.kind, record.settings.target, record.data.header, record.feature_names) == (
            "csv", "kind", ["width", "height", "depth", "kind"], ["width", "height", "depth"])
        assert load_model(folder / "model.npz")[1]["record"] == record


def test_each_field_of_metrics_json_set_wrong_is_named(records, tmp_path):
    metrics = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    named = 0
    for name, damaged in damaged_copies(metrics):
        path = tmp_path / "metrics.json"
        path.write_text(json.dumps(damaged))
        with pytest.raises(DataError) as raised:
            read_run(str(path))
        assert f"{path}: a damaged metrics.json, or not a run's (field {name!r} is" in str(
            raised.value), name
        named += 1
    assert named > 60


def read_damaged(record, tmp_path):
    """What read_run says of a metrics.json holding record: its error's text."""
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError) as raised:
        read_run(str(path))
    assert str(raised.value).startswith(f"{path}: a damaged metrics.json, or not a run's (")
    return str(raised.value)


def test_each_required_field_of_the_data_left_out_is_named_and_the_others_may_be(records,
                                                                                    tmp_path):
    metrics = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    optional = {"pixel_scale", "header", "feature_names", "target"}
    for name in DATA_FIELDS:
        damaged = json.loads(json.dumps(metrics))
        del damaged["data"][name]
        if name in optional:
            path = tmp_path / "metrics.json"
            path.write_text(json.dumps(damaged))
            assert read_run(str(path)).kind == "iris"
        else:
            assert f"field 'data.{name}' is missing" in read_damaged(damaged, tmp_path), name


@pytest.mark.parametrize("name, value", [
    ("data.validation_split", 1.5), ("data.test_fraction", -0.1), ("data.size", -1),
    ("data.rows", 2.5), ("data.pixel_scale", 2), ("validation_split", 1.0), ("dropout", 1.0),
    ("learning_rate", 0), ("epochs", 0), ("augment_pixels", 14), ("test_accuracy", 1.5),
    ("test_loss", -0.5), ("train_seconds", -1.0), ("status", "finished"),
])
def test_a_field_out_of_its_range_is_named(records, tmp_path, name, value):
    damaged = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    if name.startswith("data."):
        damaged["data"][name[5:]] = value
    else:
        damaged[name] = value
    assert f"field {name!r} is {json.dumps(value)}; expected" in read_damaged(damaged, tmp_path)


def test_each_field_of_a_model_files_record_set_wrong_is_named(records, tmp_path):
    with np.load(records / "done" / "iris" / "model.npz") as archive:
        arrays = dict(archive)
    for name, damaged in damaged_copies(json.loads(str(arrays["record"]))):
        np.savez(tmp_path / "model.npz", **dict(arrays, record=np.array(json.dumps(damaged))))
        with pytest.raises(DataError) as raised:
            load_model(tmp_path / "model.npz")
        assert (f"{tmp_path / 'model.npz'}: a damaged model file (ValueError: field {name!r} is"
                in str(raised.value)), name


def test_each_field_of_a_checkpoints_record_set_wrong_is_named(records, tmp_path):
    source = records / "stopped" / "iris" / "checkpoint.npz"
    values, _, _ = read_checkpoint(source)
    for name, damaged in damaged_copies(values["record"]):
        path = tmp_path / "checkpoint.npz"
        path.write_bytes(source.read_bytes())
        rewrite_state(path, lambda state: state.update(record=damaged))
        with pytest.raises(DataError) as raised:
            read_checkpoint(path)
        assert f"a damaged checkpoint (ValueError: field {name!r} is" in str(raised.value), name


@pytest.mark.parametrize("version", [1, 2])
def test_model_files_of_earlier_versions_read_through_the_upgrade(version, capsys):
    model, details = load_model(os.path.join(FIXTURES, f"iris_model_v{version}.npz"))
    record = details["record"]
    assert (record.kind, record.data, record.settings.activation, record.settings.hidden_sizes,
            record.settings.weight_decay, record.result.status) == (
        "iris", None, "sigmoid", [256, 64], 0.0, "unknown")
    result = run_in_process(capsys, "--model",
                            os.path.join(FIXTURES, f"iris_model_v{version}.npz"), "--evaluate")
    assert result.returncode == 0
    assert "test loss 0.1935, test accuracy 0.9333 on 30 test rows" in result.stdout


def test_a_version_3_model_and_its_record_read_with_keras_names_for_the_history(tmp_path, capsys):
    """tests/fixtures/iris_model_v3.npz: the documented command's Iris model (--seed 0
    --threads 1) saved in format version 3, whose record named the history's training lists
    train_loss and train_accuracy; read now, they are Keras's loss and accuracy, in the model and
    in a metrics.json of that layout alike."""
    path = os.path.join(FIXTURES, "iris_model_v3.npz")
    with np.load(path) as arrays:
        saved = json.loads(str(arrays["record"]))
    history = saved["history"]
    assert sorted(history) == ["train_accuracy", "train_loss", "val_accuracy", "val_loss"]
    renamed = {"loss": history["train_loss"], "accuracy": history["train_accuracy"],
               "val_loss": history["val_loss"], "val_accuracy": history["val_accuracy"]}
    record = load_model(path)[1]["record"]
    assert record.result.history == renamed and len(renamed["loss"]) == 30
    (tmp_path / "metrics.json").write_text(json.dumps(saved))
    assert read_run(str(tmp_path / "metrics.json")).history == renamed
    result = run_in_process(capsys, "--model", path, "--evaluate", "--iris_path",
                            os.path.join(ROOT, "iris.data"))
    assert result.returncode == 0, result.stderr
    assert "test loss 0.1935, test accuracy 0.9333 on 30 test rows" in result.stdout


@pytest.mark.parametrize("version", [1, 2])
def test_checkpoints_of_earlier_versions_resume_to_the_uninterrupted_run(tmp_path, version):
    """tests/fixtures/iris_checkpoint_v<version>.npz: the flags below, killed after epoch 2,
    written by the version whose checkpoint kept the settings and the history apart (1), and by
    the one whose record named the history train_loss and train_accuracy (2)."""
    flags = ["--datasets", "iris", "--epochs", "5", "--hidden_layers", "[8]", "--seed", "0",
             "--threads", "1"]
    os.makedirs(tmp_path / "resumed" / "iris")
    shutil.copy(os.path.join(FIXTURES, f"iris_checkpoint_v{version}.npz"),
                tmp_path / "resumed" / "iris" / "checkpoint.npz")
    assert Main.main([*flags, "--output_dir", str(tmp_path / "resumed"), "--resume",
                      "--iris_path", os.path.join(ROOT, "iris.data")]) == 0
    assert Main.main([*flags, "--output_dir", str(tmp_path / "whole")]) == 0
    resumed, whole = (json.loads((tmp_path / name / "iris" / "metrics.json").read_text())
                      for name in ("resumed", "whole"))
    for key in ("history", "learning_rates", "test_loss", "layer_health", "confusion_matrix"):
        assert resumed[key] == whole[key], key
    with np.load(tmp_path / "resumed" / "iris" / "model.npz") as a, \
            np.load(tmp_path / "whole" / "iris" / "model.npz") as b:
        assert all(np.array_equal(a[name], b[name]) for name in a.files if name != "record")


@pytest.mark.parametrize("name, value, expected", [
    ("layers", [1, 2], "a list of texts"),
    ("gradient_norm", [[1.0]], "a list of one number (or null) per layer for each finished epoch"),
    ("saturation", "none", "a list of one number (or null) per layer for each finished epoch"),
])
def test_a_layer_health_entry_set_wrong_is_named(records, tmp_path, name, value, expected):
    damaged = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    damaged["layer_health"][name] = value
    assert (f"field 'layer_health.{name}' is {json.dumps(value)}; expected {expected})"
            in read_damaged(damaged, tmp_path))
