"""The checkpoint written after every epoch, and continuing a run from it (--resume).

checkpoint.npz holds plain arrays and one JSON string, no pickle, like
model.npz: the weights, the optimizer's state (Adam's running means and step
count, momentum's velocity), the random generator's state, the epoch, the
history so far, the settings of the run, and the state of the callbacks that
have one (early stopping's best epoch and weights). Restored into a model
built from the same settings, training goes on exactly as if it had never
stopped: the same batches in the same order, the same numbers bit for bit.
"""

import json
import os
from types import SimpleNamespace
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np

from Model import COMPLETED, DIVERGED, STOPPED_EARLY, Callback
from mlp.datasets import DATASETS, Dataset
from mlp.files import (DataError, parse_json, read_npz_arrays, read_text_or_none, say, set_aside,
                       write_atomically)
from mlp.callbacks import STUCK, timed
from mlp.optimizers import packed_parameters, unpack_parameters
from mlp.results import fit_result, flat_result
from mlp.record import (UNVERIFIED, DataSource, RunSettings, check_record, data_file_flag,
                            data_file_to_reuse, settings_flags)

FILE_NAME = "checkpoint.npz"
FORMAT = "numpy-mlp-checkpoint"
VERSION = 1


class Checkpoint(Callback):
    """Writes everything needed to continue exactly to path after every epoch, atomically.

    settings is the run's record: its RunSettings' record(), its data set's kind
    ("dataset") and its DataSource's record ("data"), kept to refuse a --resume
    with other flags or other data; stateful are the
    callbacks whose state() goes in too; threads, the BLAS thread count the run
    trains with, which a resumed run must keep to stay exact. seconds counts
    the time spent writing.
    """

    def __init__(self, path, settings, stateful=(), threads=None):
        self.path = path
        self.settings = settings
        self.stateful = list(stateful)
        self.threads = threads
        self.seconds = 0.0

    def on_epoch_end(self, run, logs):
        values, arrays = checkpoint_contents(run, self.settings, self.stateful)
        values["threads"] = self.threads

        def write(stream):
            np.savez(stream, state=np.array(json.dumps(values)), **arrays)

        with timed(self):
            write_atomically(self.path, write, durable=True,
                             what=f"could not write the checkpoint after epoch {run.epoch}")
        return None


def checkpoint_contents(run, settings, stateful):
    """(the JSON-able values, the named arrays) that describe the run after its current epoch."""
    optimizer_values, optimizer_arrays = run.optimizer.state()
    values = {"format": FORMAT, "version": VERSION, "settings": settings, "epoch": run.epoch,
              "stop_reason": run.stop_reason, "result": flat_result(run.result),
              "rng": run.rng.bit_generator.state, "optimizer": optimizer_values, "callbacks": {}}
    arrays = {"parameters": packed_parameters(run.model)}
    arrays.update({f"optimizer__{name}": array for name, array in optimizer_arrays.items()})
    for callback in stateful:
        callback_values, callback_arrays = callback.state()
        values["callbacks"][callback.name] = callback_values
        arrays.update({f"{callback.name}__{name}": array
                       for name, array in callback_arrays.items()})
    return values, arrays


