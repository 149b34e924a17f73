"""Searches: ranges and --trials refused in one line where wrong; each trial an ordinary run,
the same as the run made alone with the values drawn; the same command at --jobs 1 draws the
same trials and gives the same numbers again."""

import csv
import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

from helpers import MAIN, assert_one_line_error, run_in_process, run_main

SEARCH = ("--datasets", "iris", "--learning_rate", "1e-3..1e-1", "--dropout", "0..0.3",
          "--hidden_layers", "[8]", "[16,", "8]", "--epochs", "4", "--trials", "4")


@pytest.mark.parametrize("flags, expected", [
    (["--learning_rate", "1e-4..1e-1"], "argument --learning_rate: the range 0.0001..0.1 is drawn "
                                        "from by a search; expected --trials N as well"),
    (["--trials", "3"], "argument --trials: nothing to choose; expected a range LOW..HIGH"),
    (["--learning_rate", "0.1..0.001", "--trials", "2"],
     "argument --learning_rate: '0.1..0.001': LOW is not below HIGH; expected a range LOW..HIGH "
     "such as 1e-4..1e-1"),
    (["--learning_rate", "0..", "--trials", "2"],
     "argument --learning_rate: '0..': expected a range LOW..HIGH with a number at each end"),
    (["--epochs", "a..b", "--trials", "2"], "argument --epochs: 'a': expected a whole number"),
    (["--activation", "relu..tanh", "--trials", "2"], "argument --activation: invalid choice"),
    (["--seed", "0..4", "--trials", "2"], "argument --seed: '0..4': expected a whole number"),
    (["--learning_rate", "0.5..1", "--weight_decay", "0.5..5", "--trials", "2"],
     "argument --weight_decay: the search may draw --learning_rate 1 with --weight_decay 5, and "
     "each step would then multiply the weights by 1 - 1 x 5 = -4; expected ranges whose highest "
     "learning rate x highest weight decay is below 1"),
    (["--weight_decay", "0.01", "2000", "--trials", "2"],
     "argument --weight_decay: the search may draw --learning_rate 0.001 with --weight_decay "
     "2000"),
    (["--learning_rate", "1e-3..1e-1", "--seed", "0", "1", "--trials", "2"],
     "argument --seed: a search has one seed, its sampler's and its trials', and 2 are given; "
     "expected one value"),
    (["--dropout", "0.1", "0..0.5", "--trials", "2"],
     "argument --dropout: a range and other values together"),
    (["--dropout", "0..1", "--trials", "2"],
     "argument --dropout: '1': expected a rate from 0 up to, not including, 1"),
    (["--learning_rate", "1e-3..1e-1", "--trials", "0"], "argument --trials: '0': expected a "
                                                         "whole number of at least 1"),
    (["--learning_rate", "1e-3..1e-1", "--trials", "2", "--resume"],
     "argument --resume: nothing to resume: no search in"),
    (["--learning_rate", "0.1", "0.01", "--pruner", "median"],
     "argument --pruner: does nothing without --trials"),
    (["--datasets", "iris", "mnist", "--learning_rate", "1e-3..1e-1", "--trials", "2"],
     "argument --trials: a search trains one data set, and 2 are named (iris, mnist)"),
])
def test_a_bad_range_or_budget_is_one_line_and_writes_nothing(capsys, tmp_path, flags, expected):
    result = run_in_process(capsys, "--datasets", "iris", *flags, "--output_dir", tmp_path / "out")
    assert_one_line_error(result, expected)
    assert not (tmp_path / "out").exists()


