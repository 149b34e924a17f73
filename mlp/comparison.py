"""Runs side by side: one picture and one table per data set, from the runs' records alone.

The comparison (an experiment's, or --compare FOLDER...) only reads metrics.json
files, so runs made anywhere compare the same way. The values that differ between
a data set's runs name its lines and rows; runs that differ only in their seed are
one setting (their mean, and their spread as a band and a standard deviation).
Runs are ordered by validation accuracy: the test set is reported, never used to
choose.
"""

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from mlp.diagnostics import new_figure
from mlp.errors import DataError
from mlp.files import csv_text, make_folder, save_text, say, write_atomically
from mlp.flags import EXPERIMENT_FLAGS
from mlp.record import (
    COMPLETED,
    FINISHED,
    INTERRUPTED,
    RECORD_FILE,
    RUNNING,
    read_record,
    setting_text,
    status_words,
)
from Model import HISTORY_KEYS

# The settings that name a run, in this order; a run's other keys are its results.
SETTINGS = EXPERIMENT_FLAGS + ("dtype", "validation_split", "patience", "augment",
                               "augment_pixels", "target")
LABELS = {"hidden_layers": "hidden", "learning_rate": "lr", "batch_size": "batch",
          "lr_schedule": "schedule", "weight_decay": "weight decay"}
SEARCH_DEPTH = 3       # folders below a --compare FOLDER searched for runs


@dataclass
class ComparedRun:
    """What the comparison reads of one run's metrics.json."""
    path: str
    kind: str
    title: str
    settings: dict
    status: str
    history: dict
    test_loss: object
    test_accuracy: object
    seconds: float
    n_val: object = None

    @property
    def finished(self):
        return self.status in FINISHED

    @property
    def best_epoch(self):
        accuracy = self.history["val_accuracy"]
        return int(np.argmax(accuracy)) + 1 if accuracy else None

    @property
    def best_val_accuracy(self):
        return max(self.history["val_accuracy"], default=math.nan)

    @property
    def last_val_loss(self):
        return self.history["val_loss"][-1] if self.history["val_loss"] else math.nan


def read_run(path):
    """The ComparedRun of the metrics.json at path; DataError naming the field that is wrong."""
    record = read_record(path)
    settings = record.settings.to_json()
    return ComparedRun(path=path, kind=record.kind,
                       title=record.data.title if record.data else record.kind,
                       settings={name: settings[name] for name in SETTINGS if name in settings},
                       status=record.result.status,
                       history={name: record.result.history[name] for name in HISTORY_KEYS},
                       test_loss=record.measures.get("test_loss"),
                       test_accuracy=record.measures.get("test_accuracy"),
                       seconds=record.train_seconds, n_val=record.n_val)


def metrics_files(folder, depth=SEARCH_DEPTH):
    """The metrics.json files in folder and the folders below it, up to depth levels, sorted."""
    found, folder = [], os.fspath(folder)
    for root, folders, files in os.walk(folder):
        folders.sort()
        if root[len(folder):].count(os.sep) >= depth:
            folders.clear()
        if RECORD_FILE in files:
            found.append(os.path.join(root, RECORD_FILE))
    return found


def find_runs(folders):
    """Every run in the folders (a run's own folder, or any folder above runs), read; DataError
    for a folder that holds none."""
    runs = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise DataError(f"argument --compare: {folder}: no such folder; expected a run's or "
                            f"an experiment's folder")
        folder = os.fspath(folder)
        paths = metrics_files(folder)
        if not paths:
            raise DataError(f"argument --compare: {folder} holds no run (no {RECORD_FILE} in it or "
                            f"{SEARCH_DEPTH} folders below); expected a run's or an "
                            f"experiment's folder")
        runs += [read_run(path) for path in paths]
    return runs


