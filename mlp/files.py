"""The one way in and out: every file and folder the project reads or writes, the output lock,
every path a command will write (checked before it writes anything) and every printed line;
the only place an OSError is caught.

A file is read only when it is a regular file within a size limit (a FIFO, a device or a
socket is refused before it could block). Every write goes to a temporary file beside its
target, renamed into place (fsync'd where asked), so that a failure or a kill leaves the old
file or the new one, never half of one. An OSError on the way (a full disk, a read-only file
or folder, a permission, an I/O error) becomes a RunFailed whose one line names the file and
what went wrong: Main.py prints it and exits with 1, and every file finished before is
intact. A line that cannot be printed (standard output on a full device, or a reader that
went away) ends the run the same way; standard output closed before the run started is
skipped, as the files are the run's result. A refused command creates nothing and changes
nothing of the user's."""

import contextlib
import csv
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
import zipfile
import zlib

import numpy as np

from mlp.errors import DataError, RunFailed

LOCK = ".lock"          # in --output_dir: held while a run writes there (OutputLock)


# ------------------------------------------------------------------ a CSV's text

def csv_text(rows, header=None):
    """The CSV text of rows (sequences of cells) under header, if given: a float with every
    digit (NaN: an empty cell), a text quoted where the csv module quotes one."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in ([header] if header else []) + list(rows):
        writer.writerow([("" if math.isnan(cell) else float.__repr__(cell))
                         if isinstance(cell, float) else cell for cell in row])
    return text.getvalue()


# ------------------------------------------------------------------ printing

def say(text="", error=False, end="\n", stream=None):
    """Print text and flush it at once: on standard output, on standard error when error, or
    on stream. A failure to print on standard error is ignored (there is nowhere left to say
    anything); on standard output it becomes a RunFailed."""
    stream = stream or (sys.stderr if error else sys.stdout)
    if stream is None:  # the command ran with the stream closed (>&-)
        return
    try:
        stream.write(text + end)
        stream.flush()
    except (OSError, ValueError) as problem:  # ValueError: the stream was closed meanwhile
        if not error:
            reason = problem.strerror if isinstance(problem, OSError) else "it was closed"
            raise RunFailed(f"standard output: could not be written ({reason or problem}); "
                            f"every file finished before is intact") from None


# ------------------------------------------------------------------ reading

# The largest file read as data, a model or a checkpoint, unless the caller says less: far
# beyond MNIST (55 MB as floats) and a model of this project that trains in memory, and never
# more than half the memory available (read_bytes holds the file whole, and parsing copies it).
LARGEST_FILE = 4 * 2**30
FILE_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def read_bytes(path, expected, largest=LARGEST_FILE):
    """The bytes of the regular file at path, of at most largest bytes (and half the memory
    available); DataError naming it, and expected, for anything else: no file, a folder, a
    FIFO, a device or a socket (refused before it can block), a file too large to hold."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; expected {expected}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error}); expected "
                        f"{expected}") from None
    if stat.S_ISDIR(status.st_mode):
        raise DataError(f"{path}: is a folder; expected {expected}")
    if not stat.S_ISREG(status.st_mode):
        kind = FILE_KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise DataError(f"{path}: is {kind}, not a file; expected {expected}")
    available = available_memory_bytes()
    limit = min(largest, available // 2) if available else largest
    if status.st_size > limit:
        raise DataError(f"{path}: {status.st_size:,} bytes, more than the {limit:,} it may be "
                        f"(half the memory available, at most {largest:,}); expected {expected}")
    try:  # non-blocking: a FIFO put in its place since the check cannot hold the open
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(handle, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise DataError(f"{path}: is not a regular file; expected {expected}")
            content = stream.read(limit + 1)
    except PermissionError:
        raise DataError(f"{path}: not readable (permission denied); expected {expected}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error}); expected "
                        f"{expected}") from None
    if len(content) > limit:
        raise DataError(f"{path}: grew past {limit:,} bytes while it was read; expected {expected}")
    return content


# What np.load and reading an array out of the archive raise for bytes that are not a good npz
# (the file itself was read by read_bytes; no OSError can come from parsing memory).
NPZ_READ_ERRORS = (ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read_npz_arrays(path, expected, refusal=None, content=None):
    """Every array of the npz file at path (its bytes, content, when they were read already),
    by name, read without pickle (a bare .npy array is refused).

    expected says what the file should be, for a missing file; a file that
    cannot be read as an npz raises DataError(refusal, by default "path: not a
    readable npz file", and the error's name).
    """
    content = read_bytes(path, expected) if content is None else content
    try:
        with io.BytesIO(content) as stream:
            archive = np.load(stream, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an npz archive of named arrays")
            with archive:
                return {key: archive[key] for key in archive.files}
    except NPZ_READ_ERRORS as error:
        raise DataError(f"{refusal or f'{path}: not a readable npz file'} "
                        f"({npz_error_text(error)})") from None


def npz_error_text(error):
    """What went wrong reading an npz, in words for the user. numpy's own message for an
    array of Python objects advises allow_pickle=True, which would let the file run code:
    it is never passed on."""
    if "allow_pickle" in str(error):
        return "it holds Python objects, which this project never unpickles; expected plain arrays"
    return f"{type(error).__name__}: {error}"


# JSON inside a model or checkpoint file is this project's own, a few kilobytes, a few levels
# deep: anything far beyond is refused before the parser could run out of memory or recursion.
LARGEST_JSON = 16 * 2**20
DEEPEST_JSON = 32


def parse_json(text, largest=LARGEST_JSON, deepest=DEEPEST_JSON):
    """The value of a JSON text of at most largest characters nested at most deepest levels;
    ValueError saying which limit it passes, or why it is not JSON."""
    if len(text) > largest:
        raise ValueError(f"a JSON text of {len(text):,} characters, more than {largest:,}")
    depth = deepest_nesting(text)
    if depth > deepest:
        raise ValueError(f"JSON nested {depth} levels deep, more than {deepest}")
    return json.loads(text)


def deepest_nesting(text):
    """How deeply the arrays and objects of a JSON text nest (strings skipped)."""
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", brackets):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def read_text_or_none(path):
    """The text of the file at path, or None when there is none, it is not a regular file, or
    it cannot be read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError):
        return None


def cannot_write_in(folder):
    """Why this process cannot create a file in folder (an existing folder), or None."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


def available_memory_bytes():
    """The memory this process can still take: the machine's (MemAvailable from /proc/meminfo,
    or the physical memory size where there is none), or less under a limit on the process's
    address space (ulimit -v)."""
    machine = machine_memory_bytes()
    room = address_space_room()
    return room if machine is None else machine if room is None else min(machine, room)


def address_space_room():
    """How many more bytes of address space the process may map under ulimit -v, or None."""
    try:
        import resource
    except ImportError:  # not on this system (Windows)
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    statm = read_text_or_none("/proc/self/statm")
    if limit == resource.RLIM_INFINITY or not statm:
        return None
    return max(0, limit - int(statm.split()[0]) * os.sysconf("SC_PAGE_SIZE"))


def machine_memory_bytes():
    """MemAvailable from /proc/meminfo, or the physical memory size where there is none."""
    for line in (read_text_or_none("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


# ------------------------------------------------------------------ writing

def failed(path, error, what="could not be written"):
    """The RunFailed for an OSError met while writing path."""
    return RunFailed(f"{path}: {what} ({error.strerror or error}); every file finished before "
                     f"it is intact")


def write_atomically(path, write, durable=False, what="could not be written"):
    """Call write(file_object) on a temporary file beside path, then rename it to path.

    A run killed part-way leaves the old file or the new one, never half of one.
    durable: also flush the file and the rename to the disk (fsync) before
    returning, so that not even a power cut loses it. An OSError is raised as
    RunFailed(path: what (reason)).
    """
    folder = os.path.dirname(path) or "."
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path),
                                             suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.remove(temporary)
        if isinstance(error, OSError):
            raise failed(path, error, what) from None
        raise
    if durable:
        sync_folder(folder)


def save_text(text, path):
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def append_text(path, text):
    """Add text at the end of the file at path (a line of history.csv)."""
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise failed(path, error) from None


def open_log(path, append=False):
    """The file at path opened for a process's printout (binary, written through), new unless
    append."""
    try:
        return open(path, "ab" if append else "wb", buffering=0)
    except OSError as error:
        raise failed(path, error) from None


def make_folder(path):
    """Create the folder path and those above it, as needed."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise failed(path, error, "could not be created") from None


def sync_folder(folder):
    """fsync a folder, so that a rename in it is on the disk (a no-op where folders cannot be
    opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def remove_stale_temporaries(folder):
    """Delete the half-written temporary files a killed run left in folder."""
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))


def remove(path):
    """Delete the file at path if it is there (a finished run's checkpoint)."""
    try:
        if os.path.exists(path):
            os.remove(path)
    except OSError as error:
        raise failed(path, error, "could not be removed") from None


def set_aside(*folders):
    """Rename each folder to folder.N beside it, N the first number free for all of them (so
    that folders set aside together keep one number); return the new names."""
    number = 1
    while any(os.path.lexists(f"{folder}.{number}") for folder in folders):
        number += 1
    for folder in folders:
        try:
            os.rename(folder, f"{folder}.{number}")
        except OSError as error:
            raise failed(folder, error, "could not be moved aside") from None
    return [f"{folder}.{number}" for folder in folders]


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputLock:
    """folder/.lock, held while a run writes into folder, so that two runs never share one.

    The lock is the kernel's (flock): a run that dies, even by SIGKILL, lets go
    of it. take() acquires it, creating the file; a lock file this run created
    is removed on release, so a refused or finished command leaves none behind.
    Raises DataError when another run holds it.
    """

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK)
        self.folder = folder
        self.stream = None
        self.created = False

    def take(self):
        try:
            import fcntl
        except ImportError:  # not on this system (Windows): run without the guard
            return
        if self.stream is not None:
            return
        if os.path.lexists(self.path) and not os.path.isfile(self.path):
            raise DataError(f"argument --output_dir: {self.path}, the lock that keeps two runs "
                            f"out of one folder, is not a file; remove it or choose another "
                            f"--output_dir")
        self.created = not os.path.lexists(self.path)
        try:
            stream = open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            raise DataError(f"argument --output_dir: cannot write to {self.folder} "
                            f"({error.strerror or error})") from None
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A run that ended in between may have removed the file this one opened.
            if os.fstat(stream.fileno()).st_ino != os.stat(self.path).st_ino:
                raise BlockingIOError
        except OSError:
            stream.seek(0)
            holder = stream.read().strip() or "unknown"
            stream.close()
            raise DataError(f"argument --output_dir: another run (process {holder}) is writing "
                            f"to {self.folder}; wait for it to end or choose another "
                            f"--output_dir") from None
        self.stream = stream
        try:
            stream.seek(0)
            stream.truncate()
            stream.write(str(os.getpid()))
            stream.flush()
        except OSError as error:
            self.release()
            raise failed(self.path, error) from None

    def release(self):
        if self.stream is None:
            return
        import fcntl

        if self.created:  # removed while still held: no other run can take a stale file
            with contextlib.suppress(OSError):
                os.remove(self.path)
        fcntl.flock(self.stream.fileno(), fcntl.LOCK_UN)
        self.stream.close()
        self.stream = None

    def __enter__(self):
        if os.path.isdir(self.folder):
            self.take()
        return self

    def __exit__(self, *exception):
        self.release()


# What a training run may write into its data set's folder.
RUN_FILES = ("metrics.json", "history.csv", "model.npz", "checkpoint.npz", "loss.png",
             "accuracy.png", "confusion_matrix.png", "calibration.png", "layer_health.png",
             "misclassified.png", "hidden_weights.png", "augmented.png")
PREDICTIONS = "predictions.csv"


def same_file(path, other):
    """Whether two paths, however written (relative, through links), name the same place."""
    return other is not None and os.path.realpath(path) == os.path.realpath(other)


def check_writable_folder(path, flag="--output_dir"):
    """Raise DataError unless path is a folder this process can write in, or could be created
    as one (its nearest existing folder above is writable). Nothing is created."""
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(os.path.abspath(existing))
    if os.path.islink(existing) and not os.path.exists(existing):
        raise DataError(f"argument {flag}: {existing} is a link to {os.readlink(existing)}, which "
                        f"does not exist; expected a folder (it is created if missing)")
    if not os.path.isdir(existing):
        where = "is a file" if existing == path else f"is under {existing}, which is a file"
        raise DataError(f"argument {flag}: {path} {where}; expected a folder (it is created "
                        f"if missing)")
    reason = cannot_write_in(existing)
    if reason:
        raise DataError(f"argument {flag}: cannot write to {path} ({reason})")


def check_output_dir(path):
    """Raise DataError unless the run can write in --output_dir and take its lock there."""
    check_writable_folder(path)
    lock = os.path.join(path, LOCK)
    if os.path.lexists(lock) and not os.path.isfile(lock):
        raise DataError(f"argument --output_dir: {lock}, the lock that keeps two runs out of one "
                        f"folder, is not a file; remove it or choose another --output_dir")


def check_run_folder(folder, data_file):
    """Raise DataError when a training run could not write its files into folder, or would
    write over its own data file; data_file is None where the data set has no file flag set."""
    if same_file(folder, data_file):
        raise DataError(f"argument --output_dir: {folder}, the folder for the results of "
                        f"{data_file}, is that data file itself; choose another --output_dir")
    check_writable_folder(folder)
    for name in RUN_FILES:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            raise DataError(f"argument --output_dir: {path} is a folder, where the run writes "
                            f"a file; move it away or choose another --output_dir")
        if same_file(path, data_file):
            raise DataError(f"argument --output_dir: the run would write {path} over its own "
                            f"data file; choose another --output_dir")


def check_predictions_path(output_dir, predict_file, model_file):
    """Raise DataError when OUTPUT_DIR/predictions.csv could not be written, or would replace
    the file of rows to predict or the model."""
    check_writable_folder(output_dir)
    path = os.path.join(output_dir, PREDICTIONS)
    if os.path.isdir(path):
        raise DataError(f"argument --output_dir: {path} is a folder, where the predictions go; "
                        f"move it away or choose another --output_dir")
    for other, flag in ((predict_file, "--predict"), (model_file, "--model")):
        if same_file(path, other):
            raise DataError(f"argument --output_dir: the predictions would be written over "
                            f"{other}, the {flag} file; choose another --output_dir")
