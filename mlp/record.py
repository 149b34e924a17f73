"""A run's record: what it was made of and what it did, written one way and read one way.

RunSettings holds every setting a run trains with; DataSource says exactly which data it was
(the file's resolved path, size and sha256, how it was split, its contracts); RunRecord holds
both with the fit's result and what was measured. metrics.json is RunRecord.to_json(), and
model.npz and checkpoint.npz store that same JSON; RunRecord.from_json checks every field
against one table. Files of earlier versions pass through upgrade() first. Every later command
that reuses a run (--resume, --evaluate) checks the data it reads against the record: a file
that changed is refused, never used silently; the same bytes under another path are
accepted."""

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from typing import Optional

from mlp.errors import DataError
from mlp.files import LARGEST_JSON, parse_json, read_bytes, save_text
from Model import COMPLETED, DIVERGED, HISTORY_KEYS, INTERRUPTED, STOPPED_EARLY, FitResult

# The kinds of data set: the named ones of mlp.datasets.DATASETS, and a user's CSV.
CSV = "csv"


def data_file_flag(kind):
    """The flag that names a data set's file: --<kind>_path, or --csv."""
    return "--csv" if kind == CSV else f"--{kind}_path"


# ------------------------------------------------------------------ how a run ended

# Every status a run's record may hold: Model.fit's own (COMPLETED, STOPPED_EARLY, DIVERGED,
# INTERRUPTED) and the package's, each with whether the run finished (nothing left to resume).
STUCK = "stuck_at_chance"   # callbacks.StuckAtChance stopped a network that cannot learn
PRUNED = "pruned"           # a search's pruner stopped a trial that fell behind
RUNNING = "running"         # the live record of a run still training, or killed while it was
UNKNOWN = "unknown"         # a model file of a version that did not keep how its run ended
STATUSES = {COMPLETED: True, STOPPED_EARLY: True, DIVERGED: True, STUCK: True, PRUNED: True,
            INTERRUPTED: False, RUNNING: False, UNKNOWN: False}
FINISHED = tuple(status for status, finished in STATUSES.items() if finished)


def status_words(status):
    """A status as a sentence says it: "stuck at chance"."""
    return status.replace("_", " ")


# ------------------------------------------------------------------ the data

@dataclass(frozen=True)
class DataSource:
    """Which data a run was made of, and the contracts it was read under."""
    kind: str                           # "mnist", "iris" or "csv"
    title: str                          # in messages and plots: "MNIST", "Iris", a CSV's name
    path: str                           # the file read, resolved (absolute, no links)
    size: int                           # its bytes
    sha256: str                         # of its bytes
    rows: int                           # rows (images) read, before the split
    split_seed: int                     # the --seed the split was drawn with
    validation_split: float             # share of the training rows held out
    test_fraction: Optional[float]      # share of each class kept for test; None: a set's own
    pixel_scale: Optional[int] = None   # images: 255 (0-255 pixels) or 1 (0-1 floats)
    header: Optional[list] = None       # tables: the first row as read, when it is a header
    feature_names: Optional[list] = None  # tables: the feature columns, normalised
    target: Optional[str] = None        # a CSV's class column

    def to_json(self):
        """As stored in metrics.json, model.npz and checkpoint.npz."""
        return dataclasses.asdict(self)


def fingerprint(content):
    """The sha256 of a file's bytes, as hex."""
    return hashlib.sha256(content).hexdigest()


