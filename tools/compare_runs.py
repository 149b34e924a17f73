"""Compare two output folders of the same command: every number of metrics.json and every
array of model.npz, data set by data set. A change that should keep behaviour must print
"equal" for each (timings, paths and keys only one side has are listed, not compared). Both
records pass through record.upgrade first, so a folder written before a key was renamed
compares under today's names.

    python tools/compare_runs.py BEFORE_DIR AFTER_DIR
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mlp.record import upgrade  # noqa: E402

# Seconds differ from run to run; paths and the thread choice's timings too.
SKIPPED = ("seconds", "source", "data_file", "blas_threads_timings", "data")


def leaves(value, prefix=""):
    """(dotted key, value) for every number, text and null under value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def compare_metrics(before, after):
    """(how many values compared, the keys that differ, keys only one side has)."""
    old = {key: value for key, value in leaves(before) if not any(s in key for s in SKIPPED)}
    new = {key: value for key, value in leaves(after) if not any(s in key for s in SKIPPED)}
    differ = [key for key in old.keys() & new.keys() if old[key] != new[key]]
    return len(old.keys() & new.keys()), sorted(differ), sorted(old.keys() ^ new.keys())


def compare_models(before, after):
    """(how many arrays compared, the names of those that differ)."""
    with np.load(before) as old, np.load(after) as new:
        # the run's record (options before version 3) is metrics.json's, compared there
        names = [name for name in old.files if name not in ("options", "record", "version")]
        differ = [name for name in names if name not in new.files
                  or not np.array_equal(old[name], new[name])]
    return len(names), differ


def main(before_dir, after_dir):
    status = 0
    for name in sorted(os.listdir(before_dir)):
        folder = os.path.join(before_dir, name)
        metrics = os.path.join(folder, "metrics.json")
        if not os.path.isfile(metrics):
            continue
        with open(metrics) as old, open(os.path.join(after_dir, name, "metrics.json")) as new:
            count, differ, one_side = compare_metrics(upgrade(json.load(old)),
                                                      upgrade(json.load(new)))
        print(f"{name}: metrics.json {count} values, {'equal' if not differ else 'DIFFER: '}"
              f"{', '.join(differ[:10])}; keys on one side only: "
              f"{', '.join(one_side[:10]) or 'none'}")
        n_arrays, differ_arrays = compare_models(os.path.join(folder, "model.npz"),
                                                 os.path.join(after_dir, name, "model.npz"))
        print(f"{name}: model.npz {n_arrays} arrays, "
              f"{'equal' if not differ_arrays else 'DIFFER: ' + ', '.join(differ_arrays)}")
        status |= bool(differ or differ_arrays)
    return status


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
