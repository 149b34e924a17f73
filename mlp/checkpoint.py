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
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np

from mlp.callbacks import timed
from mlp.datasets import DATASETS, Dataset
from mlp.errors import DataError
from mlp.files import parse_json, read_npz_arrays, say, set_aside, write_atomically
from mlp.optimizers import packed_parameters, unpack_parameters
from mlp.record import (
    FINISHED,
    RECORD_FILE,
    UNVERIFIED,
    RunRecord,
    RunSettings,
    data_file_flag,
    data_file_to_reuse,
    read_record,
    setting_text,
    settings_flags,
    upgrade_checkpoint,
)
from Model import Callback

FILE_NAME = "checkpoint.npz"
FORMAT = "numpy-mlp-checkpoint"
VERSION = 3


class Checkpoint(Callback):
    """Writes everything needed to continue exactly to path after every epoch, atomically.

    The run's record (of dataset with settings, as far as it has come) goes in
    to refuse a --resume with other flags or other data; stateful are the
    callbacks whose state() goes in too; threads, the BLAS thread count the run
    trains with, which a resumed run must keep to stay exact. seconds counts
    the time spent writing.
    """

    def __init__(self, path, dataset, settings, stateful=(), threads=None):
        self.path, self.dataset, self.settings = path, dataset, settings
        self.stateful = list(stateful)
        self.threads = threads
        self.seconds = 0.0

    def on_epoch_end(self, run, logs):
        record = RunRecord.of(self.dataset, self.settings, run.result,
                              sum(run.result.epoch_seconds))
        values, arrays = checkpoint_contents(run, record, self.stateful)
        values["threads"] = self.threads

        def write(stream):
            np.savez(stream, state=np.array(json.dumps(values)), **arrays)

        with timed(self):
            write_atomically(self.path, write, durable=True,
                             what=f"could not write the checkpoint after epoch {run.epoch}")
        return None


