"""Choose the default --weight_decay and --dropout on the validation split, never the test set.

Trains the documented network (python Main.py --learning_rate 0.001 --epochs 30
--hidden_layers [256, 64]) on one data set for every pair of the grid and
every seed, two runs at a time, each in its own process on one core, and
records each run's validation loss and accuracy after its last epoch (the
weights a run keeps). The test metrics the runs also compute are not read.
Writes docs/regularisation_<dataset>.json and prints the table, sorted by the
mean validation loss over the seeds.

    python docs/tune_regularisation.py --dataset mnist --seeds 0 1 2
    python docs/tune_regularisation.py --dataset iris --seeds 0 1 2 3 4
    python docs/tune_regularisation.py --weight_decays 0.05 --dropouts 0.1 --augment_pixels 1 2 3
"""

import argparse
import concurrent.futures
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTED = ["--learning_rate", "0.001", "--epochs", "30", "--hidden_layers", "[256, 64]"]


def train(dataset, weight_decay, dropout, pixels, seed, extra):
    """Validation loss and accuracy after the last epoch of one run (pixels: --augment's, or 0)."""
    with tempfile.TemporaryDirectory() as output:
        augment = ["--augment", "--augment_pixels", str(pixels)] if pixels else []
        command = [sys.executable, os.path.join(ROOT, "Main.py"), *DOCUMENTED, "--datasets",
                   dataset,
                   "--weight_decay", str(weight_decay), "--dropout", str(dropout), *augment,
                   "--seed", str(seed), "--output_dir", output, *extra]
        environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                           MKL_NUM_THREADS="1")
        subprocess.run(command, check=True, capture_output=True, env=environment)
        with open(os.path.join(output, dataset, "metrics.json"), encoding="utf-8") as stream:
            history = json.load(stream)["history"]
    return {"weight_decay": weight_decay, "dropout": dropout, "augment_pixels": pixels,
            "seed": seed,
            "val_loss": history["val_loss"][-1], "val_accuracy": history["val_accuracy"][-1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weight_decays", type=float, nargs="+", default=[0, 0.02, 0.05, 0.1])
    parser.add_argument("--dropouts", type=float, nargs="+", default=[0, 0.1, 0.2])
    parser.add_argument("--augment_pixels", type=int, nargs="+", default=[0],
                        help="--augment's largest shift to try; 0 is no augmentation")
    parser.add_argument("--workers", type=int, default=2)
    args, extra = parser.parse_known_args()  # anything else goes to Main.py (--mnist_path ...)

    grid = list(itertools.product(args.weight_decays, args.dropouts, args.augment_pixels,
                                  args.seeds))
    runs = []
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        for run in pool.map(lambda point: train(args.dataset, *point, extra), grid):
            runs.append(run)
            print(f"  weight decay {run['weight_decay']:g}, dropout {run['dropout']:g}, augment "
                  f"{run['augment_pixels']}, seed {run['seed']}: val_loss {run['val_loss']:.4f}, "
                  f"val_accuracy {run['val_accuracy']:.4f}", flush=True)

    def setting(run):
        return run["weight_decay"], run["dropout"], run["augment_pixels"]

    table = []
    for (weight_decay, dropout, pixels), group in itertools.groupby(sorted(runs, key=setting),
                                                                     key=setting):
        group = list(group)
        table.append({"weight_decay": weight_decay, "dropout": dropout, "augment_pixels": pixels,
                      "mean_val_loss": statistics.mean(r["val_loss"] for r in group),
                      "mean_val_accuracy": statistics.mean(r["val_accuracy"] for r in group),
                      "val_loss_per_seed": [r["val_loss"] for r in group]})
    table.sort(key=lambda row: row["mean_val_loss"])
    name = "augment" if args.augment_pixels != [0] else "regularisation"
    path = os.path.join(ROOT, "docs", f"{name}_{args.dataset}.json")
    with open(path, "w", encoding="utf-8") as stream:
        json.dump({"dataset": args.dataset, "seeds": args.seeds, "command": DOCUMENTED,
                   "table": table, "runs": runs}, stream, indent=2)
    print(f"\n{args.dataset}, seeds {args.seeds}, sorted by mean validation loss (last epoch):")
    print("| weight decay | dropout | augment pixels | mean val loss | mean val accuracy |")
    print("|---|---|---|---|---|")
    for row in table:
        print(f"| {row['weight_decay']:g} | {row['dropout']:g} | {row['augment_pixels'] or '-'} | "
              f"{row['mean_val_loss']:.4f} | {row['mean_val_accuracy']:.4f} |")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
