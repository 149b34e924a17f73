"""Rerun the reference runs and write docs/results.json, the one file every number in
README.md and docs/ comes from (tests/test_docs.py fails when a page and the file differ).

The runs: the documented command (python Main.py --learning_rate 0.001 --epochs 30
--hidden_layers [256, 64]) with seeds 0, 1 and 2; the same with --augment and with
--patience 3 (MNIST, seed 0); Iris alone with seeds 3 and 4 (0 to 2 come with the
documented command); the benchmark (benchmarks/bench_epoch.py). The plots of the
documented command with seed 0 are copied to docs/results/. About 15 minutes on
2 cores; the benchmark wants an otherwise idle machine.

    python docs/reference_runs.py                 # everything
    python docs/reference_runs.py --skip_benchmark
    python docs/reference_runs.py --only benchmark  # only benchmarks/bench_epoch.py
    python docs/reference_runs.py --only profile  # only benchmarks/profile_step.py
    python docs/reference_runs.py --only experiment  # only README's experiment
    python docs/reference_runs.py --only search   # only README's search
    python docs/reference_runs.py --only parallel  # only benchmarks/bench_parallel.py
    python docs/reference_runs.py --only pruning   # only benchmarks/bench_pruning.py
    python docs/reference_runs.py --only fill     # no runs: rewrite the pages from the file

Every page marks what it quotes: <!-- results:NAME --> ... <!-- /results -->, and NAME is
one of everything_shown(); --only fill rewrites those blocks, and the test compares them.
"""

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "results.json")
DOCUMENTED = ["--learning_rate", "0.001", "--epochs", "30", "--hidden_layers", "[256, 64]"]
PLOTS = {"mnist": ["loss", "accuracy", "confusion_matrix", "calibration", "layer_health",
                   "misclassified", "hidden_weights"], "iris": ["loss", "accuracy",
                                                                "confusion_matrix"]}
# Kept from each metrics.json: the test numbers, how the run ended, and what it cost.
KEPT = ("test_accuracy", "test_loss", "expected_calibration_error", "status", "epochs_completed",
        "best_epoch", "train_seconds", "checkpoint_and_records_seconds", "layer_health_seconds",
        "augment_seconds", "blas_threads", "blas_threads_trial_seconds")