def checkpoint_contents(run, record, stateful):
    """(the JSON-able values, the named arrays) that describe the run after its current epoch."""
    optimizer_values, optimizer_arrays = run.optimizer.state()
    values = {"format": FORMAT, "version": VERSION, "record": record.to_json(),
              "epoch": run.epoch, "stop_reason": run.stop_reason,
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
    """(values, arrays, the RunRecord) from a checkpoint file; a file that is not a whole one
    raises DataError."""
    damaged = f"{path}: a damaged checkpoint"
    arrays = read_npz_arrays(path, "a checkpoint.npz written by Main.py",
                             f"{damaged}, not a readable npz file; delete it to start afresh")
    try:
        values = parse_json(str(arrays.pop("state")))
        if not isinstance(values, dict) or values.get("format") != FORMAT:
            raise ValueError("not a checkpoint of this project")
        if values.get("version") not in range(1, VERSION + 1):
            raise ValueError(f"version {values.get('version')}; this project reads 1 to {VERSION}")
        values = upgrade_checkpoint(values)
        record = RunRecord.from_json(values["record"])
        check_contents(values, arrays, record)
    except (KeyError, ValueError, TypeError) as error:
        raise DataError(f"{damaged} ({type(error).__name__}: {error}); delete it to start "
                        f"afresh") from None
    return values, arrays, record


def check_contents(values, arrays, record):
    """Raise KeyError, TypeError or ValueError unless values and arrays hold what
    checkpoint_contents writes, and the epoch agrees with the record."""
    for key in ("rng", "optimizer", "callbacks"):
        if not isinstance(values[key], dict):
            raise TypeError(f"{key} is {type(values[key]).__name__}, not a JSON object")
    epoch, epochs = values["epoch"], record.settings.epochs
    if type(epoch) is not int or not 1 <= epoch <= epochs or epoch != record.result.epochs_finished:
        raise ValueError(f"epoch {epoch!r}; expected a whole number from 1 to {epochs}, the "
                         f"epochs its history holds")
    threads = values.get("threads")
    if threads is not None and (type(threads) is not int or threads < 1):
        raise ValueError(f"threads {threads!r}; expected a whole number of at least 1")
    if not isinstance(values.get("stop_reason") or "", str):
        raise TypeError(f"stop_reason is {values['stop_reason']!r}, not a text")
    np.random.default_rng(0).bit_generator.state = values["rng"]  # a PCG64 state, or it raises
    parameters = arrays["parameters"]
    if parameters.ndim != 1 or parameters.dtype.kind != "f":
        raise ValueError(f"its parameters are {parameters.dtype} of shape {parameters.shape}; "
                         f"expected one vector of floats")


def restore(path, plan, model, optimizer, rng, stateful=(), title="The run"):
    """Put the checkpoint's state into a freshly built model, optimizer, generator and callbacks,
    and say so (title names the data set).

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
    result = plan.record.result
    if values.get("stop_reason"):  # it had been asked to stop after that epoch
        result.status = values["stop_reason"]
    say(f"{title}: resuming after epoch {result.epochs_finished} from {path}")
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


class Fresh(NamedTuple):
    """The plan for a data set with nothing to resume: it trains from the start."""

class Finished(NamedTuple):
    """The plan for a data set whose run ended before: its files are kept as they are."""
    status: str             # how it ended, one of FINISHED


class Resume(NamedTuple):
    """The plan for a data set whose checkpoint a --resume continues from."""
    values: dict            # the checkpoint's JSON values (epoch, generator, optimizer...)
    arrays: dict            # its arrays (weights, optimizer state...)
    record: RunRecord       # the run as far as it had come
    data_file: Optional[str]  # the data file to read: the flag's, or else the one recorded


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


def plan_resume(command, kinds_and_folders):
    """What --resume (or a fresh run) does with each data set's folder, before anything is read.

    kinds_and_folders: (data set kind, its output folder) in order. Returns
    {kind: plan}: Fresh (nothing there: train from the start), Finished
    (metrics.json says how it ended; its files are kept) or a Resume to continue
    from. Raises DataError, its message naming the flag and what to do, when
    --resume has nothing to resume, when the flags or the data file contradict a
    checkpoint, or when a fresh run would overwrite an unfinished one.
    """
    plans, flags = {}, command.training
    for kind, folder in kinds_and_folders:
        path = os.path.join(folder, FILE_NAME)
        if not command.resume:
            if os.path.exists(path):
                raise DataError(f"argument --resume: {folder} holds an unfinished run "
                                f"({_progress(path)}); add --resume to continue it, or delete "
                                f"{path} to start afresh")
            plans[kind] = Fresh()
        elif os.path.exists(path):
            values, arrays, record = read_checkpoint(path)
            data = record.data
            check_same_run(kind, flags, command.data_file(kind), record, folder,
                           compare_data_file=data is None)
            data_file = command.data_file(kind, given_only=True)
            if data is not None:
                data_file = data_file_to_reuse(data, data_file, data_file_flag(kind),
                                               f"the run in {folder}")
            else:
                data_file = command.data_file(kind)
                say(UNVERIFIED.format(whose=path, path=data_file or "the default file"), error=True)
            plans[kind] = Resume(values, arrays, record, data_file)
        else:
            record = finished_record(folder)
            if record is not None:
                check_same_run(kind, flags, command.data_file(kind), record, folder,
                               compare_data_file=record.data is None)
            plans[kind] = Fresh() if record is None else Finished(record.result.status)
    if command.resume and all(isinstance(plan, Fresh) for plan in plans.values()):
        folders = " or ".join(folder for _, folder in kinds_and_folders)
        raise DataError(f"argument --resume: nothing to resume: no {FILE_NAME} and no finished "
                        f"run in {folders}; run without --resume to start")
    return plans


def resumed_data_file(kind, command, plan):
    """The data file setting a run keeps: the flag's value when it trains afresh or the flag was
    given, else the one a resumed run was started with (it reads the recorded file: see
    plan_resume)."""
    if isinstance(plan, Fresh) or data_file_flag(kind) in command.given_flags:
        return command.data_file(kind)
    return plan.record.settings.data_file


def keep_earlier_runs(tasks):
    """A fresh run never writes over a finished one: the folders that hold one (its
    metrics.json) are renamed to <folder>.N first, N the first number free for all of them,
    and each says where its folder went. tasks are the command's Tasks."""
    finished = [task for task in tasks if isinstance(task.plan, Fresh)
                and os.path.isfile(os.path.join(task.folder, RECORD_FILE))]
    for task, moved_to in zip(finished, set_aside(*(task.folder for task in finished))):
        task.moved_to = moved_to
        say(f"{task.title}: the earlier run's files in {task.folder} were moved to {moved_to}")


def check_same_run(kind, flags, data_file, saved, folder, compare_data_file=True):
    """Raise DataError naming the first flag whose value differs from the saved run's.

    flags are the command's TrainingFlags, data_file its data file flag's value; saved
    is the RunRecord of a checkpoint or of a finished run. compare_data_file:
    compare the data file flags too (for a run that recorded no identity of its data;
    one that did is checked by its data's hash instead, which accepts the same bytes
    under another path).
    """
    if saved.kind != kind:
        raise DataError(f"argument --resume: {folder} holds a run on data set "
                        f"{saved.kind!r}, not {kind!r}; choose another --output_dir")
    then = saved.settings
    # (a CSV's defaults depend on its rows: where a flag is unset, the value it was saved with)
    current = RunSettings.from_flags(kind, flags, DATASETS.get(kind) or then, data_file).to_json()
    flags = settings_flags(kind)
    if not compare_data_file:
        del flags["data_file"]
    differs = contradiction(then.to_json(), current, flags)
    if differs:
        flag, now, was = differs
        raise DataError(f"argument {flag}: {setting_text(now, exact=True)}, but the run in "
                        f"{folder} was started with {setting_text(was, exact=True)}; resume with "
                        f"the same flags, or start afresh in another --output_dir")


def _progress(path):
    try:
        values, _, record = read_checkpoint(path)
    except DataError:
        return "its checkpoint is damaged"
    return f"epoch {values['epoch']} of {record.settings.epochs} done"


def finished_record(folder):
    """The RunRecord of a folder's metrics.json if it says the run finished; else None (none
    there, unreadable, or a run that did not finish)."""
    try:
        record = read_record(os.path.join(folder, RECORD_FILE))
    except DataError:
        return None
    return record if record.result.status in FINISHED else None