@dataclass
class Group:
    """One setting of the comparison, one line of the picture and one row of the table: the runs
    that share these values (with several seeds, one run per seed)."""
    values: dict
    runs: list

    def label(self):
        """Its values in words; where no value differs between the runs, its run's folder."""
        return ", ".join(f"{LABELS.get(name, name)} {setting_text(value)}"
                         for name, value in self.values.items()) or os.path.dirname(
                             self.runs[0].path)

    def mean(self, read):
        numbers = [read(run) for run in self.runs if read(run) is not None]
        return float(np.mean(numbers)) if numbers else math.nan

    def std(self, read):
        numbers = [read(run) for run in self.runs if read(run) is not None]
        return float(np.std(numbers)) if len(numbers) > 1 else math.nan

    @property
    def finished(self):
        return all(run.finished for run in self.runs)

    def status(self):
        """How its runs ended, where not all completed: "unfinished", "diverged", ...; "" when
        every run completed."""
        ended = ["unfinished" if run.status in (RUNNING, INTERRUPTED) else status_words(run.status)
                 for run in self.runs if run.status != COMPLETED]
        return ", ".join(dict.fromkeys(ended))


def groups_of(runs):
    """The runs of one data set as Groups, by the values that differ between them (the seed
    aside: runs that differ only in it are one Group), best validation accuracy first."""
    differ = [name for name in SETTINGS
              if len({json.dumps(run.settings.get(name)) for run in runs}) > 1]
    named = [name for name in differ if name != "seed"]
    groups = {}
    for run in runs:
        values = {name: run.settings.get(name) for name in named}
        key = json.dumps(values) if "seed" in differ else run.path
        groups.setdefault(key, Group(values, []))
        groups[key].runs.append(run)
    return sorted(groups.values(), key=lambda group: (
        -np.nan_to_num(group.mean(lambda run: run.best_val_accuracy), nan=-1.0),
        np.nan_to_num(group.mean(lambda run: run.last_val_loss), nan=np.inf)))


# Each result of the table: its column in the CSV, its heading as printed, the digits printed,
# and how it is read of a run.
COLUMNS = (("best_val_accuracy", "best val_acc", 4, lambda run: run.best_val_accuracy),
           ("best_epoch", "epoch", 0, lambda run: run.best_epoch),
           ("last_val_loss", "val_loss", 4, lambda run: run.last_val_loss),
           ("test_accuracy", "test_acc", 4, lambda run: run.test_accuracy),
           ("test_loss", "test_loss", 4, lambda run: run.test_loss),
           ("seconds", "seconds", 1, lambda run: run.seconds))


def table_rows(groups):
    """The table as rows of (column, value): the values, then each result's mean (and standard
    deviation over seeds), the runs' count, and whether all finished."""
    seeds = any(len(group.runs) > 1 for group in groups)
    rows = []
    for group in groups:
        row = {name: setting_text(value) for name, value in group.values.items()}
        for name, _, _, read in COLUMNS:
            row[name] = group.mean(read)
            if seeds:
                row[name + "_std"] = group.std(read)
        row.update(runs=len(group.runs), finished=group.finished,
                   status=group.status(),
                   folders=" ".join(os.path.dirname(run.path) for run in group.runs))
        rows.append(row)
    return rows


def table_csv(rows):
    """comparison_<kind>.csv's text: the table's rows (dicts) under their columns' names."""
    return csv_text(([row[name] for name in rows[0]] for row in rows), list(rows[0]))