def main_py(*flags, output):
    """Run Main.py with flags into output; {data set: the kept part of its metrics.json} and the
    command's wall time."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    command = [sys.executable, os.path.join(ROOT, "Main.py"), *flags, "--output_dir", output]
    print("  " + " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=environment)
    wall = time.perf_counter() - started
    runs = {}
    for dataset in sorted(os.listdir(output)):
        path = os.path.join(output, dataset, "metrics.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as stream:
                metrics = json.load(stream)
            runs[dataset] = {key: metrics.get(key) for key in KEPT}
    return runs, wall


def reference_runs(skip_benchmark):
    results = {"machine": {"machine": platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version()}}
    with tempfile.TemporaryDirectory() as scratch:
        documented = {}
        for seed in (0, 1, 2):
            output = os.path.join(scratch, f"seed{seed}")
            runs, wall = main_py(*DOCUMENTED, "--seed", str(seed), output=output)
            documented[str(seed)] = dict(runs, wall_seconds=wall)
            if seed == 0:
                for dataset, names in PLOTS.items():
                    for name in names:
                        shutil.copy(os.path.join(output, dataset, f"{name}.png"),
                                    os.path.join(ROOT, "docs", "results", f"{dataset}_{name}.png"))
        results["documented"] = documented
        runs, _ = main_py(*DOCUMENTED, "--datasets", "mnist", "--augment",
                          output=os.path.join(scratch, "augment"))
        results["augment"] = runs["mnist"]
        shutil.copy(os.path.join(scratch, "augment", "mnist", "augmented.png"),
                    os.path.join(ROOT, "docs", "results", "mnist_augmented.png"))
        runs, _ = main_py(*DOCUMENTED, "--datasets", "mnist", "--patience", "3",
                          output=os.path.join(scratch, "patience"))
        results["patience"] = runs["mnist"]
        iris = {seed: documented[seed]["iris"] for seed in ("0", "1", "2")}
        for seed in (3, 4):
            runs, _ = main_py(*DOCUMENTED, "--datasets", "iris", "--seed", str(seed),
                              output=os.path.join(scratch, f"iris{seed}"))
            iris[str(seed)] = runs["iris"]
        results["iris"] = iris
    if not skip_benchmark:
        results["benchmark"] = benchmark()
    return results


EXPERIMENT = ["--datasets", "mnist", "--learning_rate", "0.01", "0.001", "0.0001", "--epochs", "10"]


def experiment():
    """README's experiment: its comparison table's rows (without the folders, which were
    temporary), and its picture copied to docs/results/experiment_mnist.png."""
    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "experiment")
        main_py(*EXPERIMENT, output=output)
        shutil.copy(os.path.join(output, "comparison_mnist.png"),
                    os.path.join(ROOT, "docs", "results", "experiment_mnist.png"))
        with open(os.path.join(output, "comparison_mnist.csv"), encoding="utf-8") as stream:
            rows = [{key: value for key, value in row.items() if key != "folders"}
                    for row in csv.DictReader(stream)]
    return {"command": "python Main.py " + " ".join(EXPERIMENT), "rows": rows}


# README's search: the pruning benchmark's search (benchmarks/bench_pruning.py), seed 0, with
# the default pruner.
SEARCH = ["--datasets", "mnist", "--hidden_layers", "[64]", "--batch_size", "128",
          "--learning_rate", "1e-4..1e-1", "--dropout", "0..0.5", "--epochs", "27", "--trials",
          "16", "--jobs", "1", "--threads", "1"]


def search():
    """README's search: what its trials trained, its best trial, and its comparison picture
    copied to docs/results/search_mnist.png."""
    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "search")
        main_py(*SEARCH, output=output)
        shutil.copy(os.path.join(output, "comparison_mnist.png"),
                    os.path.join(ROOT, "docs", "results", "search_mnist.png"))
        trials = []
        for name in sorted(os.listdir(output)):
            path = os.path.join(output, name, "mnist", "metrics.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as stream:
                    metrics = json.load(stream)
                accuracies = metrics["history"]["val_accuracy"]
                trials.append({key: metrics[key] for key in ("status", "epochs_completed")}
                              | {"best_val_accuracy": max(accuracies, default=None),
                                 "learning_rate": metrics["learning_rate"],
                                 "dropout": metrics["dropout"]})
    return {"command": "python Main.py " + " ".join(SEARCH), "trials": trials}


def parallel():
    """benchmarks/bench_parallel.py: two MNIST runs at once against one alone."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "parallel.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_parallel.py"),
                        "--runs", "2", "--epochs", "3", "--rounds", "3", "--json", path],
                       check=True, env=quiet_environment())
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)


def pruning():
    """benchmarks/bench_pruning.py: the same MNIST search with each pruner."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "pruning.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_pruning.py"),
                        "--trials", "16", "--epochs", "27", "--batch_size", "128", "--seeds",
                        "0", "1", "2", "3", "4", "--json", path],
                       check=True, env=quiet_environment())
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)


def benchmark():
    """benchmarks/bench_epoch.py's table: the project and PyTorch at every thread count."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "bench.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_epoch.py"),
                        "--epochs", "3", "--rounds", "5", "--json", path], check=True,
                       env=quiet_environment())
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)


# ----------------------------------------------------------- what the pages show

def percent(value):
    return f"{100 * value:.2f}%"


def mean(values):
    return statistics.mean(values)