def data_file_to_reuse(recorded, given_path, flag, whose):
    """The data file a reuse of a run reads: the one given by flag, or else the one recorded.

    recorded is the run's DataSource; given_path, the flag's value when the user
    gave it (None when not); whose says what is reused ("the model results/iris/
    model.npz"). Raises DataError, in one line naming the file, what differs and
    how to point to the right one, unless the file holds the very bytes recorded.
    """
    path = given_path or recorded.path
    was = (f"the data {whose} was trained on ({recorded.path}, {recorded.size:,} bytes, "
           f"sha256 {recorded.sha256[:12]})")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; expected {was}; pass {flag} FILE naming a copy "
                        f"of it")
    content = read_bytes(path, was)
    if fingerprint(content) != recorded.sha256:
        differs = (f"{len(content):,} bytes, not {recorded.size:,}" if len(content) != recorded.size
                   else f"the same size but other bytes (sha256 {fingerprint(content)[:12]})")
        raise DataError(f"{path}: not {was}: {differs}; pass {flag} FILE naming that file")
    return path


def check_loaded(recorded, loaded, whose):
    """Raise DataError unless the data just read (loaded, a DataSource) is the recorded one."""
    if loaded.sha256 != recorded.sha256:
        raise DataError(f"{loaded.path}: changed while it was being read: not the data {whose} "
                        f"was trained on (sha256 {loaded.sha256[:12]}, expected "
                        f"{recorded.sha256[:12]})")


UNVERIFIED = ("note: {whose} was saved by an earlier version that did not record its data's "
              "size and hash: the data read now ({path}) could not be verified to be the same")


# -------------------------------------------------------------- the settings

@dataclass(frozen=True)
class RunSettings:
    """Every setting a run trains with: the flags, and a data set's defaults where they are
    unset. Each is named as its flag and its key in the files, but for the widths of the hidden
    layers: hidden_sizes here, as in Model, and hidden_layers (the assignment's word) there."""
    hidden_sizes: list
    activation: str
    learning_rate: float
    lr_schedule: str
    epochs: int
    batch_size: int
    optimizer: str
    weight_decay: float
    dropout: float
    augment: bool
    augment_pixels: Optional[int]
    seed: int
    dtype: str
    validation_split: float
    patience: Optional[int]
    threads: Optional[int]
    data_file: Optional[str]            # the data file flag's value as given (None: its default)
    target: Optional[str] = None        # a CSV's class column

    @classmethod
    def from_flags(cls, kind, flags, defaults, data_file):
        """The settings for data set kind: the training flags (a flags.TrainingFlags), and
        where a flag is unset, the defaults (a DatasetEntry, or a RunSettings: batch_size,
        lr_schedule, weight_decay, dropout, augment_pixels); data_file, the data file flag's
        value (None: the set's default file)."""
        images = bool(flags.augment and defaults.augment_pixels)
        return cls(
            hidden_sizes=list(flags.hidden_sizes), activation=flags.activation,
            learning_rate=flags.learning_rate,
            lr_schedule=flags.lr_schedule or defaults.lr_schedule, epochs=flags.epochs,
            batch_size=flags.batch_size or defaults.batch_size, optimizer=flags.optimizer,
            weight_decay=first_given(flags.weight_decay, defaults.weight_decay),
            dropout=first_given(flags.dropout, defaults.dropout), augment=images,
            augment_pixels=(first_given(flags.augment_pixels, defaults.augment_pixels)
                            if images else None),
            seed=flags.seed, dtype=flags.dtype, validation_split=flags.validation_split,
            patience=flags.patience, threads=flags.threads, data_file=data_file,
            target=flags.target if kind == CSV else None)

    def to_json(self):
        """As stored in metrics.json, model.npz's options and checkpoint.npz, under the files'
        names (target only for a CSV, as the files have always had it)."""
        record = {FILE_NAMES.get(name, name): value
                  for name, value in dataclasses.asdict(self).items()}
        if record["target"] is None:
            del record["target"]
        return record

    @classmethod
    def from_json(cls, record):
        """The RunSettings a record (a dict under the files' names) holds."""
        return cls(**{field.name: record.get(FILE_NAMES.get(field.name, field.name))
                      for field in dataclasses.fields(cls)})


# The settings whose key in the files (and flag) is not their name in code.
FILE_NAMES = {"hidden_sizes": "hidden_layers"}


