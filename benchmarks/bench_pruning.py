"""What pruning saves: the same search of MNIST with each of --pruner's choices.

Each pruner runs the same command (16 trials drawn by the seeded TPE sampler from a learning
rate and a dropout range, one trial at a time so that every search is repeatable) and the
script counts the epochs its trials trained, the trials it pruned, and the best validation
accuracy it found. A pruner earns its place when it trains far fewer epochs and finds about
as good a network as the search without one.

    python benchmarks/bench_pruning.py --trials 16 --epochs 27 --seeds 0 1 2 3 4 [--json FILE]

MNIST comes from --mnist_path, or Keras's cache as Main.py finds it.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRUNERS = ("none", "asha", "hyperband", "median")


def search(pruner, seed, args, folder):
    """(seconds, {trial folder: metrics.json}) of the search with this pruner and seed."""
    output = os.path.join(folder, f"{pruner}-{seed}")
    started = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "Main.py"), *command(args), "--seed",
                    str(seed), "--pruner", pruner, "--output_dir", output], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    trials = {}
    for name in sorted(os.listdir(output)):
        path = os.path.join(output, name, "mnist", "metrics.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                trials[name] = json.load(stream)
    return seconds, trials


def command(args):
    """The search's flags, but for its pruner and folder."""
    return ["--datasets", "mnist", *(["--mnist_path", args.mnist_path] if args.mnist_path else []),
            "--hidden_layers", "[64]", "--batch_size", str(args.batch_size),
            "--learning_rate", "1e-4..1e-1",
            "--dropout", "0..0.5", "--epochs", str(args.epochs), "--trials", str(args.trials),
            "--jobs", "1", "--threads", "1"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--mnist_path", default=None)
    parser.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                        help="each search's --seed (its sampler's and its runs')")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    results = {"machine": {"machine": platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version()},
               "command": "python Main.py " + " ".join(
                   flag for flag in command(args) if flag != args.mnist_path
                   and flag != "--mnist_path"),
               "trials": args.trials, "epochs": args.epochs, "pruners": {}}
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:  # (seeds outside, pruners inside: a neighbour's load shared)
            for pruner in args.pruners:
                seconds, trials = search(pruner, seed, args, folder)
                results["pruners"].setdefault(pruner, {})[str(seed)] = {
                    "seconds": seconds,
                    "epochs_trained": sum(m["epochs_completed"] for m in trials.values()),
                    "pruned": sum(m["status"] == "pruned" for m in trials.values()),
                    "best_val_accuracy": max(max(m["history"]["val_accuracy"], default=0.0)
                                             for m in trials.values())}
                print(pruner, seed, results["pruners"][pruner][str(seed)], flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)


if __name__ == "__main__":
    main()
