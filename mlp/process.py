"""The process a command runs in: how many BLAS threads it trains with, how much memory a
network needs, and how it ends (Ctrl-C, SIGTERM, every other way out: one line and an exit
status).

Threads: numpy's BLAS starts one thread per core, but the products of a small network on a
small batch are too small for many threads to share: on 16 cores the documented network trains
faster on 4 threads than on 16 (docs/speed.md). So before training, a few dozen real batches
are timed at 1, 2, 4, ... threads on a scratch copy of the network, and the fastest count
trains; the trial's batches are not training steps. threadpoolctl sets the count at run time,
as scikit-learn does. The count changes the rounding of the products, so the same seed gives
the same numbers only at the same count: --threads N fixes it, the checkpoint keeps it for
--resume, and metrics.json records it. A count exported in OMP_NUM_THREADS or
OPENBLAS_NUM_THREADS is left as it is.

Memory: a network too large for the memory available is refused before anything is
allocated, from an estimate of its parameters, gradients, optimizer buffers and activations.

Signals: the first Ctrl-C, SIGTERM or SIGHUP (its terminal closed) while training finishes the
batch, keeps the finished epochs and stops; a second Ctrl-C ends the program at once. A run an
experiment started ends with the experiment, however the experiment ended (SIGKILL, the
out-of-memory killer): it stops as for SIGTERM.
"""

import contextlib
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mlp.datasets import DATASETS
from mlp.errors import EXIT_FAILED, EXIT_SIGNAL, DataError, UserError
from mlp.files import available_memory_bytes, say
from mlp.optimizers import OPTIMIZERS
from mlp.record import network_text

# ------------------------------------------------------------------ signals and exits

# Set by an experiment in each run's environment: the experiment's process id. The run ends
# when that process does (see end_with_parent).
PARENT_ENVIRONMENT = "MAIN_PY_EXPERIMENT_PID"
PR_SET_PDEATHSIG = 1    # prctl's option: the signal the kernel sends when the parent dies


def experiment_parent():
    """The process id of the experiment that started this run (PARENT_ENVIRONMENT), or None."""
    text = os.environ.get(PARENT_ENVIRONMENT, "")
    return int(text) if text.isdigit() else None


def end_with_parent():
    """For a run an experiment started: on Linux, ask the kernel for SIGTERM when the
    experiment's process ends (elsewhere StopFlag checks between batches that it is still this
    process's parent), and end now if it already has."""
    parent = experiment_parent()
    if parent is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the check between batches
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the request: no signal would come
        os.kill(os.getpid(), signal.SIGTERM)


class StopFlag:
    """Turns the first SIGINT, SIGTERM or SIGHUP into a request to stop after the current batch.

    A second SIGINT ends the program at once. Used as a context manager, it
    handles the signals inside the with block and restores the previous
    handlers after it. Called, it says whether a stop was requested, or the
    experiment that started this run is gone.
    """

    def __init__(self):
        self.signal_number = None
        self.parent = experiment_parent()
        self._previous = {}

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._handle) for number in EXIT_SIGNAL}
        return self

    def __exit__(self, *exception):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, signal_number, frame):
        if self.signal_number is not None and signal_number == signal.SIGINT:
            say("\nSecond interrupt: quitting now.", error=True)
            os._exit(EXIT_SIGNAL[signal.SIGINT])
        self.signal_number = signal_number
        say(f"\n{signal.Signals(signal_number).name}: stopping after this batch "
            f"(press Ctrl-C again to quit at once)", error=True)

    def __call__(self):
        if self.signal_number is None and self.parent and os.getppid() != self.parent:
            self._handle(signal.SIGTERM, None)  # as the kernel's signal would have
        return self.signal_number is not None

    @property
    def exit_status(self):
        """The exit status the signal that stopped the run calls for."""
        return EXIT_SIGNAL[self.signal_number]