def settings_flags(kind):
    """Each setting, under the files' names, with the flag that sets it (--<name>, or for the
    data file, the data set's own file flag): a --resume whose flags differ is refused, naming
    it."""
    names = [FILE_NAMES.get(field.name, field.name) for field in dataclasses.fields(RunSettings)]
    return {name: data_file_flag(kind) if name == "data_file" else f"--{name}" for name in names}


def setting_text(value, exact=False):
    """A setting's value as a person reads it: [256, 64], 0.001, relu, "not given" for None;
    exact, with every digit of a float, as its flag takes it back."""
    if value is None:
        return "not given"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return repr(value) if exact else f"{value:g}"
    return str(value)


def network_text(n_features, hidden_sizes, n_classes):
    """The widths of a network, input to output, as the text 784-256-64-10."""
    return "-".join(str(width) for width in [n_features, *hidden_sizes, n_classes])


def first_given(value, default):
    return default if value is None else value


# ------------------------------------------------------------ the record, checked

@dataclass(frozen=True)
class Field:
    """What one field of a run's record must be, and a setting's flag too: test(value) and the
    words for it; read turns a flag's text into a value (int or float); X | NONE may be null."""
    words: str
    test: object
    read: object = None
    nullable: bool = False

    @property
    def expected(self):
        return self.words + (" or null" if self.nullable else "")

    def accept(self, value):
        return (self.nullable and value is None) or self.test(value)

    def __or__(self, other):
        assert other is NONE, "a field is of one kind, or that kind or null"
        return dataclasses.replace(self, nullable=True)