def render(results):
    """{name: markdown text} of every table and number the pages quote from the results."""
    documented = results["documented"]
    seeds = sorted(documented)
    mnist = [documented[seed]["mnist"] for seed in seeds]
    iris = [results["iris"][seed] for seed in sorted(results["iris"])]
    seed0 = documented["0"]
    train = seed0["mnist"]["train_seconds"]
    shown = {
        "mnist_table": "\n".join(
            ["| seed | test accuracy | test loss | calibration error | BLAS threads |",
             "|---|---|---|---|---|"]
            + [f"| {seed} | {percent(run['test_accuracy'])} | {run['test_loss']:.4f} | "
               f"{run['expected_calibration_error']:.4f} | {run['blas_threads']} |"
               for seed, run in zip(seeds, mnist)]
            + [f"| mean | {percent(mean(r['test_accuracy'] for r in mnist))} | "
               f"{mean(r['test_loss'] for r in mnist):.4f} | "
               f"{mean(r['expected_calibration_error'] for r in mnist):.4f} | |"]),
        "iris_accuracies": ", ".join(f"{100 * run['test_accuracy']:.1f}" for run in iris)
                           + f"% (mean {100 * mean(r['test_accuracy'] for r in iris):.1f}%)",
        "wall_seconds": f"{documented['0']['wall_seconds']:.0f} s",
        "machine": (f"a {results['machine']['cores']}-core {results['machine']['machine']} "
                    f"machine, Python {results['machine']['python']}"),
        "augment": f"{percent(results['augment']['test_accuracy'])}, test loss "
                   f"{results['augment']['test_loss']:.4f}",
        "augment_cost": percent(results["augment"]["augment_seconds"]
                                / results["augment"]["train_seconds"]),
        "patience": f"stopped after epoch {results['patience']['epochs_completed']} and kept epoch "
                    f"{results['patience']['best_epoch']}'s weights: "
                    f"{percent(results['patience']['test_accuracy'])}, test loss "
                    f"{results['patience']['test_loss']:.4f}",
        "records_cost": percent(seed0["mnist"]["checkpoint_and_records_seconds"] / train),
        "health_cost": percent(seed0["mnist"]["layer_health_seconds"] / train),
        "trial_cost": percent(seed0["mnist"]["blas_threads_trial_seconds"] / train),
    }
    if "profile" in results:
        parts = {key: value for key, value in results["profile"].items() if isinstance(value, dict)}
        counts = sorted({count for value in parts.values() for count in value}, key=int)
        shown["profile_table"] = "\n".join(
            ["| batch | part | "
             + " | ".join(f"{count} thread{'s' * (count != '1')}" for count in counts) + " |",
             "|---|---|" + "---|" * len(counts)]
            + [f"| {key.split('/')[0]} | {key.split('/')[1]} | "
               + " | ".join(f"{value[count]:.3f}" for count in counts) + " |"
               for key, value in parts.items()])
        profile = results["profile"]
        shown["split_sigmoid"] = "; ".join(
            f"batch {batch}: {profile[f'{batch}/sigmoid alone']:.3f} ms alone, "
            + ", ".join(f"{profile[f'{batch}/split sigmoid/{count}']:.3f} ms on {count} threads"
                        for count in counts[1:])
            for batch in (32, 128, 1024))
    if "experiment" in results:
        rows = results["experiment"]["rows"]
        varied = list(rows[0])[:list(rows[0]).index("best_val_accuracy")]
        shown["experiment_table"] = "\n".join(
            ["| " + " | ".join(name.replace("_", " ") for name in varied)
             + " | best validation accuracy (epoch) | last validation loss | test accuracy |",
             "|---" * (len(varied) + 3) + "|"]
            + ["| " + " | ".join(row[name] for name in varied)
               + f" | {float(row['best_val_accuracy']):.4f} ({float(row['best_epoch']):.0f}) | "
               f"{float(row['last_val_loss']):.4f} | {float(row['test_accuracy']):.4f} |"
               for row in rows])
    if "parallel" in results:
        run = results["parallel"]
        shown["parallel"] = (
            f"{run['runs']} MNIST runs of {run['epochs']} epochs at once took "
            f"{run['ratio']:.2f} times one run alone (median of {run['rounds']} rounds: "
            f"{statistics.median(run['together_seconds']):.1f} s against "
            f"{statistics.median(run['alone_seconds']):.1f} s, whole commands, on "
            f"{run['machine']['cores']} cores)")
    if "search" in results:
        trials = results["search"]["trials"]
        best = max(trials, key=lambda trial: trial["best_val_accuracy"] or 0.0)
        pruned = [trial for trial in trials if trial["status"] == "pruned"]
        words = results["search"]["command"].split()
        epochs = int(words[words.index("--epochs") + 1])
        rungs = sorted({trial["epochs_completed"] for trial in pruned})
        shown["search_summary"] = (
            f"{len(trials)} trials: the pruner stopped {len(pruned)} of them after "
            f"{' or '.join(map(str, rungs))} epochs, so they trained "
            f"{sum(trial['epochs_completed'] for trial in trials)} epochs of the "
            f"{len(trials) * epochs} that {len(trials)} full runs would; the best, "
            f"learning rate {best['learning_rate']:.3g} and dropout {best['dropout']:.2f}, "
            f"reached a validation accuracy of {best['best_val_accuracy']:.2%}")
    if "pruning" in results:
        run = results["pruning"]
        none = run["pruners"]["none"]
        seeds = list(none)

        def total(entry, key):
            return sum(entry[seed][key] for seed in seeds)

        def shortfalls(entry):
            return [none[seed]["best_val_accuracy"] - entry[seed]["best_val_accuracy"]
                    for seed in seeds]

        default = run["pruners"]["asha"]
        epochs = [default[seed]["epochs_trained"] for seed in seeds]
        below = shortfalls(default)
        worst = seeds[below.index(max(below))]
        share = total(default, "epochs_trained") / total(none, "epochs_trained")
        full = run["trials"] * run["epochs"]     # the epochs of one search without pruning
        shown["pruning_default"] = (
            f"it trained {share:.0%} of the epochs (at most {max(epochs) / full:.0%} on any seed: "
            f"{min(epochs)} to {max(epochs)} of {full}), and its best was "
            f"{statistics.mean(below) * 100:.2f} points below on the mean, "
            f"{max(below) * 100:.2f} at most (seed {worst}, about "
            f"{round(max(below) * 6000)} of the 6,000 validation images)")
        if "pruning_first_rung_1" in results:
            first = results["pruning_first_rung_1"]["pruners"]["asha"]
            compared = [seed for seed in seeds if seed in first]
            short = [none[seed]["best_val_accuracy"] - first[seed]["best_val_accuracy"]
                     for seed in compared]
            trained = sum(first[seed]["epochs_trained"] for seed in compared)
            shown["pruning_first_rung_1"] = (
                f"`asha` trained {trained / (full * len(compared)):.0%} of the epochs of seeds "
                f"{compared[0]}-{compared[-1]} but fell "
                f"{max(short) * 100:.2f} points short")
        hyperband = run["pruners"]["hyperband"]
        shown["pruning_choice"] = (
            f"`asha` trained {share:.0%} of the epochs and its best was "
            f"{statistics.mean(below) * 100:.2f} points below no pruning on the mean "
            f"(`hyperband`: "
            f"{total(hyperband, 'epochs_trained') / total(none, 'epochs_trained'):.0%} and "
            f"{statistics.mean(shortfalls(hyperband)) * 100:.2f})")
        shown["pruning_table"] = "\n".join(
            [f"`{run['command']} --seed SEED --pruner PRUNER`, seeds {', '.join(seeds)} "
             f"({run['machine']['cores']} cores, {run['machine']['machine']}):", "",
             "| pruner | epochs trained | share of no pruning | trials pruned | best validation "
             "accuracy, seed by seed | below no pruning: most, mean |",
             "|---|---|---|---|---|---|"]
            + [f"| {name} | {total(entry, 'epochs_trained')} | "
               f"{total(entry, 'epochs_trained') / total(none, 'epochs_trained'):.0%} | "
               f"{total(entry, 'pruned')} of {run['trials'] * len(seeds)} | "
               + ", ".join(f"{entry[seed]['best_val_accuracy']:.4f}" for seed in seeds)
               + f" | {max(shortfalls(entry)) * 100:.2f}, "
               f"{statistics.mean(shortfalls(entry)) * 100:.2f} points |"
               for name, entry in run["pruners"].items()])
    if "mutation_sample" in results:
        sample = results["mutation_sample"]
        detected = (sample["killed"] + sample["killed_by_slow_tests"]
                    + sample["killed_by_later_tests"])
        changing = sample["sampled"] - sample["equivalent"]
        low, high = wilson(detected, changing)
        shown["mutation_sample"] = (
            f"A random sample of {sample['sampled']} of the {sample['population']:,} mutants "
            f"{sample['tool']} makes of {', '.join(sample['files'])}, each run against the "
            f"tests without the slow ones (on {sample['machine']}): {sample['killed']} killed, "
            f"{sample['sampled'] - sample['killed']} survived. Of the survivors, "
            f"{sample['killed_by_slow_tests']} is killed by the slow tests, "
            f"{sample['killed_by_later_tests']} by tests written after the run "
            f"(each checked by applying the mutant by hand), {sample['equivalent']} are "
            f"equivalent, and {changing - detected} change behaviour no test sees: "
            f"**{detected / changing:.1%} of the {changing} that change behaviour** (95% "
            f"interval {low:.1%} to {high:.1%}, Wilson's)")
    if "many_cores" in results:
        many = results["many_cores"]
        shown["many_cores_table"] = "\n".join(
            [f"On {many['machine']}: {many['how']}.", "",
             "| BLAS threads | " + " | ".join(map(str, many["counts"])) + " |",
             "|---|" + "---|" * len(many["counts"])]
            + [f"| {name} | " + " | ".join(f"{low:.2f}-{high:.2f}" if cell else ""
                                           for cell in cells for low, high in [cell or (0, 0)])
               + " |" for name, cells in many["rows"].items()])
    if "pythons" in results:
        pythons = results["pythons"]
        shown["pythons_table"] = "\n".join(
            [f"Measured by `tools/test_pythons.py` on {pythons['machine']}, {pythons['date']}:", "",
             "| Python | what `pip install -r requirements.txt` installs | `python -m pytest` |",
             "|---|---|---|"]
            + [f"| {python} | {installs} | {tests} |" for python, installs,
               tests in pythons["rows"]])
    if "mutation" in results:
        mutation = results["mutation"]
        survivors = mutation["survivors"]
        changing = mutation["mutants"] - survivors["appearance_only"] - survivors["equivalent"]
        detected = mutation["killed"] + mutation["timeout"]
        shown["mutation_score"] = (
            f"Measured with {mutation['tool']} on {mutation['machine']} (about "
            f"{mutation['minutes']} minutes): {mutation['mutants']} mutants; {mutation['killed']} "
            f"killed, {mutation['timeout']} timed out (detected), {mutation['survived']} survived: "
            f"**{detected / mutation['mutants']:.1%} of all mutants, "
            f"{detected / changing:.1%} of the {changing} that change behaviour**. Of the "
            f"survivors, {survivors['appearance_only']} change only how a plot looks, "
            f"{survivors['equivalent']} are equivalent, and {survivors['behaviour']} change "
            f"behaviour no test here can see:")
    if "benchmark" in results:
        bench = results["benchmark"]
        rows = bench["results"]
        shown["auto_against_best"] = "; ".join(
            f"batch {batch}: {rows[f'project/{batch}/auto']['median']:.2f} s against "
            f"{best_fixed(rows, batch):.2f} s"
            for batch in sorted({int(key.split('/')[1]) for key in rows}))
        machine = bench["machine"]
        shown["benchmark_table"] = (f"{machine['cores']} cores ({machine['machine']}), "
                                    f"numpy {machine['numpy']}, PyTorch "
                                    f"{machine['torch']}; seconds per epoch, median of "
                                    f"{bench['rounds']} processes x {bench['epochs'] - 1} epochs"
                                    "\n\n" + bench["table"])
    return shown


