"""How well an experiment's runs share the cores: N MNIST runs at once against one run alone.

Each round times, in turn, one run alone (--threads 1) and an experiment of N runs (--seed
0..N-1, --jobs N, each with one BLAS thread), both whole commands from start to exit; the
rounds alternate the two so that a neighbour's load falls on both. Efficiency is the time of
one run alone over the experiment's: 1.0 means N runs took the time of one.

    python benchmarks/bench_parallel.py --runs 2 --epochs 3 --rounds 3 [--json FILE]

MNIST comes from --mnist_path, or Keras's cache as Main.py finds it.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(flags, folder):
    """Seconds Main.py takes with flags into a new folder under folder."""
    output = tempfile.mkdtemp(dir=folder)
    started = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "Main.py"), *flags, "--output_dir",
                    output], check=True, capture_output=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs at once (default: 2)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mnist_path", default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    common = ["--datasets", "mnist", "--epochs", str(args.epochs)]
    if args.mnist_path:
        common += ["--mnist_path", args.mnist_path]
    alone, together = [], []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            alone.append(timed(common + ["--threads", "1"], folder))
            together.append(timed(common + ["--seed", *map(str, range(args.runs)), "--jobs",
                                            str(args.runs)], folder))
            print(f"round {round_ + 1}: one run alone {alone[-1]:.1f} s, {args.runs} at once "
                  f"{together[-1]:.1f} s", flush=True)
    results = {"machine": {"machine": platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version()},
               "runs": args.runs, "epochs": args.epochs, "rounds": args.rounds,
               "alone_seconds": alone, "together_seconds": together,
               "ratio": statistics.median(together) / statistics.median(alone)}
    print(f"{args.runs} runs at once took {results['ratio']:.2f} times one run alone "
          f"(medians {statistics.median(together):.1f} and {statistics.median(alone):.1f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)


if __name__ == "__main__":
    main()
