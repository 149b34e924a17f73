"""How many threads numpy's BLAS (the matrix products) trains with: chosen by measuring.

numpy's BLAS starts one thread per core, but the products of a small network
on a small batch are too small for many threads to share: on 16 cores the
documented network trains faster on 4 threads than on 16 (docs/speed.md).
So before training, a few dozen real batches are timed at 1, 2, 4, ... threads
on a scratch copy of the network, and the fastest count trains. The trial's
batches are not training steps: the run's model, optimizer and generator are
untouched. threadpoolctl sets the count at run time, as scikit-learn does.

The count changes the rounding of the products, so the same seed gives the
same numbers only at the same count: --threads N fixes it, the checkpoint
keeps it for --resume, and metrics.json records it. A count the user chose by
exporting OMP_NUM_THREADS or OPENBLAS_NUM_THREADS is left as it is.
"""

import os
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

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

    def record(self):
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