def tuning_table(name):
    """The table a docs/tune_regularisation.py run wrote into docs/NAME, as markdown."""
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as stream:
        rows = json.load(stream)["table"]
    pixels = any(row.get("augment_pixels") for row in rows)
    head = "| weight decay | dropout |" + (" largest shift |" if pixels else "")
    lines = [head + " mean validation loss | mean validation accuracy |",
             "|---" * (4 + pixels) + "|"]
    for row in rows:
        lines.append(f"| {row['weight_decay']:g} | {row['dropout']:g} |"
                     + (f" {row['augment_pixels']} |" if pixels else "")
                     + f" {row['mean_val_loss']:.4f} | {row['mean_val_accuracy']:.4f} |")
    return "\n".join(lines)


def wilson(successes, trials, z=1.96):
    """The Wilson score interval (low, high) of a proportion of successes in trials."""
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (
        1 + z * z / trials)
    return centre - spread, centre + spread


def everything_shown():
    """render() of docs/results.json, with the tuning tables: what the pages must show."""
    with open(RESULTS, encoding="utf-8") as stream:
        shown = render(json.load(stream))
    shown.update(tuning_mnist=tuning_table("regularisation_mnist.json"),
                 tuning_augment=tuning_table("augment_mnist.json"))
    return shown


def fill_pages():
    """Rewrite every <!-- results:NAME --> ... <!-- /results --> block of README.md and docs/*.md
    with what everything_shown() says it must hold."""
    import re

    shown = everything_shown()
    for path in pages():
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        filled = re.sub(r"<!-- results:(\w+) -->(.*?)<!-- /results -->",
                        lambda match: block(match.group(1), shown[match.group(1)], match.group(2)),
                        text, flags=re.S)
        if filled != text:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(filled)


