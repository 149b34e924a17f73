"""Experiments: several values per flag make one ordinary run per combination, trained in
parallel; the comparison reads the runs' metrics.json back (an experiment's, or any runs handed
to --compare), and its picture and table hold exactly their numbers."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import matplotlib.colors
import numpy as np
import pytest

from helpers import (
    MAIN,
    assert_one_line_error,
    make_csv,
    run_in_process,
    run_main,
    snapshot,
    tiny_record,
)
from mlp import comparison, flags

EXPERIMENT = ("--datasets", "iris", "--learning_rate", "0.1", "0.01", "0.001",
              "--hidden_layers", "[8]", "[16,", "8]", "--epochs", "5")
FOLDERS = ["h8_lr0.1", "h8_lr0.01", "h8_lr0.001", "h16-8_lr0.1", "h16-8_lr0.01", "h16-8_lr0.001"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """The six runs of three learning rates by two networks on Iris, and what was printed."""
    out = tmp_path_factory.mktemp("experiment") / "out"
    result = run_main(*EXPERIMENT, "--output_dir", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def metrics(folder):
    with open(os.path.join(folder, "iris", "metrics.json"), encoding="utf-8") as stream:
        return json.load(stream)


@pytest.mark.slow
def test_every_combination_is_a_run_in_a_folder_named_by_its_values(experiment):
    out, printed = experiment
    assert sorted(name for name in os.listdir(out) if os.path.isdir(out / name)) == sorted(FOLDERS)
    for name in FOLDERS:
        record = metrics(out / name)
        width, rate = name.split("_")
        assert record["hidden_layers"] == [int(w) for w in width[1:].split("-")]
        assert record["learning_rate"] == float(rate[2:])
        assert record["status"] == "completed" and record["epochs_completed"] == 5
        assert record["blas_threads"] == 1  # one BLAS thread per run unless --threads says
        assert "Iris: test loss" in (out / name / "log.txt").read_text()
        assert f"{name}: Iris best val_accuracy" in printed
    assert printed.count("/6] ") == 6


@pytest.mark.slow
def test_a_run_of_an_experiment_is_the_run_made_alone(experiment, tmp_path):
    out, _ = experiment
    alone = run_main("--datasets", "iris", "--learning_rate", "0.01", "--hidden_layers", "[16, 8]",
                     "--epochs", "5", "--threads", "1", "--output_dir", tmp_path)
    assert alone.returncode == 0, alone.stderr
    ours, theirs = metrics(out / "h16-8_lr0.01"), metrics(tmp_path)
    assert ours["history"] == theirs["history"] and ours["test_loss"] == theirs["test_loss"]
    with np.load(out / "h16-8_lr0.01" / "iris" / "model.npz") as a, \
            np.load(tmp_path / "iris" / "model.npz") as b:
        assert all(np.array_equal(a[key], b[key]) for key in a.files if key != "record")


@pytest.mark.slow
def test_the_table_holds_each_runs_numbers_best_validation_first(experiment):
    out, printed = experiment
    with open(out / "comparison_iris.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 6
    best = [float(row["best_val_accuracy"]) for row in rows]
    assert best == sorted(best, reverse=True)
    for row in rows:
        record = metrics(os.path.dirname(row["folders"]))
        history = record["history"]
        assert float(row["best_val_accuracy"]) == max(history["val_accuracy"])
        assert int(float(row["best_epoch"])) == int(np.argmax(history["val_accuracy"])) + 1
        assert float(row["last_val_loss"]) == history["val_loss"][-1]
        assert float(row["test_accuracy"]) == record["test_accuracy"]
        assert float(row["test_loss"]) == record["test_loss"]
        assert row["learning_rate"] == f"{record['learning_rate']:g}"
    first = rows[0]
    assert (f"best by validation: hidden {first['hidden_layers']}, lr {first['learning_rate']}, "
            f"val_accuracy {float(first['best_val_accuracy']):.4f}") in printed


@pytest.mark.slow
def test_the_picture_draws_each_runs_validation_curves(experiment):
    out, _ = experiment
    runs = comparison.find_runs([out])
    settings = comparison.groups_of(runs)
    figure = comparison.plot_comparison(settings, "Iris", 12)
    loss_axes, accuracy_axes = figure.axes[:2]
    assert len(loss_axes.lines) == len(accuracy_axes.lines) == 6
    for setting, loss_line, accuracy_line in zip(settings, loss_axes.lines, accuracy_axes.lines):
        with open(setting.runs[0].path, encoding="utf-8") as stream:
            record = json.load(stream)
        assert list(loss_line.get_ydata()) == record["history"]["val_loss"]
        assert list(accuracy_line.get_ydata()) == record["history"]["val_accuracy"]
        assert list(loss_line.get_xdata()) == [1, 2, 3, 4, 5]
        # the legend names only the values that differ
        assert loss_line.get_label() == (f"hidden {json.dumps(record['hidden_layers'])}, "
                                         f"lr {record['learning_rate']:g}")
    assert "Iris: validation (12 rows) per epoch, 6 settings" == figure.get_suptitle()


@pytest.mark.slow
def test_seeds_make_one_line_per_setting_with_its_mean_and_spread(tmp_path):
    out = tmp_path / "seeds"
    result = run_main("--datasets", "iris", "--seed", "0", "1", "2", "--learning_rate", "0.1",
                      "0.01", "--hidden_layers", "[8]", "--epochs", "3", "--output_dir", out)
    assert result.returncode == 0, result.stderr
    settings = comparison.groups_of(comparison.find_runs([out]))
    assert [len(setting.runs) for setting in settings] == [3, 3]
    figure = comparison.plot_comparison(settings, "Iris")
    for setting, line in zip(settings, figure.axes[1].lines):
        curves = np.array([run.history["val_accuracy"] for run in setting.runs])
        assert np.allclose(line.get_ydata(), curves.mean(axis=0))
        assert sorted(run.settings["seed"] for run in setting.runs) == [0, 1, 2]
    assert len(figure.axes[1].collections) == 2  # a band per setting
    with open(out / "comparison_iris.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    for row, setting in zip(rows, settings):
        tests = [run.test_accuracy for run in setting.runs]
        assert float(row["test_accuracy"]) == pytest.approx(np.mean(tests))
        assert float(row["test_accuracy_std"]) == pytest.approx(np.std(tests))
        assert row["runs"] == "3"


def test_one_bad_value_refuses_the_whole_experiment_with_nothing_written(capsys, tmp_path):
    # --learning_rate 10 with --weight_decay 0.2 would flip the weights' sign every step.
    result = run_in_process(capsys, "--datasets", "iris", "--learning_rate", "0.01", "10",
                            "--weight_decay", "0.2", "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "argument --weight_decay", "in the run lr10")
    assert not (tmp_path / "out").exists()
    result = run_in_process(capsys, "--datasets", "iris", "--epochs", "3", "3",
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "argument --epochs: 3 is given twice")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_stopped_experiment_resumes_to_what_an_uninterrupted_one_gives(tmp_path):
    flags_ = ("--datasets", "iris", "--learning_rate", "0.01", "0.003", "--hidden_layers", "[8]",
              "--epochs", "60", "--jobs", "1")
    whole = run_main(*flags_, "--output_dir", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    stopped = tmp_path / "stopped"
    process = subprocess.Popen([sys.executable, MAIN, *flags_, "--output_dir", str(stopped)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = stopped / "lr0.003" / "log.txt"
    deadline = time.monotonic() + 120
    while not (log.exists() and "epoch 20/60" in log.read_text()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Stopped: 1 of 2 runs finished" in out
    assert (stopped / "lr0.003" / "iris" / "checkpoint.npz").exists()
    resumed = run_main(*flags_, "--output_dir", stopped, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in (stopped / "lr0.003" / "log.txt").read_text()
    for name in ("lr0.01", "lr0.003"):
        ours, theirs = metrics(stopped / name), metrics(tmp_path / "whole" / name)
        assert ours["history"] == theirs["history"] and ours["test_loss"] == theirs["test_loss"]


def children(pid):
    """The process ids whose parent is pid (Linux's /proc), living ones only."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(name))
    return found


def alive(pid):
    """Whether process pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def training_experiment(out):
    """An experiment of two long Iris runs, once both are training (each has printed epochs):
    its Popen and its runs' process ids."""
    process = subprocess.Popen([sys.executable, MAIN, "--datasets", "iris", "--learning_rate",
                                "0.01", "0.003", "--hidden_layers", "[8]", "--epochs", "100000",
                                "--jobs", "2", "--output_dir", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs = [out / name / "log.txt" for name in ("lr0.01", "lr0.003")]
    deadline = time.monotonic() + 120
    while not all(log.exists() and "epoch      3/100000" in log.read_text() for log in logs):
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    runs = children(process.pid)
    assert len(runs) == 2
    return process, runs


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the runs in Linux's /proc")
@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGHUP])
def test_the_runs_of_an_experiment_end_with_it_however_it_ends(tmp_path, signal_number):
    process, runs = training_experiment(tmp_path / "out")
    process.send_signal(signal_number)
    process.communicate(timeout=60)
    assert process.returncode == (-signal.SIGKILL if signal_number == signal.SIGKILL else 129)
    deadline = time.monotonic() + 20
    while any(map(alive, runs)):
        assert time.monotonic() < deadline, "a run goes on after its experiment ended"
        time.sleep(0.05)
    for name in ("lr0.01", "lr0.003"):  # each stopped as for SIGTERM: resumable
        record = metrics(tmp_path / "out" / name)
        assert record["status"] == "interrupted" and record["epochs_completed"] >= 3
        assert (tmp_path / "out" / name / "iris" / "checkpoint.npz").exists()
        assert "Traceback" not in (tmp_path / "out" / name / "log.txt").read_text()


def test_a_run_whose_experiment_is_gone_stops_as_for_sigterm(monkeypatch):
    from mlp import process
    monkeypatch.setenv(process.PARENT_ENVIRONMENT, str(os.getppid()))
    with process.StopFlag() as stop_flag:
        assert not stop_flag()
    monkeypatch.setenv(process.PARENT_ENVIRONMENT, str(os.getppid() + 1))
    with process.StopFlag() as stop_flag:
        assert stop_flag() and stop_flag.exit_status == 143


@pytest.mark.slow
def test_a_finished_experiment_is_moved_aside_not_written_over(tmp_path):
    command = ("--datasets", "iris", "--epochs", "1", "--seed", "0", "1", "--hidden_layers", "[4]",
               "--output_dir", tmp_path / "out")
    assert run_main(*command).returncode == 0
    before = snapshot(tmp_path / "out")
    again = run_main(*command)
    assert again.returncode == 0, again.stderr
    assert f"moved to {tmp_path / 'out'}.1" in again.stdout
    assert snapshot(tmp_path / "out.1") == before


def test_compare_reads_runs_made_one_at_a_time_and_marks_unfinished_ones(capsys, tmp_path):
    for rate in ("0.1", "0.01"):
        assert run_in_process(capsys, "--datasets", "iris", "--epochs", "2", "--hidden_layers",
                              "[4]", "--learning_rate", rate, "--output_dir",
                              tmp_path / rate).returncode == 0
    record = json.loads((tmp_path / "0.01" / "iris" / "metrics.json").read_text())
    record["status"] = "running"
    (tmp_path / "0.01" / "iris" / "metrics.json").write_text(json.dumps(record))
    result = run_in_process(capsys, "--compare", tmp_path / "0.1", tmp_path / "0.01",
                            "--output_dir", tmp_path / "cmp")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "cmp" / "comparison_iris.csv", encoding="utf-8") as stream:
        rows = {row["learning_rate"]: row for row in csv.DictReader(stream)}
    assert rows["0.1"]["finished"] == "True" and rows["0.01"]["finished"] == "False"
    assert "unfinished" in result.stdout