def number(low=-math.inf, high=math.inf, low_open=False, high_open=False, words=None):
    """A finite number in [low, high] (an end left out where open)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    words = words or ("a number" if (low, high) == (-math.inf, math.inf)
                      else f"a finite number {'greater than' if low_open else '>='} {low:g}"
                      if high == math.inf else f"a number in {left}{low:g}, {high:g}{right}")
    return Field(words, lambda value: type(value) in (int, float) and math.isfinite(value)
                 and (value > low if low_open else value >= low)
                 and (value < high if high_open else value <= high), read=float)


def whole(least=0, most=math.inf, words=None):
    return Field(words or f"a whole number of at least {least}",
                 lambda value: type(value) is int and least <= value <= most, read=int)


def one_of(names):
    return Field("one of " + ", ".join(map(str, names)), lambda value: value in tuple(names))


def list_of(item):
    return Field(f"a list, each {item.expected}",
                 lambda value: isinstance(value, list) and all(map(item.accept, value)))


TEXT = Field("a text", lambda value: isinstance(value, str))
NONE = Field("null", lambda value: value is None)
SWITCH = Field("true or false", lambda value: type(value) is bool)
OBJECT = Field("a JSON object", lambda value: isinstance(value, dict))
SECONDS = number(0)

# Every field of a run's record, each checked one way wherever a record is read.
SETTING_FIELDS = {
    "hidden_layers": list_of(whole(1)), "activation": TEXT,
    "learning_rate": number(0, low_open=True),
    "lr_schedule": TEXT, "epochs": whole(1), "batch_size": whole(1), "optimizer": TEXT,
    "weight_decay": number(0),
    "dropout": number(0, 1, high_open=True, words="a rate from 0 up to, not including, 1"),
    "augment": SWITCH, "augment_pixels": whole(1, 13, "a whole number of pixels from 1 to 13")
    | NONE, "seed": whole(0), "dtype": one_of(("float32", "float64")),
    "validation_split": number(0, 1, True, True, words="a fraction strictly between 0 and 1"),
    "patience": whole(1) | NONE,
    "threads": whole(1) | NONE, "data_file": TEXT | NONE, "target": TEXT | NONE,
}
DATA_FIELDS = {"kind": TEXT, "title": TEXT, "path": TEXT, "size": whole(0), "sha256": TEXT,
               "rows": whole(0), "split_seed": whole(0), "validation_split": number(0, 1),
               "test_fraction": number(0, 1) | NONE, "pixel_scale": one_of((1, 255)) | NONE,
               "header": list_of(TEXT) | NONE, "feature_names": list_of(TEXT) | NONE,
               "target": TEXT | NONE}
# What the run did, as Model.fit's FitResult has it (its extras beside the rest).
FIT_FIELDS = {
    "status": one_of(STATUSES), "epochs_completed": whole(0), "history": OBJECT,
    "learning_rates": list_of(number()), "epoch_seconds": list_of(SECONDS),
    "diverged_epoch": whole(1), "best_epoch": whole(0), "layer_health": OBJECT,
    "most_answered_share": list_of(number(0, 1)),
}
# The data as the network saw it, and what was measured besides the history.
RESULT_FIELDS = {
    "dataset": TEXT, "data": OBJECT | NONE, "source": TEXT | NONE, "network": TEXT | NONE,
    "classes": list_of(TEXT) | NONE, "n_train": whole(0) | NONE, "n_val": whole(0) | NONE,
    "n_test": whole(0) | NONE, "feature_names": list_of(TEXT) | NONE,
    "image_shape": list_of(whole(1)) | NONE, "train_seconds": SECONDS,
    "test_loss": number(0) | NONE, "test_accuracy": number(0, 1) | NONE,
    "checkpoint_and_records_seconds": SECONDS, "layer_health_seconds": SECONDS,
    "augment_seconds": SECONDS, "blas_threads": whole(1), "blas_threads_source": TEXT,
    "blas_threads_seconds_per_batch": OBJECT, "blas_threads_trial_seconds": SECONDS,
    "expected_calibration_error": number(0, 1), "per_class": OBJECT,
    "confusion_matrix": list_of(list_of(whole(0))), "calibration": OBJECT,
    "stuck_at_chance": SWITCH, "chance": OBJECT, "study": TEXT, "trial": whole(0),
}
RECORD_FIELDS = {**SETTING_FIELDS, **FIT_FIELDS, **RESULT_FIELDS}
REQUIRED = (*SETTING_FIELDS.keys() - {"target"}, "dataset", "status", "history",
            "learning_rates", "epoch_seconds", "train_seconds")


def check_record(record):
    """record, a dict as RunRecord.to_json makes it, if each of its fields is of the kind and
    in the range RECORD_FIELDS expects, the required ones there, its data a DataSource's fields,
    and its history and layer health one entry per finished epoch; else ValueError naming the
    first field that is not (each reader says which file is damaged)."""
    def refuse(name, value, expected):
        shown = json.dumps(value)
        raise ValueError(f"field {name!r} is {shown if len(shown) <= 40 else shown[:37] + '...'}"
                         f"; expected {expected}")

    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    for name in REQUIRED:
        if name not in record:
            raise ValueError(f"field {name!r} is missing")
    for name, value in record.items():
        field = RECORD_FIELDS.get(name)
        if field is not None and not field.accept(value):
            refuse(name, value, field.expected)
    data = record.get("data")
    for name, field in DATA_FIELDS.items() if data is not None else ():
        if name not in data and DataSource.__dataclass_fields__[name].default is not None:
            raise ValueError(f"field 'data.{name}' is missing")
        if name in data and not field.accept(data[name]):
            refuse(f"data.{name}", data[name], field.expected)
    epochs = record.get("epochs_completed", len(record["history"].get("loss") or []))
    per_epoch = f"a list of {epochs} number{'' if epochs == 1 else 's'}, one per finished epoch"
    for name in HISTORY_KEYS:
        value = record["history"].get(name)
        if not (list_of(number()).accept(value) and len(value) == epochs):
            refuse(f"history.{name}", value, per_epoch)
    for name in ("learning_rates", "epoch_seconds"):
        if len(record[name]) != epochs:
            refuse(name, record[name], per_epoch)
    health = record.get("layer_health")
    if health is not None:
        layers = health.get("layers")
        if not list_of(TEXT).accept(layers):
            refuse("layer_health.layers", layers, "a list of texts")
        for name in ("gradient_norm", "update_ratio", "saturation"):
            value = health.get(name)  # (it may begin after epoch 1: a run resumed from a v1 file)
            if not (list_of(list_of(number() | NONE)).accept(value) and len(value) <= epochs
                    and all(len(entry) == len(layers) for entry in value)):
                refuse(f"layer_health.{name}", value, "a list of one number (or null) per layer "
                       "for each finished epoch")
    if record.get("best_epoch", 0) > epochs:
        refuse("best_epoch", record["best_epoch"], f"at most {epochs}, the epochs finished")
    return record


# ------------------------------------------------------------ the run's record

# The fields of RunRecord that hold the data as the network saw it, under the same name in the
# JSON.
DESCRIBED = ("source", "network", "classes", "n_train", "n_val", "n_test", "feature_names",
             "image_shape")
TOP_FIELDS = ("dataset", "data", "source", "network", "classes", "n_train", "n_val", "n_test",
              "status", "epochs_completed", "history", "learning_rates", "test_loss",
              "test_accuracy", "epoch_seconds", "train_seconds")
FIT_EXTRAS = FIT_FIELDS.keys() - {"status", "epochs_completed", "history", "learning_rates",
                                  "epoch_seconds", "diverged_epoch"}


@dataclass(frozen=True)
class RunRecord:
    """One run: what it was made of and what it did, as metrics.json holds it (to_json); a
    model.npz and a checkpoint.npz store the same JSON beside their arrays."""
    settings: RunSettings
    kind: str                           # the data set's kind ("dataset" in the JSON)
    data: Optional[DataSource]          # None: written by a version that did not record it
    source: Optional[str]               # the data file as the user would write it
    network: Optional[str]              # "4-16-3"
    classes: Optional[list]
    n_train: Optional[int]
    n_val: Optional[int]
    n_test: Optional[int]
    feature_names: Optional[list]       # a table's feature columns
    image_shape: Optional[list]         # images: (height, width)
    result: FitResult                   # history, seconds and rates per epoch, status, extras
    train_seconds: float
    measures: dict                      # the callbacks' costs, the BLAS threads, the test set

    @classmethod
    def of(cls, dataset, settings, result, train_seconds, status=None, measures=()):
        """The record of a run on dataset (an mlp.datasets.Dataset) with settings, as result (a
        FitResult) left it; status, when given, is recorded instead of the result's own."""
        if status is not None:
            result = dataclasses.replace(result, status=status)
        network = network_text(dataset.n_features, settings.hidden_sizes, dataset.n_classes)
        return cls(settings=settings, kind=dataset.kind, data=dataset.data,
                   source=dataset.source, network=network, classes=list(dataset.class_names),
                   n_train=len(dataset.X_train), n_val=len(dataset.X_val),
                   n_test=len(dataset.X_test), feature_names=dataset.feature_names,
                   image_shape=list(dataset.image_shape) if dataset.image_shape else None,
                   result=result, train_seconds=train_seconds, measures=dict(measures))

    def to_json(self):
        """The record as one JSON object (metrics.json's layout: the settings first)."""
        result = self.result
        top = dict(dataset=self.kind, data=self.data.to_json() if self.data else None,
                   source=self.source, network=self.network, classes=self.classes,
                   n_train=self.n_train, n_val=self.n_val, n_test=self.n_test, status=result.status,
                   epochs_completed=result.epochs_finished, history=result.history,
                   learning_rates=result.learning_rates,
                   test_loss=self.measures.get("test_loss"),
                   test_accuracy=self.measures.get("test_accuracy"),
                   epoch_seconds=result.epoch_seconds, train_seconds=self.train_seconds)
        if result.diverged_epoch is not None:
            top["diverged_epoch"] = result.diverged_epoch
        return {**self.settings.to_json(), **top, **result.extras, **self.measures,
                "feature_names": self.feature_names, "image_shape": self.image_shape}

    @classmethod
    def from_json(cls, json_object):
        """The RunRecord that to_json made json_object from; ValueError naming the first field
        that is not as to_json writes it."""
        record = check_record(json_object)
        settings = RunSettings.from_json(record)
        data = record.get("data")
        if data is not None:
            data = DataSource(**{name: data[name] for name in DATA_FIELDS if name in data})
        result = FitResult(history=record["history"], epoch_seconds=record["epoch_seconds"],
                           learning_rates=record["learning_rates"], status=record["status"],
                           diverged_epoch=record.get("diverged_epoch"),
                           extras={name: value for name, value in record.items()
                                   if name in FIT_EXTRAS})
        known = {*SETTING_FIELDS, *TOP_FIELDS, *FIT_FIELDS, *DESCRIBED}
        measures = {name: value for name, value in record.items() if name not in known}
        for name in ("test_loss", "test_accuracy"):
            if record.get(name) is not None:
                measures[name] = record[name]
        return cls(settings=settings, kind=record["dataset"], data=data,
                   result=result, train_seconds=record["train_seconds"], measures=measures,
                   **{name: record.get(name) for name in DESCRIBED})