def plot_comparison(groups, title, n_val=None):
    """A Figure of validation loss and accuracy per epoch, one line per Group (the mean over
    its runs, with the band from the lowest to the highest where it has several); the legend
    says how a setting's runs ended where not all completed, and names one that finished no
    epoch (a line-less entry)."""
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    # matplotlib's ten colours, repeated past ten settings: then 20 (tab20), or a scale
    colours = ([None] * len(groups) if len(groups) <= 10
               else [colormaps["tab20"](index) for index in range(len(groups))]
               if len(groups) <= 20
               else [colormaps["turbo"](index / (len(groups) - 1)) for index in range(len(groups))])
    figure = new_figure(11, 4.6)
    axes = figure.subplots(1, 2)
    longest = max((len(run.history["val_loss"]) for group in groups for run in group.runs),
                  default=0)
    for metric, ax in zip(("val_loss", "val_accuracy"), axes):
        for group, colour in zip(groups, colours):
            label = group.label() + (f" ({group.status()})" if group.status() else "")
            curves = [run.history[metric] for run in group.runs if run.history[metric]]
            if not curves:
                ax.plot([], [], linestyle="none", label=label + ": no epoch finished")
                continue
            epochs = max(map(len, curves))
            stacked = np.full((len(curves), epochs), np.nan)
            for index, curve in enumerate(curves):
                stacked[index, :len(curve)] = curve
            x = np.arange(1, epochs + 1)
            line, = ax.plot(x, np.nanmean(stacked, axis=0), marker="o" if longest < 20 else None,
                            markersize=3, linestyle="-" if group.finished else "--", label=label,
                            color=colour)
            if len(curves) > 1:
                ax.fill_between(x, np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0),
                                color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole, as in loss.png
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    seeds = any(len(group.runs) > 1 for group in groups)
    rows = f" ({n_val} rows)" if n_val else ""
    figure.suptitle(f"{title}: validation{rows} per epoch, {len(groups)} settings"
                    + (" (mean over seeds; band: lowest to highest)" if seeds else ""))
    return figure


def table_text(rows):
    """The table as printed: one line per setting, best validation accuracy first."""
    seeds = any("best_val_accuracy_std" in row for row in rows)
    results = [column[0] for column in COLUMNS]
    names = [name for name in rows[0] if name not in results and not name.endswith("_std")
             and name not in ("runs", "finished", "status", "folders")] or ["folders"]

    def cell(row, name, digits):
        value = row[name]
        if math.isnan(value):
            return "-"
        text = f"{value:.{digits}f}"
        spread = row.get(name + "_std", math.nan)
        return text + (f"±{spread:.{digits}f}" if seeds and not math.isnan(spread) else "")

    table = [[*(row[name] for name in names),
              *(cell(row, name, digits) for name, _, digits, _ in COLUMNS), row["status"]]
             for row in rows]
    header = [*names, *(heading for _, heading, _, _ in COLUMNS), ""]
    widths = [max(len(line[column]) for line in [header, *table]) for column in range(len(header))]
    return ["  " + "  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
            for line in [header, *table]]


def compare_and_report(runs, output_dir):
    """For each data set among runs: comparison_<kind>.png and .csv in output_dir, the table
    printed, and the best setting (Group) by validation named."""
    make_folder(output_dir)
    for kind in dict.fromkeys(run.kind for run in runs):
        of_kind = [run for run in runs if run.kind == kind]
        groups = groups_of(of_kind)
        title = of_kind[0].title
        rows = table_rows(groups)
        picture = os.path.join(output_dir, f"comparison_{kind}.png")
        figure = plot_comparison(groups, title, of_kind[0].n_val)
        write_atomically(picture, lambda stream: figure.savefig(stream, format="png", dpi=120))
        save_text(table_csv(rows), os.path.join(output_dir, f"comparison_{kind}.csv"))
        say(f"{title}: {plural(len(of_kind), 'run')}, {plural(len(groups), 'setting')}, "
            f"by best validation "
            f"accuracy ({picture}):")
        for line in table_text(rows):
            say(line)
        say("  " + best_line(groups[0]))


def best_line(best):
    """The line naming the best setting by validation (the first Group), or saying there is
    none: no run of it finished an epoch (diverged or stopped in its first)."""
    accuracy = best.mean(lambda run: run.best_val_accuracy)
    if math.isnan(accuracy):
        return "best by validation: none, since no run finished an epoch"
    test = best.mean(lambda run: run.test_accuracy)
    tested = (f"its test accuracy {test:.4f} is reported, not used to choose"
              if not math.isnan(test) else "it has no test accuracy (it did not finish)")
    return f"best by validation: {best.label()}, val_accuracy {accuracy:.4f}; {tested}"


def compare_folders(folders, output_dir):
    """--compare FOLDER...: the comparison of the runs the folders hold, written to output_dir;
    the exit status."""
    compare_and_report(find_runs(folders), output_dir)
    return 0


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"