def test_compare_refuses_a_folder_that_holds_no_run(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_in_process(capsys, "--compare", tmp_path / "empty", "--output_dir", tmp_path / "c")
    assert_one_line_error(result, f"argument --compare: {tmp_path / 'empty'} holds no run")
    assert not (tmp_path / "c").exists()


def test_compare_names_the_damaged_field(capsys, tmp_path):
    (tmp_path / "run").mkdir()
    record = tiny_record().to_json()
    record["history"]["loss"] = "x"
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(record))
    result = run_in_process(capsys, "--compare", tmp_path / "run")
    assert_one_line_error(result, "metrics.json: a damaged metrics.json, or not a run's (field "
                                  "'history.loss' is \"x\"; expected a list of")


@pytest.mark.parametrize("tokens, networks", [
    (["[256,", "64]", "[128]", "[]"], [[256, 64], [128], []]),
    (["[8]", "[16, 8]"], [[8], [16, 8]]),
    (["[256,", "64]"], None), (["256", "64"], None), (["256,64"], None), (["[]"], None),
])
def test_brackets_group_networks_and_one_network_is_read_as_today(tokens, networks):
    args = flags.parse_args(["--hidden_layers", *tokens])
    assert args.varied.get("hidden_layers") == networks
    assert args.training.hidden_sizes == (networks[0] if networks else
                                  flags.parse_hidden_layers(" ".join(tokens)))