def run_from_command_line(main):
    """main() (it returns the exit status), with every way a run can end turned into one line
    and an exit status: a fault writing a file or standard output (1, through files.say and
    RunFailed), memory running out (1), Ctrl-C outside training (130)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here, a KeyboardInterrupt
    end_with_parent()
    try:
        status = main()
    except KeyboardInterrupt:
        status = say_and_exit_status("interrupted; every file finished before is kept",
                                     EXIT_SIGNAL[signal.SIGINT])
    except MemoryError:
        status = say_and_exit_status("out of memory (the process's limit or the machine's); "
                                     "expected smaller --hidden_layers or --batch_size",
                                     EXIT_FAILED)
    except OSError as error:  # one mlp.files did not see: named as it is
        status = say_and_exit_status(f"{error.filename or 'a file'}: {error.strerror or error}",
                                     EXIT_FAILED)
    sys.exit(flushed(status))


def flushed(status):
    """status, once what is left for standard output is written. Every line is flushed as it is
    printed, so anything left is from a line that already failed, and was reported then."""
    try:
        if sys.stdout is not None:  # None when the command ran with standard output closed
            sys.stdout.flush()
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more at exit
        return status or EXIT_FAILED
    return status


def say_and_exit_status(message, status):
    """Print Main.py's one error line on standard error, if it is there; return status (what
    is left for standard output is flushed() after)."""
    say(f"Main.py: error: {message}", error=True)
    return status


# ------------------------------------------------------------------ BLAS threads

ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TRIAL_BATCHES = 24      # timed at each count, after one batch to warm the threads up
# Every count is timed TRIAL_ROUNDS times, in turns, and its fastest time counts: a neighbour
# busy on a core for a moment then misleads only some rounds.
TRIAL_ROUNDS = 4
TIE_MARGIN = 0.03       # a count within 3% of the fastest is as fast: the fewest such threads win


@dataclass
class ThreadChoice:
    """The BLAS thread count a run trains with, why, and what the trial measured."""
    count: int
    source: str                     # "measured", "--threads", "checkpoint", or an environment
                                    # variable's name
    seconds_per_batch: dict = field(default_factory=dict)   # {count: seconds}, when measured
    trial_seconds: float = 0.0

    def text(self):
        """How the header line says it: 'BLAS threads 2 (measured: 1 0.61, 2 0.45 ms a batch)'."""
        if not self.seconds_per_batch:
            return f"BLAS threads {self.count} ({self.source})"
        times = ", ".join(f"{count} {seconds * 1e3:.3g}" for count, seconds
                          in self.seconds_per_batch.items())
        return f"BLAS threads {self.count} (measured: {times} ms a batch)"

    def to_json(self):
        """The entries metrics.json keeps of it."""
        return {"blas_threads": self.count, "blas_threads_source": self.source,
                "blas_threads_seconds_per_batch": {str(count): seconds for count, seconds
                                                   in self.seconds_per_batch.items()},
                "blas_threads_trial_seconds": self.trial_seconds}


def usable_cores():
    """The cores this process may run on (its affinity), or the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def blas_threads():
    """The thread count numpy's BLAS uses now (1 when threadpoolctl finds no BLAS)."""
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts, default=1)


def effective_count(requested):
    """The thread count the BLAS really runs when asked for requested (it caps it at its own
    maximum, 64 for a common OpenBLAS build)."""
    with threadpool_limits(limits=requested, user_api="blas"):
        return min(requested, blas_threads()) if threadpool_info() else requested


def exported_count(name):
    """The thread count an environment variable asks for ("4", or OpenMP's nested "4,2"), or,
    where it says none that can be read, the count the BLAS took from it."""
    first = os.environ[name].split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else blas_threads()


def candidate_counts(cores):
    """1, 2, 4, ... up to cores, and cores itself."""
    counts, count = [], 1
    while count < cores:
        counts.append(count)
        count *= 2
    return counts + [cores]


def time_batches(step, n_batches):
    """Seconds per call of step() over n_batches calls, after one call to warm up."""
    step()
    started = time.perf_counter()
    for _ in range(n_batches):
        step()
    return (time.perf_counter() - started) / n_batches


def measure(make_step, counts, n_batches=TRIAL_BATCHES, rounds=TRIAL_ROUNDS):
    """{count: the fastest seconds per batch of rounds trials} for a step from make_step()."""
    step = make_step()
    best = {count: float("inf") for count in counts}
    for _ in range(rounds):
        for count in counts:
            with threadpool_limits(limits=count, user_api="blas"):
                best[count] = min(best[count], time_batches(step, n_batches))
    return best