def block(name, text, old):
    """A results block: on lines of its own when it was written so (a table), else inline."""
    if old.startswith("\n"):
        return f"<!-- results:{name} -->\n{text}\n<!-- /results -->"
    return f"<!-- results:{name} -->{text}<!-- /results -->"


def pages():
    """README.md and every page in docs/."""
    docs = os.path.join(ROOT, "docs")
    return [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(docs, name) for name in os.listdir(docs) if name.endswith(".md"))


def profile():
    """benchmarks/profile_step.py's measurements."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "profile.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "profile_step.py"), path],
                       check=True, capture_output=True, env=quiet_environment())
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)


def quiet_environment():
    return {name: value for name, value in os.environ.items()
            if name not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}


def best_fixed(rows, batch):
    """The project's fastest median at a fixed thread count, at this batch size."""
    return min(row["median"] for key, row in rows.items()
               if key.startswith(f"project/{batch}/") and not key.endswith("/auto"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip_benchmark", action="store_true",
                        help="keep the benchmark of the results file as it is")
    parser.add_argument("--only", choices=("benchmark", "profile", "experiment", "search",
                                            "parallel", "pruning", "fill"),
                        help="benchmark, profile, experiment, search, parallel or pruning: rerun "
                             "only "
                             "that; fill: rerun nothing, only rewrite the pages' results blocks "
                             "from docs/results.json")
    args = parser.parse_args()
    earlier = {}
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as stream:
            earlier = json.load(stream)
    if args.only == "fill":
        results = earlier
    elif args.only == "profile":
        results = dict(earlier, profile=profile())
    elif args.only == "benchmark":
        results = dict(earlier, benchmark=benchmark())
    elif args.only == "experiment":
        results = dict(earlier, experiment=experiment())
    elif args.only == "parallel":
        results = dict(earlier, parallel=parallel())
    elif args.only == "pruning":
        results = dict(earlier, pruning=pruning())
    elif args.only == "search":
        results = dict(earlier, search=search())
    else:
        results = reference_runs(args.skip_benchmark)
        results["profile"] = profile()
        results["experiment"] = experiment()
        results["search"] = search()
        if args.skip_benchmark and "benchmark" in earlier:
            results["benchmark"] = earlier["benchmark"]
        for kept in ("many_cores", "mutation", "mutation_sample", "pythons", "parallel",
                     "pruning", "pruning_first_rung_1"):  # measured apart; kept
            if kept in earlier:
                results[kept] = earlier[kept]
    with open(RESULTS, "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=2)
        stream.write("\n")
    fill_pages()


if __name__ == "__main__":
    main()