def read_checkpoint(path):
    """(values, arrays) from a checkpoint file; a file that is not a whole one raises DataError."""
    damaged = f"{path}: a damaged checkpoint"
    arrays = read_npz_arrays(path, "a checkpoint.npz written by Main.py",
                             f"{damaged}, not a readable npz file; delete it to start afresh")
    try:
        values = parse_json(str(arrays.pop("state")))
        if not isinstance(values, dict) or values.get("format") != FORMAT:
            raise ValueError("not a checkpoint of this project")
        if values.get("version") != VERSION:
            raise ValueError(f"version {values.get('version')}; this project reads {VERSION}")
        check_contents(values, arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise DataError(f"{damaged} ({type(error).__name__}: {error}); delete it to start "
                        f"afresh") from None
    return values, arrays


def check_contents(values, arrays):
    """Raise KeyError, TypeError or ValueError unless values and arrays hold what
    checkpoint_contents writes: the keys, their types, and an epoch and a history that agree."""
    for key in ("settings", "result", "rng", "optimizer", "callbacks"):
        _expect(values[key], dict, key)
    check_record(values["settings"], required=())
    epoch, epochs = values["epoch"], values["settings"].get("epochs")
    if type(epoch) is not int or type(epochs) is not int or not 1 <= epoch <= epochs:
        raise ValueError(f"epoch {epoch!r} of {epochs!r}; expected whole numbers, the first "
                         f"from 1 to the second")
    threads = values.get("threads")
    if threads is not None and (type(threads) is not int or threads < 1):
        raise ValueError(f"threads {threads!r}; expected a whole number of at least 1")
    if values.get("stop_reason") is not None:
        _expect(values["stop_reason"], str, "stop_reason")
    result = values["result"]
    check_record({**result, "epochs_completed": epoch},
                 required=("status", "history", "epoch_seconds", "learning_rates"))
    for name in ("epoch_seconds", "learning_rates"):
        if len(result[name]) != epoch:
            raise ValueError(f"{name} is not a list of {epoch} values, one per finished epoch")
    health = result.get("layer_health")
    if health is not None:
        layers = _expect(health["layers"], list, "layer health's layers")
        for key in ("gradient_norm", "update_ratio", "saturation"):
            entries = _expect(health[key], list, f"layer health's {key}")
            # (it may have begun after epoch 1: a run resumed from an older checkpoint)
            if len(entries) > epoch or not all(isinstance(entry, list)
                                               and len(entry) == len(layers) for entry in entries):
                raise ValueError(f"layer health's {key} is not one value per layer for each "
                                 f"finished epoch")
    if result.get("best_epoch", 0) > epoch:
        raise ValueError(f"best epoch {result['best_epoch']!r} of {epoch}")
    np.random.default_rng(0).bit_generator.state = values["rng"]  # a PCG64 state, or it raises
    parameters = arrays["parameters"]
    if parameters.ndim != 1 or parameters.dtype.kind != "f":
        raise ValueError(f"its parameters are {parameters.dtype} of shape {parameters.shape}; "
                         f"expected one vector of floats")


def _expect(value, kind, name):
    """value, if it is a kind; else TypeError naming it."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} is {type(value).__name__}, not {kind.__name__}")
    return value


def restore(path, plan, model, optimizer, rng, stateful=()):
    """Put the checkpoint's state into a freshly built model, optimizer, generator and callbacks.

    plan is the Resume that plan_resume made. Returns the FitResult, as it was
    after the checkpoint's epoch, that Model.fit continues from.
    """
    values, arrays = plan.values, plan.arrays

    def prefixed(prefix):
        return {key[len(prefix):]: array for key, array in arrays.items() if key.startswith(prefix)}

    parameters = arrays["parameters"]
    size = sum(parameter.size for parameter in model.parameters())
    if parameters.shape != (size,) or parameters.dtype != model.dtype:
        raise DataError(f"{path}: a damaged checkpoint (its {parameters.size} weights of "
                        f"{parameters.dtype} do not fit the network's {size} of {model.dtype}); "
                        f"delete it to start afresh")
    try:
        unpack_parameters(parameters, model)
        optimizer.restore(values["optimizer"], prefixed("optimizer__"))
        rng.bit_generator.state = values["rng"]
        for callback in stateful:
            callback.restore(values["callbacks"][callback.name], prefixed(f"{callback.name}__"))
    except (KeyError, ValueError, TypeError) as error:
        raise DataError(f"{path}: a damaged checkpoint ({type(error).__name__}: {error}); "
                        f"delete it to start afresh") from None
    result = fit_result(values["result"])
    if values.get("stop_reason"):  # it had been asked to stop after that epoch
        result.status = values["stop_reason"]
    return result


def contradiction(saved, current, flag_of):
    """The first setting in which current differs from saved, as (flag, current, saved), or None.

    flag_of maps a setting's name to the flag that sets it. Data files are the same when
    their paths name the same file, however each was written (relative, absolute, a link).
    """
    for key, flag in flag_of.items():
        then, now = saved.get(key), current.get(key)
        if (key == "data_file" and isinstance(then, str) and isinstance(now, str)
                and os.path.realpath(then) == os.path.realpath(now)):
            continue
        if then != now:
            return flag, now, then
    return None


FINISHED = (COMPLETED, STOPPED_EARLY, DIVERGED, STUCK)


class Fresh(NamedTuple):
    """The plan for a data set with nothing to resume: it trains from the start."""

class Finished(NamedTuple):
    """The plan for a data set whose run ended before: its files are kept as they are."""
    status: str             # how it ended, one of FINISHED


class Resume(NamedTuple):
    """The plan for a data set whose checkpoint a --resume continues from."""
    values: dict            # the checkpoint's JSON values (settings, epoch, history...)
    arrays: dict            # its arrays (weights, optimizer state...)
    data_file: Optional[str]  # the data file to read: the flag's, or else the one recorded
    data: Optional[DataSource]  # the data the run was started on (None: not recorded)


@dataclass
class Task:
    """What a command does with one data set, ready before anything is written: its folder, its
    plan (see plan_resume), and unless it finished before, its data, already read and checked,
    the generator that split it (the weights and batches draw on from it) and its settings."""
    kind: str
    folder: str
    plan: Union[Fresh, Finished, Resume]
    title: str
    dataset: Optional[Dataset] = None
    rng: Optional[np.random.Generator] = None
    settings: Optional[RunSettings] = None
    moved_to: Optional[str] = None    # where an earlier run's files in folder went


def plan_resume(args, kinds_and_folders):
    """What --resume (or a fresh run) does with each data set's folder, before anything is read.

    kinds_and_folders: (data set kind, its output folder) in order. Returns
    {kind: plan}: Fresh (nothing there: train from the start), Finished
    (metrics.json says how it ended; its files are kept) or a Resume to continue
    from. Raises DataError, its message naming the flag and what to do, when
    --resume has nothing to resume, when the flags or the data file contradict a
    checkpoint, or when a fresh run would overwrite an unfinished one.
    """
    plans = {}
    for kind, folder in kinds_and_folders:
        path = os.path.join(folder, FILE_NAME)
        if not args.resume:
            if os.path.exists(path):
                raise DataError(f"argument --resume: {folder} holds an unfinished run "
                                f"({_progress(path)}); add --resume to continue it, or delete "
                                f"{path} to start afresh")
            plans[kind] = Fresh()
        elif os.path.exists(path):
            values, arrays = read_checkpoint(path)
            saved = values["settings"]
            data = DataSource.from_record(saved.get("data"))
            check_same_run(kind, args, saved, folder, compare_data_file=data is None)
            data_file = given_data_file(args, kind)
            if data is not None:
                data_file = data_file_to_reuse(data, data_file, data_file_flag(kind),
                                               f"the run in {folder}")
            else:
                data_file = getattr(args, data_file_flag(kind)[2:])
                say(UNVERIFIED.format(whose=path, path=data_file or "the default file"), error=True)
            plans[kind] = Resume(values, arrays, data_file, data)
        else:
            metrics = _metrics(folder)
            finished = metrics.get("status") in FINISHED
            if finished:
                check_same_run(kind, args, metrics, folder, only_saved=True,
                               compare_data_file="data" not in metrics)
            plans[kind] = Finished(metrics["status"]) if finished else Fresh()
    if args.resume and all(isinstance(plan, Fresh) for plan in plans.values()):
        folders = " or ".join(folder for _, folder in kinds_and_folders)
        raise DataError(f"argument --resume: nothing to resume: no {FILE_NAME} and no finished "
                        f"run in {folders}; run without --resume to start")
    return plans


def resumed_data_file(kind, args, plan):
    """The data file setting a resumed run keeps: the flag's when given, else the one it was
    started with (it reads the recorded file: see plan_resume); None when fresh."""
    if isinstance(plan, Fresh) or data_file_flag(kind) in args.given_flags:
        return None
    return plan.values["settings"].get("data_file")


def keep_earlier_runs(tasks):
    """A fresh run never writes over a finished one: the folders that hold one (its
    metrics.json) are renamed to <folder>.N first, N the first number free for all of them,
    and each says where its folder went. tasks are the command's Tasks."""
    finished = [task for task in tasks if isinstance(task.plan, Fresh)
                and os.path.isfile(os.path.join(task.folder, "metrics.json"))]
    for task, moved_to in zip(finished, set_aside(*(task.folder for task in finished))):
        task.moved_to = moved_to
        say(f"{task.title}: the earlier run's files in {task.folder} were moved to {moved_to}")


def given_data_file(args, kind):
    """The data file flag's value if the user gave it on the command line, else None."""
    flag = data_file_flag(kind)
    return getattr(args, flag[2:]) if flag in getattr(args, "given_flags", ()) else None


def check_same_run(kind, args, saved, folder, only_saved=False, compare_data_file=True):
    """Raise DataError naming the first flag whose value differs from the saved run's.

    saved is a checkpoint's settings, or with only_saved a finished run's
    metrics.json, of which only the settings it records are compared (older
    versions recorded fewer). compare_data_file: compare the data file flags too
    (for a run that recorded no identity of its data; one that did is checked
    by its data's hash instead, which accepts the same bytes under another path).
    """
    saved_kind = saved.get("dataset")
    if not only_saved and saved_kind != kind:
        raise DataError(f"argument --resume: {folder} holds a run on data set "
                        f"{saved_kind!r}, not {kind!r}; choose another --output_dir")
    defaults = DATASETS.get(kind)
    if defaults is None:  # a CSV's defaults depend on its rows: compare with what was saved
        defaults = SimpleNamespace(batch_size=saved.get("batch_size"),
                                   schedule=saved.get("lr_schedule"),
                                   weight_decay=saved.get("weight_decay"),
                                   dropout=saved.get("dropout"),
                                   augment_pixels=0)
    current = RunSettings.from_flags(kind, args, defaults).record()
    flags = settings_flags(kind)
    if only_saved:
        flags = {key: flag for key, flag in flags.items() if key in saved}
    if not compare_data_file:
        del flags["data_file"]
    differs = contradiction(saved, current, flags)
    if differs:
        flag, now, then = differs
        raise DataError(f"argument {flag}: {_shown(now)}, but the run in {folder} was started with "
                        f"{_shown(then)}; resume with the same flags, or start afresh in another "
                        f"--output_dir")


def _shown(value):
    if value is None:
        return "not given"
    return json.dumps(value) if isinstance(value, list) else str(value)


def _progress(path):
    try:
        values, _ = read_checkpoint(path)
    except DataError:
        return "its checkpoint is damaged"
    return f"epoch {values['epoch']} of {values['settings'].get('epochs')} done"


def _metrics(folder):
    """A folder's metrics.json as a dict; {} when there is none or it cannot be read."""
    try:
        metrics = json.loads(read_text_or_none(os.path.join(folder, "metrics.json")) or "{}")
    except ValueError:
        return {}
    return metrics if isinstance(metrics, dict) else {}
