"""A run's record, checked one way (record.check_record) wherever it is read: metrics.json by
the comparison, a model's options by --evaluate and --predict, a checkpoint's settings and
history by --resume. Each field set to a wrong kind or range gets the damaged-file line that
names it."""

import json

import numpy as np
import pytest

from mlp.checkpoint import read_checkpoint
from mlp.comparison import read_run
from mlp.files import DataError
from mlp.saved_models import load_model
from mlp.record import DATA_FIELDS, OBJECT, RECORD_FIELDS, SETTING_FIELDS, check_record
from helpers import IRIS


def wrong_value(field):
    """A value the field refuses: a JSON object where it wants anything else, else a list."""
    return [] if field is OBJECT else {"wrong": True}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """metrics.json and model.npz of a finished Iris run, and checkpoint.npz of one stopped
    after its first epoch (as --resume reads them)."""
    import Main

    folder = tmp_path_factory.mktemp("records")
    assert Main.main([*IRIS, "--output_dir", str(folder / "done")]) == 0
    from helpers import kill_at

    kill_at("checkpoint:2", *IRIS, "--output_dir", folder / "stopped")
    return folder


def test_every_field_of_a_finished_run_is_known_and_round_trips(records):
    path = records / "done" / "iris" / "metrics.json"
    record = json.loads(path.read_text())
    assert check_record(record) == record
    known = set(RECORD_FIELDS) | {"target"}
    assert set(record) - known == set()  # every field of metrics.json is in the table
    assert set(record["data"]) == set(DATA_FIELDS)
    run = read_run(str(path))
    assert (run.kind, run.status, run.history, run.test_accuracy, run.n_val) == (
        record["dataset"], record["status"], record["history"], record["test_accuracy"],
        record["n_val"])
    assert run.settings == {name: record[name] for name in run.settings}


def test_each_field_of_metrics_json_set_wrong_is_named(records, tmp_path):
    record = json.loads((records / "done" / "iris" / "metrics.json").read_text())
    fields = [(name, name) for name in record if name in RECORD_FIELDS]
    fields += [(f"data.{name}", name) for name in record["data"]]
    assert len(fields) > 40
    for shown, name in fields:
        damaged = json.loads(json.dumps(record))
        if shown.startswith("data."):
            damaged["data"][name] = wrong_value(DATA_FIELDS[name])
        else:
            damaged[name] = wrong_value(RECORD_FIELDS[name])
        path = tmp_path / "metrics.json"
        path.write_text(json.dumps(damaged))
        with pytest.raises(DataError) as raised:
            read_run(str(path))
        assert f"{path}: a damaged metrics.json, or not a run's (field {shown!r} is" in str(
            raised.value), shown


def test_each_setting_of_a_model_set_wrong_is_named(records, tmp_path):
    with np.load(records / "done" / "iris" / "model.npz") as archive:
        arrays = dict(archive)
    options = json.loads(str(arrays["options"]))
    for name in [name for name in options if name in SETTING_FIELDS] + ["data"]:
        damaged = dict(options, **{name: wrong_value(RECORD_FIELDS[name])})
        np.savez(tmp_path / "model.npz", **dict(arrays, options=np.array(json.dumps(damaged))))
        with pytest.raises(DataError) as raised:
            load_model(tmp_path / "model.npz")
        assert (f"{tmp_path / 'model.npz'}: a damaged model file (ValueError: field {name!r} is"
                in str(raised.value)), name


def test_each_setting_of_a_checkpoint_set_wrong_is_named(records, tmp_path, capsys):
    from test_resume import rewrite_state

    source = records / "stopped" / "iris" / "checkpoint.npz"
    values, _ = read_checkpoint(source)
    for name in values["settings"]:
        if name not in SETTING_FIELDS:
            continue
        path = tmp_path / "checkpoint.npz"
        path.write_bytes(source.read_bytes())
        rewrite_state(path, lambda state: state["settings"].update(
            {name: wrong_value(SETTING_FIELDS[name])}))
        with pytest.raises(DataError) as raised:
            read_checkpoint(path)
        assert f"a damaged checkpoint (ValueError: field {name!r} is" in str(raised.value), name
