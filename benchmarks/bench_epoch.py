"""Seconds per MNIST epoch: this project against Keras (and PyTorch, when installed).

Every implementation trains the same network, 784-256-64-10 with sigmoid hidden
layers and a softmax output, Glorot-uniform weights, on the same 60,000
training images in float32, with the same optimizer, learning rate and batch
size; each epoch ends with an evaluation on the 10,000 test images.

Each implementation runs in a process of its own (so no framework's idle
threads spin beside another's), and the implementations take turns for
--rounds rounds, so a slow spell of the machine hits all of them alike. The
first epoch of every process is a warm-up and is left out; the table gives the
median of the rest.

    python benchmarks/bench_epoch.py --epochs 4 --rounds 3 --batch_size 32
"""

import argparse
import importlib.util
import json
import subprocess
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from Model import Model, one_hot  # noqa: E402
from mlp.datasets import DataError, keras_cache_file, read_mnist_npz  # noqa: E402
from mlp.optimizers import optimizer_for  # noqa: E402

HIDDEN = [256, 64]


class ProjectRunner:
    name = "this project (numpy)"

    def __init__(self, data, args):
        self.X, self.Y, self.X_test, self.Y_test = data["X"], data["Y"], data["X_test"], data["Y_test"]
        self.rng = np.random.default_rng(args.seed)
        self.model = Model(784, HIDDEN, 10, self.rng)
        self.optimizer = optimizer_for(self.model, args.optimizer, args.learning_rate)
        self.batch_size = args.batch_size

    def epoch(self):
        result = self.model.fit(self.X, self.Y, self.X_test, self.Y_test, epochs=1,
                                batch_size=self.batch_size, rng=self.rng, optimizer=self.optimizer)
        return result.history["val_accuracy"][-1]


class KerasRunner:
    name = "Keras {version} (TensorFlow {tf})"

    def __init__(self, data, args):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(args.seed)
        self.name = self.name.format(version=keras.__version__, tf=tf.__version__)
        self.model = keras.Sequential([
            keras.Input((784,)),
            keras.layers.Dense(256, activation="sigmoid"),
            keras.layers.Dense(64, activation="sigmoid"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        optimizer = {
            "adam": lambda: keras.optimizers.Adam(args.learning_rate),
            "sgd": lambda: keras.optimizers.SGD(args.learning_rate),
            "momentum": lambda: keras.optimizers.SGD(args.learning_rate, momentum=0.9),
        }[args.optimizer]()
        self.model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
        self.data, self.batch_size = data, args.batch_size

    def epoch(self):
        d = self.data
        history = self.model.fit(d["X"], d["y"], batch_size=self.batch_size, epochs=1, shuffle=True,
                                 validation_data=(d["X_test"], d["y_test"]), verbose=0)
        return history.history["val_accuracy"][-1]


class TorchRunner:
    name = "PyTorch {version} (CPU)"

    def __init__(self, data, args):
        import torch

        torch.manual_seed(args.seed)
        torch.set_num_threads(os.cpu_count())
        self.torch = torch
        self.name = self.name.format(version=torch.__version__.split("+")[0])
        layers = [torch.nn.Linear(784, 256), torch.nn.Sigmoid(), torch.nn.Linear(256, 64),
                  torch.nn.Sigmoid(), torch.nn.Linear(64, 10)]
        for layer in layers[::2]:
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = {
            "adam": lambda p: torch.optim.Adam(p, lr=args.learning_rate, eps=1e-7),
            "sgd": lambda p: torch.optim.SGD(p, lr=args.learning_rate),
            "momentum": lambda p: torch.optim.SGD(p, lr=args.learning_rate, momentum=0.9),
        }[args.optimizer](self.model.parameters())
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


RUNNERS = {"project": ProjectRunner, "keras": KerasRunner, "torch": TorchRunner}


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
    print(json.dumps({"name": runner.name, "seconds": seconds, "accuracy": accuracy}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process, warm-up included")
    parser.add_argument("--rounds", type=int, default=3, help="processes per implementation, taking turns")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--optimizer", choices=("adam", "sgd", "momentum"), default="adam")
    parser.add_argument("--learning_rate", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist_path", default=keras_cache_file())
    parser.add_argument("--frameworks", nargs="+", choices=sorted(RUNNERS),
                        default=["project", "keras", "torch"])
    parser.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
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
    seconds, accuracy, names = {}, {}, {}
    for round_number in range(args.rounds):
        for key in frameworks:
            command = [sys.executable, __file__, "--worker", key, "--epochs", str(args.epochs),
                       "--batch_size", str(args.batch_size), "--optimizer", args.optimizer,
                       "--learning_rate", str(args.learning_rate),
                       "--seed", str(args.seed + round_number), "--mnist_path", args.mnist_path]
            environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            output = subprocess.run(command, capture_output=True, text=True, check=True,
                                    env=environment).stdout
            record = json.loads(output.strip().splitlines()[-1])
            names[key] = record["name"]
            seconds.setdefault(key, []).extend(record["seconds"][1:] or record["seconds"])
            accuracy.setdefault(key, []).append(record["accuracy"])
            print(f"  round {round_number + 1}: {record['name']}: "
                  + ", ".join(f"{s:.2f}" for s in record["seconds"]) + " s", flush=True)

    medians = {key: statistics.median(times) for key, times in seconds.items()}
    project = frameworks[0]
    print(f"\nMNIST, 784-256-64-10 sigmoid/softmax, {args.optimizer} at {args.learning_rate:g}, "
          f"batch {args.batch_size}, float32; {args.rounds} processes x {args.epochs} epochs each, "
          f"median of the epochs after each process's first")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}\n")
    print(f"| implementation | s/epoch (median) | {names[project]} / it | "
          f"test accuracy after {args.epochs} epochs (mean) |")
    print("|---|---|---|---|")
    for key in frameworks:
        ratio = medians[project] / medians[key]
        print(f"| {names[key]} | {medians[key]:.2f} | {ratio:.2f} | "
              f"{statistics.mean(accuracy[key]):.4f} |")


if __name__ == "__main__":
    main()