def test_several_values_are_refused_where_nothing_trains(capsys):
    result = run_in_process(capsys, "--gradient_check", "--hidden_layers", "[4]", "[8]")
    assert_one_line_error(result, "argument --hidden_layers: several values make an experiment")
    result = run_in_process(capsys, "--datasets", "iris", "--jobs", "2")
    assert_one_line_error(result, "argument --jobs: does nothing for one run")


def test_what_every_run_would_refuse_is_refused_before_any_starts(capsys, tmp_path):
    result = run_in_process(capsys, "--datasets", "iris", "--iris_path", tmp_path / "none.data",
                            "--seed", "0", "1", "--output_dir", tmp_path / "out")
    assert_one_line_error(result, f"{tmp_path / 'none.data'}: no such file; expected the data "
                                  f"file --iris_path names")
    result = run_in_process(capsys, "--datasets", "iris", "--seed", "0", "1", "--jobs", "100000",
                            "--output_dir", tmp_path / "out")
    line = assert_one_line_error(result, "argument --jobs: 100000 runs at once need about")
    fits = int(line.split("expected --jobs ")[1].split()[0])
    per_job = float(line.split("need about ")[1].split()[0]) / 100000
    assert 0.25 < per_job < 1.0  # GiB: a process, Iris and its network
    assert fits >= 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("per_class, refused", [(500, True), (100, False)])
