"""What a run is made of, in one typed record: its settings and its data's identity.

RunSettings holds every setting a run trains with (the flags, and the data
set's defaults where a flag is unset); DataSource says exactly which data it
was: the kind of data set, the file's resolved path, size and sha256, how it
was split, and its contracts (the pixel scale of images, the header of a
table). Main builds both once; the checkpoint, model.npz and metrics.json all
store them from here, and every later command that reuses a run (--resume,
--evaluate) checks the data it is about to read against the record: a file
that changed is refused, never used silently; the same bytes under another
path are accepted.
"""

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from typing import Optional

from mlp.errors import DataError
from mlp.guarded import read_bytes

# The kinds of data set: the named ones of mlp.datasets.DATASETS, and a user's CSV.
CSV = "csv"


def data_file_flag(kind):
    """The flag that names a data set's file: --<kind>_path, or --csv."""
    return "--csv" if kind == CSV else f"--{kind}_path"


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

    def record(self):
        """As stored in metrics.json, model.npz and checkpoint.npz."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record):
        """The DataSource a record() made, or None when record is not one (an older file
        that recorded no identity); never raises."""
        if not isinstance(record, dict):
            return None
        names = {field.name for field in dataclasses.fields(cls)}
        try:
            source = cls(**{key: value for key, value in record.items() if key in names})
        except TypeError:
            return None
        if not (isinstance(source.path, str) and isinstance(source.sha256, str)
                and type(source.size) is int):
            return None
        return source


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
    unset."""
    hidden_layers: list
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
    def from_flags(cls, kind, args, defaults, data_file=None):
        """The settings for data set kind: the flags in args, and where a flag is unset, the
        defaults (a DatasetEntry: batch_size, schedule, weight_decay, dropout, augment_pixels).
        data_file, when given, replaces the flag's value (a reuse that reads the recorded file)."""
        images = bool(args.augment and defaults.augment_pixels)
        return cls(
            hidden_layers=list(args.hidden_layers), activation=args.activation,
            learning_rate=args.learning_rate, lr_schedule=args.lr_schedule or defaults.schedule,
            epochs=args.epochs, batch_size=args.batch_size or defaults.batch_size,
            optimizer=args.optimizer,
            weight_decay=first_given(args.weight_decay, defaults.weight_decay),
            dropout=first_given(args.dropout, defaults.dropout), augment=images,
            augment_pixels=(first_given(args.augment_pixels, defaults.augment_pixels)
                            if images else None),
            seed=args.seed, dtype=args.dtype, validation_split=args.validation_split,
            patience=args.patience, threads=args.threads,
            data_file=data_file or getattr(args, data_file_flag(kind)[2:]),
            target=args.target if kind == CSV else None)

    def record(self):
        """As stored in metrics.json, model.npz's options and checkpoint.npz (target only for a
        CSV, as the files have always had it)."""
        record = dataclasses.asdict(self)
        if record["target"] is None:
            del record["target"]
        return record


# Each setting with the flag that sets it: a --resume whose flags differ is refused, naming it.
SETTING_FLAGS = {
    "hidden_layers": "--hidden_layers", "activation": "--activation",
    "learning_rate": "--learning_rate", "lr_schedule": "--lr_schedule", "epochs": "--epochs",
    "batch_size": "--batch_size", "optimizer": "--optimizer", "seed": "--seed",
    "dtype": "--dtype", "validation_split": "--validation_split", "patience": "--patience",
    "weight_decay": "--weight_decay", "dropout": "--dropout", "augment": "--augment",
    "augment_pixels": "--augment_pixels", "threads": "--threads",
    "target": "--target", "data_file": None,
}


def settings_flags(kind):
    """SETTING_FLAGS with the data set's own file flag filled in."""
    return dict(SETTING_FLAGS, data_file=data_file_flag(kind))


def first_given(value, default):
    return default if value is None else value