RECORD_FILE = "metrics.json"    # in each run's folder


def write_record(record, path):
    """Write metrics.json: the record's JSON, atomically."""
    save_text(json.dumps(record.to_json(), indent=2) + "\n", path)


def read_record(path):
    """The RunRecord in the metrics.json at path; DataError naming the file and the field that
    is wrong."""
    try:
        return RunRecord.from_json(upgrade(parse_json(read_bytes(
            path, "a run's metrics.json", LARGEST_JSON).decode())))
    except ValueError as error:  # (UnicodeDecodeError too)
        raise DataError(f"{path}: a damaged metrics.json, or not a run's ({error})") from None


# What a record of an older file lacks, and what the run it describes trained with: the
# settings that had no flag yet, and for a model file (which kept only the settings and
# the data), an empty history.
FORMER_SETTINGS = {"activation": "sigmoid", "weight_decay": 0.0, "dropout": 0.0,
                   "augment": False, "augment_pixels": None, "patience": None, "threads": None,
                   "data_file": None}
# The history's lists that were named otherwise before they took Keras's names.
FORMER_HISTORY_KEYS = {"train_loss": "loss", "train_accuracy": "accuracy"}


def upgrade(record, model_version=None, named_kinds=()):
    """A record of an older file in the layout RunRecord.from_json reads: a metrics.json (or
    the record of a model or checkpoint) that lacks later settings or names its history's lists
    train_loss and train_accuracy, or a model file's options (model_version 1 or 2: the
    settings, the data set and its source; a CSV was named after its file, not one of
    named_kinds, and recorded its class column)."""
    if not isinstance(record, dict):
        return record
    record = {**FORMER_SETTINGS, **record}
    if isinstance(record.get("history"), dict):
        record["history"] = {FORMER_HISTORY_KEYS.get(name, name): values
                             for name, values in record["history"].items()}
    if model_version is not None:  # the run's results were not kept
        record.setdefault("status", UNKNOWN)
        record.setdefault("history", {name: [] for name in HISTORY_KEYS})
        record.setdefault("learning_rates", [])
        record.setdefault("epoch_seconds", [])
        record.setdefault("train_seconds", 0.0)
        if "data" not in record and (record.get("target") is not None
                                     or record.get("dataset") not in named_kinds):
            record["dataset"] = CSV
    return record


def upgrade_checkpoint(values):
    """A checkpoint's values in the current layout: version 1 kept the record in two parts, the
    settings and the fit's result, without the training time; up to version 2 the record's
    history had its former names."""
    if isinstance(values, dict) and values.get("version") == 1:
        values = dict(values, record=dict(
            values.pop("settings"), **values.pop("result"), train_seconds=0.0))
    values["version"] = 3
    values["record"] = upgrade(values["record"])
    return values