def test_the_check_before_the_runs_takes_a_large_tables_defaults_as_its_runs_do(
        capsys, tmp_path, per_class, refused):
    """A CSV of 1,000 training rows or more trains with MNIST's weight decay, 0.05: at
    --learning_rate 20 that zeroes the weights each step, so the run refuses it, and so must
    the experiment before it starts any run; a smaller table decays nothing by default."""
    table = make_csv(tmp_path / "table.csv", n_per_class=per_class)
    command = ("--csv", table, "--target", "kind", "--learning_rate", "0.01", "20", "--epochs",
               "1", "--hidden_layers", "[4]", "--output_dir", tmp_path / "out")
    alone = run_in_process(capsys, *command[:4], "--learning_rate", "20", *command[7:])
    if refused:
        assert_one_line_error(alone, "argument --weight_decay: 0.05 at --learning_rate 20")
        assert_one_line_error(run_in_process(capsys, *command),
                              "argument --weight_decay: 0.05 at --learning_rate 20",
                              "(in the run lr20)")
        assert not (tmp_path / "out").exists()
    else:
        assert alone.returncode in (0, 1), alone.stderr  # trained (it may diverge)
        shutil.rmtree(tmp_path / "out")
        assert run_in_process(capsys, *command).returncode in (0, 1)
        with open(tmp_path / "out" / "lr20" / "table" / "metrics.json", encoding="utf-8") as stream:
            assert json.load(stream)["weight_decay"] == 0.0


@pytest.mark.slow
def test_a_run_that_learned_nothing_is_marked_in_the_table(tmp_path):
    out = tmp_path / "stuck"
    result = run_main("--datasets", "iris", "--learning_rate", "0.05", "0.01", "--epochs", "6",
                      "--output_dir", out)
    assert result.returncode == 1  # the dead network's run failed
    assert ("lr0.05: Iris best val_accuracy" in result.stdout
            and "(stuck at chance)" in result.stdout)
    with open(out / "comparison_iris.csv", encoding="utf-8") as stream:
        rows = {row["learning_rate"]: row for row in csv.DictReader(stream)}
    assert rows["0.05"]["status"] == "stuck at chance" and rows["0.01"]["status"] == ""


