"""Seconds per MNIST epoch at each thread count and batch size: this project against PyTorch.

Every implementation trains the same network, 784-256-64-10 with sigmoid hidden
layers and a softmax output, Glorot-uniform weights, on the same 60,000
training images in float32, with Adam at 0.001 (no dropout, no weight decay);
each epoch ends with an evaluation on the 10,000 test images.

Thread counts: 1, 2, 4, ... up to the cores, and "auto": for this project the
count it measures and chooses before training (mlp/process.py), for PyTorch its
default (one thread per core). Every (implementation, batch size, count) runs
in a process of its own, all of them taking turns for --rounds rounds, so that a
slow spell of the machine hits all alike; the first epoch of every process is a
warm-up and is left out, and the table gives the median of the rest.

    python benchmarks/bench_epoch.py --epochs 3 --rounds 2 --batch_sizes 32 128

Keras (--frameworks project torch keras) runs at its default threads only.
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mlp.datasets import DataError, keras_cache_file, read_mnist_npz  # noqa: E402
from mlp.optimizers import optimizer_for  # noqa: E402
from mlp.process import ENVIRONMENT, candidate_counts, choose_threads, scratch_step, usable_cores  # noqa: E402
from Model import Model, one_hot  # noqa: E402

HIDDEN = [256, 64]
LEARNING_RATE = 0.001
NAMES = {"project": "project", "torch": "PyTorch CPU", "keras": "Keras"}


class ProjectRunner:
    def __init__(self, data, args):
        from threadpoolctl import threadpool_limits

        self.X, self.Y = data["X"], data["Y"]
        self.X_test, self.Y_test = data["X_test"], data["Y_test"]
        self.rng = np.random.default_rng(args.seed)
        self.model = Model(784, HIDDEN, 10, self.rng)
        self.optimizer = optimizer_for(self.model, "adam", LEARNING_RATE)
        self.batch_size = args.batch_size
        if args.threads == "auto":
            choice = choose_threads(None, None, lambda: scratch_step(
                self.model, self.X, self.Y, self.batch_size,
                lambda twin: optimizer_for(twin, "adam", LEARNING_RATE)))
            self.threads, self.trial_seconds = choice.count, choice.trial_seconds
        else:
            self.threads, self.trial_seconds = int(args.threads), 0.0
        self.limits = threadpool_limits(limits=self.threads, user_api="blas")

    def epoch(self):
        result = self.model.fit(self.X, self.Y, self.X_test, self.Y_test, epochs=1,
                                batch_size=self.batch_size, rng=self.rng, optimizer=self.optimizer)
        return result.history["val_accuracy"][-1]


class TorchRunner:
    def __init__(self, data, args):
        import torch

        torch.manual_seed(args.seed)
        self.threads = usable_cores() if args.threads == "auto" else int(args.threads)
        torch.set_num_threads(self.threads)
        self.trial_seconds = 0.0
        self.version = torch.__version__.split("+")[0]
        self.torch = torch
        layers = [torch.nn.Linear(784, 256), torch.nn.Sigmoid(), torch.nn.Linear(256, 64),
                  torch.nn.Sigmoid(), torch.nn.Linear(64, 10)]
        for layer in layers[::2]:
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE, eps=1e-7)
        self.loss = torch.nn.CrossEntropyLoss()  # on the scores: softmax + log loss in one, stable
        self.X = torch.from_numpy(data["X"])
        self.y = torch.from_numpy(data["y"].astype(np.int64))
        self.X_test = torch.from_numpy(data["X_test"])
        self.y_test = torch.from_numpy(data["y_test"].astype(np.int64))
        self.batch_size = args.batch_size

    def epoch(self):
        torch = self.torch
        self.model.train()
        order = torch.randperm(len(self.X))
        X, y = self.X[order], self.y[order]
        for begin in range(0, len(X), self.batch_size):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.model(X[begin:begin + self.batch_size]),
                             y[begin:begin + self.batch_size])
            loss.backward()
            self.optimizer.step()
        self.model.eval()
        with torch.no_grad():
            return float((self.model(self.X_test).argmax(1) == self.y_test).float().mean())


class KerasRunner:
    def __init__(self, data, args):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        keras.utils.set_random_seed(args.seed)
        self.threads, self.trial_seconds = usable_cores(), 0.0
        self.model = keras.Sequential([
            keras.Input((784,)),
            keras.layers.Dense(256, activation="sigmoid"),
            keras.layers.Dense(64, activation="sigmoid"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                           loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self.data, self.batch_size = data, args.batch_size

    def epoch(self):
        d = self.data
        history = self.model.fit(d["X"], d["y"], batch_size=self.batch_size, epochs=1, shuffle=True,
                                 validation_data=(d["X_test"], d["y_test"]), verbose=0)
        return history.history["val_accuracy"][-1]


RUNNERS = {"project": ProjectRunner, "torch": TorchRunner, "keras": KerasRunner}


def load_data(path):
    x_train, y_train, x_test, y_test = read_mnist_npz(path)
    X = x_train.reshape(len(x_train), -1).astype(np.float32) / np.float32(255)
    X_test = x_test.reshape(len(x_test), -1).astype(np.float32) / np.float32(255)
    return {"X": X, "y": y_train, "Y": one_hot(y_train, 10), "X_test": X_test, "y_test": y_test,
            "Y_test": one_hot(y_test, 10)}


def available(name):
    """Whether the framework behind a runner is installed (looked up, not imported)."""
    module = {"keras": "keras", "torch": "torch"}.get(name)
    return module is None or importlib.util.find_spec(module) is not None


def run_worker(args):
    """Train one implementation for --epochs epochs; print its times and accuracy as JSON."""
    runner = RUNNERS[args.worker](load_data(args.mnist_path), args)
    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        accuracy = runner.epoch()
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "accuracy": accuracy, "threads": runner.threads,
                      "trial_seconds": runner.trial_seconds,
                      "version": getattr(runner, "version", None)}))


def configurations(frameworks, batch_sizes, cores):
    """(framework, batch size, threads) for every row and column of the table."""
    counts = [*map(str, candidate_counts(cores)), "auto"]
    for batch_size in batch_sizes:
        for framework in frameworks:
            for threads in (counts if framework != "keras" else ["auto"]):
                yield framework, batch_size, threads


def table(results, frameworks, batch_sizes, cores):
    """The markdown table: a row per implementation and batch size, a column per thread count."""
    counts = [*map(str, candidate_counts(cores)), "auto"]
    lines = ["| threads | " + " | ".join(counts[:-1]) + " | auto (chosen) |",
             "|---" * (len(counts) + 1) + "|"]
    for batch_size in batch_sizes:
        for framework in frameworks:
            cells = []
            for threads in counts:
                row = results.get(f"{framework}/{batch_size}/{threads}")
                if row is None:
                    cells.append("")
                elif threads == "auto":
                    cells.append(f"{row['median']:.2f} ({row['threads']})")
                else:
                    cells.append(f"{row['median']:.2f}")
            lines.append(f"| {NAMES[framework]}, batch {batch_size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per process, warm-up included")
    parser.add_argument("--rounds", type=int, default=2,
                        help="processes per configuration, taking turns")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist_path", default=keras_cache_file())
    parser.add_argument("--frameworks", nargs="+", choices=sorted(RUNNERS), default=["project",
                                                                                     "torch"])
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--batch_size", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args)

    try:
        read_mnist_npz(args.mnist_path)
    except DataError as error:
        sys.exit(f"bench_epoch.py: error: {error}")
    frameworks = [key for key in args.frameworks if available(key)]
    for key in set(args.frameworks) - set(frameworks):
        print(f"({key} is not installed: skipped)")
    cores = usable_cores()
    # Each worker sets its own count; an exported one would stop "auto" from measuring.
    environment = {name: value for name, value in os.environ.items() if name not in ENVIRONMENT}
    seconds, runs, versions = {}, {}, {}
    for round_number in range(args.rounds):
        for framework, batch_size, threads in configurations(frameworks, args.batch_sizes, cores):
            command = [sys.executable, __file__, "--worker", framework, "--epochs",
                       str(args.epochs),
                       "--batch_size", str(batch_size), "--threads", threads,
                       "--seed", str(args.seed + round_number), "--mnist_path", args.mnist_path]
            output = subprocess.run(command, capture_output=True, text=True, check=True,
                                    env=environment).stdout
            record = json.loads(output.strip().splitlines()[-1])
            key = f"{framework}/{batch_size}/{threads}"
            seconds.setdefault(key, []).extend(record["seconds"][1:] or record["seconds"])
            runs.setdefault(key, []).append(record)
            versions[framework] = record["version"]
            print(f"  round {round_number + 1}: {key}: threads {record['threads']}: "
                  + ", ".join(f"{s:.2f}" for s in record["seconds"]) + " s", flush=True)

    results = {key: {"median": statistics.median(times), "seconds": times,
                     "threads": statistics.mode(run["threads"] for run in runs[key]),
                     "chosen": [run["threads"] for run in runs[key]],
                     "trial_seconds": [run["trial_seconds"] for run in runs[key]],
                     "accuracy": statistics.mean(run["accuracy"] for run in runs[key])}
               for key, times in seconds.items()}
    machine = {"machine": platform.machine(), "cores": cores, "python": platform.python_version(),
               "numpy": np.__version__, "torch": versions.get("torch")}
    print(f"\nSeconds per MNIST epoch, 784-256-64-10 sigmoid/softmax, Adam at {LEARNING_RATE}, "
          f"float32; median of {args.rounds} processes x {args.epochs - 1} epochs after a warm-up")
    print(f"machine: {machine['machine']}, {cores} cores, Python {machine['python']}, numpy "
          f"{machine['numpy']}"
          + (f", PyTorch {machine['torch']}" if machine["torch"] else "") + "\n")
    print(table(results, frameworks, args.batch_sizes, cores))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump({"machine": machine, "epochs": args.epochs, "rounds": args.rounds,
                       "results": results, "table": table(results, frameworks, args.batch_sizes,
                                                          cores)},
                      stream, indent=2)
            stream.write("\n")


if __name__ == "__main__":
    main()