def choose_threads(requested, saved, make_step):
    """The ThreadChoice of a run: requested (--threads) if given, else the count of the run being
    resumed (saved), else the one the user's environment sets, else the fastest measured with
    training steps from make_step() (a callable that builds one scratch step)."""
    if requested:
        effective = effective_count(requested)
        return ThreadChoice(effective, "--threads" if effective == requested else
                            f"--threads {requested}: the most this BLAS runs")
    if saved:
        return ThreadChoice(saved, "checkpoint")
    exported = [name for name in ENVIRONMENT if os.environ.get(name)]
    if exported:
        return ThreadChoice(exported_count(exported[0]), exported[0])
    counts = candidate_counts(min(usable_cores(), blas_threads()))
    if len(counts) == 1:
        return ThreadChoice(counts[0], "the only core")
    started = time.perf_counter()
    times = measure(make_step, counts)
    return ThreadChoice(fewest_nearly_fastest(times), "measured", times,
                        time.perf_counter() - started)


def fewest_nearly_fastest(times, margin=TIE_MARGIN):
    """The smallest count whose time is within margin of the fastest: threads that buy less than
    that are not worth the cores they take (and timing noise is about that size)."""
    fastest = min(times.values())
    return min(count for count, seconds in times.items() if seconds <= fastest * (1 + margin))


def scratch_step(model, X, Y, batch_size, make_optimizer, seed=0):
    """make_step for choose_threads: one training step of a copy of model (same shape, same
    dropout, its own weights, optimizer and generator) on the first batch_size rows of X, Y."""
    twin = type(model)(model.n_features, model.hidden_sizes, model.n_classes,
                       np.random.default_rng(seed), model.dtype, model.activation, model.dropout)
    optimizer = make_optimizer(twin)
    rng = np.random.default_rng(seed)
    X_batch, Y_batch = X[:batch_size], Y[:batch_size]

    def step():
        twin.forward(X_batch, rng)
        twin.backward(Y_batch)
        optimizer.step()
    return step


# ------------------------------------------------------------------ memory

# Besides the optimizer's own buffers, training keeps the weights and their gradients.
MODEL_COPIES = 2
# predict_proba evaluates this many rows at a time; the memory estimate counts their activations.
EVALUATION_CHUNK = 8192


def estimated_training_bytes(n_features, hidden_sizes, n_classes, dtype_size, optimizer="adam"):
    """(bytes that training this network needs beyond the data, roughly; its parameter count).

    The parameters, counted once for the weights, once for their gradients and
    once for each buffer of the optimizer, and the activations of an evaluation
    chunk (before and after each activation function).
    """
    widths = [n_features, *hidden_sizes, n_classes]
    n_parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(widths, widths[1:]))
    copies = MODEL_COPIES + OPTIMIZERS[optimizer].buffers
    activations = EVALUATION_CHUNK * sum(widths[1:]) * 2
    return (copies * n_parameters + activations) * dtype_size, n_parameters


def network_too_large(title, n_features, n_classes, flags, available):
    """Why the network the training flags ask for cannot be trained in the available memory, or
    None."""
    needed, n_parameters = estimated_training_bytes(n_features, flags.hidden_sizes, n_classes,
                                                    np.dtype(flags.dtype).itemsize, flags.optimizer)
    if available is None or needed <= available:
        return None
    network = network_text(n_features, flags.hidden_sizes, n_classes)
    return (f"the {title} network ({network}, {n_parameters:,} parameters) needs about "
            f"{needed / 2**30:,.1f} GiB to train and this machine has "
            f"{available / 2**30:,.1f} GiB available; expected smaller layers")


def refuse_network_too_large(title, n_features, n_classes, flags):
    """Raise DataError when the network of the training flags for data of this shape cannot be
    trained in the memory available (for a CSV, whose shape is known only once it is read)."""
    message = network_too_large(title, n_features, n_classes, flags, available_memory_bytes())
    if message:
        raise DataError(message)


def check_network_fits(kinds, flags):
    """Refuse, before anything is allocated, a network of the training flags for the data sets
    of kinds that is too large for this machine's memory."""
    available = available_memory_bytes()
    for kind in kinds:
        entry = DATASETS.get(kind)
        if entry is not None:
            message = network_too_large(entry.title, entry.n_features, entry.n_classes, flags,
                                        available)
            if message:
                raise UserError(f"argument --hidden_layers: {message}")