def test_the_legend_says_how_runs_ended_and_names_one_with_no_epoch():
    def run(rate, status, epochs):
        history = {name: [0.5] * epochs for name in comparison.HISTORY_KEYS}
        return comparison.ComparedRun(path=f"/r/{rate}/iris/metrics.json", kind="iris",
                                       title="Iris", settings={"learning_rate": rate},
                                       status=status, history=history, test_loss=None,
                                       test_accuracy=None, seconds=0.0)

    settings = comparison.groups_of([run(0.01, "completed", 4), run(0.05, "stuck_at_chance", 3),
                                       run(1.0, "diverged", 0)])
    axes = comparison.plot_comparison(settings, "Iris").axes[1]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "lr 0.01", "lr 0.05 (stuck at chance)", "lr 1 (diverged): no epoch finished"]
    assert [len(line.get_xdata()) for line in axes.lines] == [4, 3, 0]


def test_the_best_setting_is_named_only_where_a_run_finished_an_epoch():
    def run(rate, epochs, test_accuracy):
        history = {name: [0.25 * rate] * epochs for name in comparison.HISTORY_KEYS}
        return comparison.ComparedRun(path=f"/r/{rate}/iris/metrics.json", kind="iris",
                                       title="Iris", settings={"learning_rate": rate},
                                       status="completed" if test_accuracy else "interrupted",
                                       history=history, test_loss=None,
                                       test_accuracy=test_accuracy, seconds=0.0)

    def line(*runs):
        return comparison.best_line(comparison.groups_of(list(runs))[0])

    assert line(run(1.0, 0, None), run(2.0, 0, None)) == \
        "best by validation: none, since no run finished an epoch"
    assert line(run(1.0, 0, None), run(2.0, 3, None)) == \
        "best by validation: lr 2, val_accuracy 0.5000; it has no test accuracy (it did not finish)"
    assert line(run(1.0, 2, 0.9), run(2.0, 3, None)) == "best by validation: lr 2, " \
        "val_accuracy 0.5000; it has no test accuracy (it did not finish)"
    assert line(run(3.0, 2, 0.9), run(2.0, 3, None)) == "best by validation: lr 3, " \
        "val_accuracy 0.7500; its test accuracy 0.9000 is reported, not used to choose"


def test_runs_whose_settings_are_all_equal_are_told_apart_by_their_folders(capsys, tmp_path):
    for copy in ("first", "second"):
        assert run_in_process(capsys, "--datasets", "iris", "--epochs", "1", "--hidden_layers",
                              "[4]", "--output_dir", tmp_path / copy).returncode == 0
    result = run_in_process(capsys, "--compare", tmp_path / "first", tmp_path / "second",
                            "--output_dir", tmp_path / "cmp")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines.index(next(line for line in lines if "best val_acc" in line))
    assert lines[header].split()[0] == "folders"
    assert [line.split()[0] for line in lines[header + 1:header + 3]] == [
        str(tmp_path / "first" / "iris"), str(tmp_path / "second" / "iris")]



@pytest.mark.parametrize("settings", [3, 16, 25])
def test_each_setting_has_its_own_colour_past_matplotlibs_ten(settings):
    def run(rate):
        history = {name: [0.5, 0.4] for name in comparison.HISTORY_KEYS}
        return comparison.ComparedRun(path=f"/r/{rate}/iris/metrics.json", kind="iris",
                                       title="Iris", settings={"learning_rate": rate},
                                       status="completed", history=history, test_loss=0.1,
                                       test_accuracy=0.9, seconds=0.0)

    groups = comparison.groups_of([run(0.001 * (index + 1)) for index in range(settings)])
    figure = comparison.plot_comparison(groups, "Iris")
    for axes in figure.axes:
        colours = [tuple(matplotlib.colors.to_rgba(line.get_color())) for line in axes.lines]
        assert len(colours) == settings and len(set(colours)) == settings
    assert [line.get_color() for line in figure.axes[0].lines] == \
        [line.get_color() for line in figure.axes[1].lines]   # a setting's colour in both