def test_a_data_file_that_is_missing_or_wrong_is_one_line_before_any_trial(capsys, tmp_path):
    # Read as an experiment reads it, once before the first run, not by each trial in turn.
    missing = tmp_path / "nowhere.npz"
    result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", missing,
                            "--learning_rate", "1e-3..1e-1", "--trials", "2",
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, f"{missing}: no such file; expected the data file "
                                  f"--mnist_path names")
    one_class = tmp_path / "one.csv"
    one_class.write_text("a,b\n1,x\n2,x\n")
    result = run_in_process(capsys, "--csv", one_class, "--target", "b", "--learning_rate",
                            "1e-3..1e-1", "--trials", "2", "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "column 'b' has a single class (x); expected at least two")
    assert not (tmp_path / "out").exists()


def trials_of(out):
    """{folder name: metrics.json} of each trial of a search in out."""
    found = {}
    for name in sorted(os.listdir(out)):
        path = out / name / "iris" / "metrics.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "out"
    result = run_main(*SEARCH, "--jobs", "2", "--output_dir", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.mark.slow
def test_each_trial_is_a_run_in_its_folder_and_the_table_has_a_row_each(search):
    out, printed = search
    trials = trials_of(out)
    assert sorted(name.split("_")[0] for name in trials) == ["t0", "t1", "t2", "t3"]
    for name, metrics in trials.items():
        assert 1e-3 <= metrics["learning_rate"] <= 1e-1 and 0 <= metrics["dropout"] <= 0.3
        assert metrics["hidden_layers"] in ([8], [16, 8])
        assert metrics["epochs_completed"] == 4 or metrics["status"] == "pruned"
        assert f"_h{'-'.join(map(str, metrics['hidden_layers']))}_" in name
    with open(out / "comparison_iris.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4
    assert sorted(float(row["best_val_accuracy"]) for row in rows) == sorted(
        max(metrics["history"]["val_accuracy"]) for metrics in trials.values())
    assert (out / "study.journal").stat().st_size > 0
    assert printed.count("] t") == 4 and "best so far: trial" in printed


@pytest.mark.slow
def test_a_trial_is_the_run_made_alone_with_its_values(search, tmp_path):
    out, printed = search
    line = next(line for line in printed.splitlines() if line.startswith("Best trial"))
    tokens = shlex.split(line.split("alone it is: python Main.py ", 1)[1])
    folder = next(token for token in tokens if token.startswith("--output_dir=")).split("=", 1)[1]
    tokens = [token for token in tokens if not token.startswith("--output_dir=")]
    alone = run_main(*tokens, "--output_dir", tmp_path / "alone")
    assert alone.returncode == 0, alone.stderr
    trial = json.loads((out / os.path.basename(folder) / "iris" / "metrics.json").read_text())
    made = json.loads((tmp_path / "alone" / "iris" / "metrics.json").read_text())
    assert trial["history"] == made["history"] and trial["test_loss"] == made["test_loss"]
    assert min(trial["history"]["val_loss"]) == pytest.approx(
        float(line.split("val_loss ")[1].split(";")[0]), abs=5e-5)


@pytest.mark.slow
def test_one_job_at_a_time_draws_the_same_trials_and_numbers_again(tmp_path):
    runs = []
    for copy in ("first", "second"):
        result = run_main(*SEARCH[:-4], "--epochs", "2", "--trials", "2", "--jobs", "1",
                          "--output_dir", tmp_path / copy)
        assert result.returncode == 0, result.stderr
        runs.append(trials_of(tmp_path / copy))
    assert list(runs[0]) == list(runs[1])
    for name in runs[0]:
        assert runs[0][name]["history"] == runs[1][name]["history"]
        assert runs[0][name]["learning_rate"] == runs[1][name]["learning_rate"]


@pytest.mark.slow
def test_a_wide_range_prunes_trials_that_keep_their_epochs_and_equal_their_run_alone(tmp_path):
    out = tmp_path / "wide"
    result = run_main("--datasets", "iris", "--learning_rate", "1e-5..1", "--hidden_layers", "[8]",
                      "--epochs", "6", "--trials", "6", "--jobs", "1", "--output_dir", out)
    assert result.returncode == 0, result.stderr  # pruned is not failed
    trials = trials_of(out)
    pruned = {name: metrics for name, metrics in trials.items() if metrics["status"] == "pruned"}
    assert pruned and len(pruned) < len(trials)
    for name, metrics in trials.items():
        assert (metrics["study"], metrics["trial"]) == ("search", int(name.split("_")[0][1:]))
        epochs = metrics["epochs_completed"]
        assert len(metrics["history"]["val_loss"]) == epochs
        assert epochs < 6 if name in pruned else epochs == 6
        assert not (out / name / "iris" / "checkpoint.npz").exists()
    assert result.stdout.count("(pruned)") >= len(pruned)
    with open(out / "comparison_iris.csv", encoding="utf-8") as stream:
        statuses = [row["status"] for row in csv.DictReader(stream)]
    assert statuses.count("pruned") == len(pruned)
    name, metrics = next(iter(pruned.items()))
    alone = run_main("--datasets", "iris", "--hidden_layers", "[8]", "--epochs", "6",
                     "--threads=1", f"--learning_rate={metrics['learning_rate']!r}",
                     "--output_dir", tmp_path / "alone")
    assert alone.returncode == 0, alone.stderr
    made = json.loads((tmp_path / "alone" / "iris" / "metrics.json").read_text())
    for key, values in metrics["history"].items():  # over the epochs the trial finished
        assert made["history"][key][:len(values)] == values, key


# ------------------------------------------------------------------ a study shared in PostgreSQL

SHARED = ("--datasets", "iris", "--learning_rate", "1e-3..1e-1", "--hidden_layers", "[8]",
          "--epochs", "1", "--trials", "10", "--jobs", "1")


def with_password(url, password):
    """url (postgresql+psycopg://postgres@/...) with a password for its user."""
    return url.replace("postgres@", f"postgres:{password}@", 1)


@pytest.mark.slow
def test_two_workers_sharing_a_study_make_its_trials_once_each(postgres, tmp_path):
    url = with_password(postgres, "s3cret-pw")
    workers = [subprocess.Popen([sys.executable, MAIN, *SHARED, "--storage", url, "--study",
                                 "shared", "--output_dir", str(tmp_path / name)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("one", "two")]
    printed = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, printed):
        assert worker.returncode == 0, err
    numbers = [int(name.split("_")[0][1:]) for name in (*os.listdir(tmp_path / "one"),
                                                        *os.listdir(tmp_path / "two"))
               if name.startswith("t")]
    assert sorted(numbers) == list(range(10))  # ten in all, none twice
    assert all(os.listdir(tmp_path / name) for name in ("one", "two"))  # both took some
    import optuna

    study = optuna.load_study(study_name="shared", storage=postgres)
    assert len(study.trials) == 10
    compared = run_main("--compare", tmp_path / "one", tmp_path / "two",
                        "--output_dir", tmp_path / "both")
    assert compared.returncode == 0, compared.stderr
    with open(tmp_path / "both" / "comparison_iris.csv", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == 10
    everything = "".join(out + err for out, err in printed) + compared.stdout
    for folder, _, names in os.walk(tmp_path):
        for name in names:
            with open(os.path.join(folder, name), "rb") as stream:
                assert b"s3cret-pw" not in stream.read(), os.path.join(folder, name)
    assert "s3cret-pw" not in everything and "postgres:***@" in everything


@pytest.mark.parametrize("url, expected", [
    ("not a url", "argument --storage: the URL given is not a database URL"),
    ("postgresql+nosuchdriver://u:pw@localhost/db", "argument --storage: no driver for "
                                                    "postgresql+nosuchdriver://u:***@localhost/db"),
    ("postgresql+psycopg://u:pw@127.0.0.1:1/db", "argument --storage: "
                                                 "postgresql+psycopg://u:***@127.0.0.1:1/db did "
                                                 "not answer within 10 s or refused"),
])
def test_a_wrong_url_or_a_server_that_does_not_answer_is_one_line(capsys, tmp_path, url,
                                                                     expected):
    result = run_in_process(capsys, *SHARED, "--storage", url, "--output_dir", tmp_path / "out")
    line = assert_one_line_error(result, expected)
    assert ":pw@" not in line and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_study_of_that_name_with_other_ranges_is_refused(capsys, postgres, tmp_path):
    first = run_in_process(capsys, *SHARED[:-4], "--trials", "1", "--storage", postgres,
                           "--study", "other", "--output_dir", tmp_path / "first")
    assert first.returncode == 0, first.stderr
    result = run_in_process(capsys, *SHARED[:-4], "--trials", "1", "--dropout", "0..0.2",
                            "--storage", postgres, "--study", "other",
                            "--output_dir", tmp_path / "second")
    assert_one_line_error(result, "argument --study: the study 'other' in", "expected the same "
                                  "flags as its other workers, or another --study")
    assert not (tmp_path / "second").exists()
    result = run_in_process(capsys, *SHARED[:-4], "--trials", "2", "--storage", postgres,
                            "--study", "other", "--output_dir", tmp_path / "second")
    assert_one_line_error(result, "argument --trials: the study 'other' in", "has a budget of 1 "
                                  "trial, not 2; expected --trials 1, or --resume to make it 2")
    assert not (tmp_path / "second").exists()


@pytest.mark.slow
def test_resume_with_a_larger_budget_keeps_the_ended_trials_and_runs_the_rest(tmp_path):
    out = tmp_path / "out"
    flags = ("--datasets", "iris", "--learning_rate", "1e-3..1e-1", "--hidden_layers", "[8]",
             "--epochs", "2", "--jobs", "1", "--output_dir", out)
    assert run_main(*flags, "--trials", "2").returncode == 0
    before = {name: (out / name / "iris" / "metrics.json").read_bytes()
              for name in trials_of(out)}
    resumed = run_main(*flags, "--trials", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "The study's budget was 2 trials; it is 3 now" in resumed.stdout
    assert "Resuming: 2 trials of the study ended and are kept" in resumed.stdout
    after = trials_of(out)
    assert len(after) == 3 and {name.split("_")[0] for name in after} == {"t0", "t1", "t2"}
    assert all((out / name / "iris" / "metrics.json").read_bytes() == text
               for name, text in before.items())
    rows = (out / "comparison_iris.csv").read_text().splitlines()[1:]
    assert len(rows) == 3     # the search's table: the trials kept, and the one run now
    assert "another worker's" not in resumed.stdout
    assert json.loads((out / "experiment.json").read_text())["trials"] == 3


@pytest.mark.slow
def test_optunas_pictures_of_the_study_are_titled_and_labelled(search):
    out, printed = search
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from mlp.search import PICTURES, draw_study

    journal = JournalFileBackend(str(out / "study.journal"))
    study = optuna.load_study(study_name="search", storage=JournalStorage(journal))
    finished = sum(trial.state.name == "COMPLETE" for trial in study.trials)
    figures = draw_study(study, "Iris")
    assert set(figures) == set(PICTURES) if finished >= 2 else set(figures) <= set(PICTURES)
    for name, figure in figures.items():
        title = figure.axes[0].get_title()
        assert title.startswith(f"Iris: {PICTURES[name][1]}\n{finished} finished trials of 4")
        assert figure.axes[0].get_title(loc="left") == ""  # (not Optuna's, over ours)
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = figures["search_history.png"].axes[0]
    assert (history.get_xlabel(), history.get_ylabel()) == ("Trial", "lowest validation loss")
    scales = {axes.get_ylabel(): axes.get_yscale() for axes in
              figures["search_parallel.png"].axes}
    assert "log" in scales.values()  # the learning rate, drawn on a log scale


@pytest.mark.slow
def test_a_search_killed_with_sigkill_resumes_with_every_trial_counted_once(tmp_path):
    out = tmp_path / "out"
    flags = ("--datasets", "iris", "--learning_rate", "1e-3..1e-1", "--hidden_layers", "[8]",
             "--epochs", "200", "--trials", "2", "--jobs", "1", "--pruner", "none")
    process = subprocess.Popen([sys.executable, MAIN, *flags, "--output_dir", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    logs = []
    while not any(re.search(r"epoch +5/200", log.read_text()) for log in logs):
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.05)
        logs = list(out.glob("t*/log.txt"))
    process.kill()  # SIGKILL: its running trial ends with it, its checkpoint kept
    process.communicate(timeout=60)
    [killed] = [log.parent for log in logs]
    deadline = time.monotonic() + 30
    while not (killed / "iris" / "checkpoint.npz").exists() or "interrupted" not in (
            killed / "iris" / "metrics.json").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    resumed = run_main(*flags, "--output_dir", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "1 whose process died run again from their checkpoints" in resumed.stdout
    assert "resuming after epoch" in (killed / "log.txt").read_text()
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = JournalFileBackend(str(out / "study.journal"))
    study = optuna.load_study(study_name="search", storage=JournalStorage(journal))
    assert sorted(trial.number for trial in study.trials) == [0, 1]
    assert all(trial.state.name == "COMPLETE" for trial in study.trials)
    trials = trials_of(out)
    assert len(trials) == 2 and all(m["epochs_completed"] == 200 for m in trials.values())
    number = int(killed.name.split("_")[0][1:])
    assert study.trials[number].value == min(trials[killed.name]["history"]["val_loss"])


@pytest.mark.slow
def test_a_search_whose_every_trial_diverges_names_no_best_and_draws_nothing(tmp_path):
    result = run_main("--datasets", "iris", "--learning_rate", "50..100", "--epochs", "1",
                      "--trials", "1", "--output_dir", tmp_path / "out")
    assert result.returncode == 1, result.stderr  # a diverged trial is a failed run
    assert "Search: 1 trial (--learning_rate 50..100)" in result.stdout
    assert "best by validation: none, since no run finished an epoch" in result.stdout
    assert "Optuna's pictures of the study: none, since no trial finished" in result.stdout
    assert not list((tmp_path / "out").glob("search_*.png"))
    assert "Best trial" not in result.stdout
