"""The command line: flag parsing from the tables, every bad flag refused in one line (exit
status 2, nothing written), and whole runs of Main.py checked through their files."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import Main
from helpers import (
    IRIS,
    MAIN,
    assert_one_line_error,
    make_mnist_like,
    png_size,
    run_in_process,
    run_main,
    words,
)
from HiddenLayer import ACTIVATIONS
from mlp import flags, process
from mlp.datasets import DATASETS, keras_cache_file
from mlp.optimizers import LEARNING_RATE_SCHEDULES, OPTIMIZERS

METRICS_FIELDS = ("dataset", "hidden_layers", "learning_rate", "epochs", "batch_size",
                  "optimizer", "seed", "history", "test_loss", "test_accuracy",
                  "epoch_seconds", "train_seconds")
HISTORY_FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy")


@pytest.mark.parametrize("tokens", [
    ["[256,", "64]"],          # the assignment's unquoted form: the shell splits it in two
    ["[256,64]"],
    ["[256, 64]"],             # quoted
    ["256,64"],
    ["256", "64"],
    ["256 64"],
    [" [ 256 , 64 ] "],
])
def test_every_hidden_layers_form_means_the_same_list(tokens):
    args = flags.parse_args(["--hidden_layers", *tokens])
    assert args.training.hidden_sizes == [256, 64]


@pytest.mark.parametrize("tokens, expected", [
    (["[]"], []), (["[", "]"], []), (["[128]"], [128]), (["128"], [128]), (["[8,4,2]"], [8, 4, 2]),
])
def test_hidden_layers_of_other_lengths(tokens, expected):
    assert flags.parse_args(["--hidden_layers", *tokens]).training.hidden_sizes == expected


def test_defaults_are_the_documented_ones():
    command = flags.parse_args([])
    training = command.training
    assert (training.learning_rate, training.epochs, training.hidden_sizes) == (0.001, 30,
                                                                                [256, 64])
    assert (training.optimizer, training.seed, command.datasets) == ("adam", 0, ["mnist", "iris"])
    assert (command.output_dir, training.validation_split) == ("results", 0.1)
    assert training.activation == "sigmoid"
    assert command.mode == "train"


def test_choices_and_path_flags_come_from_the_tables():
    """Each table's names are the flag's choices, and every registered data set has its path
    flag."""
    parser = flags.build_parser()
    actions = {action.dest: action for action in parser._actions}
    assert list(actions["activation"].choices) == list(ACTIVATIONS) == ["sigmoid", "tanh", "relu"]
    assert list(actions["optimizer"].choices) == list(OPTIMIZERS) == ["adam", "sgd", "momentum"]
    assert list(actions["lr_schedule"].choices) == list(LEARNING_RATE_SCHEDULES)
    for name, entry in DATASETS.items():
        assert actions[f"{name}_path"].default == entry.default_path
    assert flags.parse_args([]).datasets == list(DATASETS)
    help_text = parser.format_help()
    for name, entry in ACTIVATIONS.items():
        assert " ".join(f"{name}: {entry.description}".split()) in " ".join(help_text.split())


def test_help_explains_every_flag_and_shows_defaults():
    result = run_main("--help")
    assert result.returncode == 0
    for flag in ("--learning_rate", "--epochs", "--hidden_layers", "--batch_size", "--optimizer",
                 "--seed", "--datasets", "--output_dir", "--mnist_path", "--validation_split"):
        assert flag in result.stdout
    assert "(default: 0.001)" in result.stdout and "(default: 30)" in result.stdout
    assert "(default: sigmoid)" in " ".join(result.stdout.split())


def read_metrics(folder):
    with open(os.path.join(folder, "metrics.json")) as stream:
        return json.load(stream)


def check_run_folder(folder, dataset, epochs):
    metrics = read_metrics(folder)
    for field in METRICS_FIELDS:
        assert field in metrics, field
    assert metrics["dataset"] == dataset
    assert metrics["epochs"] == epochs
    for field in HISTORY_FIELDS:
        assert len(metrics["history"][field]) == epochs, field
    assert len(metrics["epoch_seconds"]) == epochs
    history = metrics["history"]
    assert all(0 <= a <= 1 for a in history["accuracy"] + history["val_accuracy"])
    assert all(np.isfinite(metrics["history"]["loss"]))
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0
    for name in ("loss.png", "accuracy.png"):
        width, height = png_size(os.path.join(folder, name))
        assert width >= 400 and height >= 300
    return metrics


@pytest.mark.slow
def test_end_to_end_on_a_small_mnist_file_and_iris(tmp_path, small_mnist):
    output = tmp_path / "results"
    result = run_main("--learning_rate", "0.001", "--epochs", "2", "--hidden_layers", "[32,", "16]",
                      "--batch_size", "8", "--mnist_path", small_mnist, "--output_dir", output)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    mnist = check_run_folder(output / "mnist", "mnist", 2)
    iris = check_run_folder(output / "iris", "iris", 2)
    assert mnist["hidden_layers"] == [32, 16] and iris["hidden_layers"] == [32, 16]
    assert mnist["activation"] == iris["activation"] == "sigmoid"
    assert (mnist["n_train"], mnist["n_val"], mnist["n_test"]) == (900, 100, 200)
    assert iris["n_train"] + iris["n_val"] + iris["n_test"] == 150 and iris["n_test"] == 30
    assert iris["classes"] == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]
    # The bands are easy: two epochs of 900 images learn them.
    assert mnist["test_accuracy"] > 0.9
    # One progress line per epoch per data set, and a summary naming the folders.
    assert result.stdout.count("epoch 1/2") == 2 and result.stdout.count("epoch 2/2") == 2
    assert str(output / "mnist") in result.stdout and str(output / "iris") in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_same_seed_same_history(capsys, tmp_path, small_mnist, activation):
    runs = []
    for name in ("a", "b"):
        result = run_in_process(capsys, "--epochs", "2", "--hidden_layers", "[16]",
                                "--mnist_path", small_mnist, "--output_dir", tmp_path / name,
                                "--seed", "3", "--activation", activation)
        assert result.returncode == 0, result.stderr
        runs.append([read_metrics(tmp_path / name / d)["history"] for d in ("mnist", "iris")])
    assert runs[0] == runs[1]
    assert runs[0][0]["val_accuracy"][-1] > 0.5  # it learned: every activation trains


@pytest.mark.slow
def test_the_activation_is_in_metrics_and_titles(capsys, tmp_path, small_mnist):
    result = run_in_process(capsys, "--datasets", "mnist", "--epochs", "1", "--hidden_layers",
                            "[16]",
                            "--mnist_path", small_mnist, "--output_dir", tmp_path,
                            "--activation", "relu")
    assert result.returncode == 0, result.stderr
    assert "network 784-16-10 relu, adam" in words(result.stdout)
    assert read_metrics(tmp_path / "mnist")["activation"] == "relu"


@pytest.mark.slow
def test_iris_learns_with_the_documented_network(capsys, tmp_path):
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", tmp_path,
                            "--hidden_layers", "[256,", "64]")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(tmp_path / "iris")
    assert metrics["test_accuracy"] >= 0.9


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(keras_cache_file()),
                    reason=f"real MNIST not in the Keras cache ({keras_cache_file()}); "
                           f"see README, 'Running offline'")
def test_one_epoch_on_real_mnist_reaches_90_percent(tmp_path):
    status = Main.main(["--datasets", "mnist", "--epochs", "1", "--output_dir", str(tmp_path),
                        "--hidden_layers", "[256,", "64]"])
    assert status == 0
    metrics = read_metrics(tmp_path / "mnist")
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (54000, 6000, 10000)
    assert metrics["test_accuracy"] >= 0.90


def fake_keras(monkeypatch, load_data):
    """Stand-in keras.datasets.mnist modules, so the download path is tested without a download."""
    import types
    mnist = types.ModuleType("keras.datasets.mnist")
    mnist.load_data = load_data
    datasets = types.ModuleType("keras.datasets")
    datasets.mnist = mnist
    keras = types.ModuleType("keras")
    keras.datasets = datasets
    for name, module in (("keras", keras), ("keras.datasets", datasets), ("keras.datasets.mnist",
                                                                          mnist)):
        monkeypatch.setitem(sys.modules, name, module)


def test_mnist_comes_from_keras_when_the_cache_is_empty(tmp_path, monkeypatch):
    from mlp.datasets import load_mnist_arrays
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    images = np.zeros((5, 28, 28), np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    fake_keras(monkeypatch, lambda: ((images, labels), (images[:2], labels[:2])))
    arrays, source, _ = load_mnist_arrays()
    assert source == "keras.datasets.mnist" and arrays[0].shape == (5, 28, 28)


def test_mnist_cache_file_is_read_without_keras(tmp_path, monkeypatch, small_mnist):
    from mlp.datasets import load_mnist_arrays
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_bytes(small_mnist.read_bytes())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_download():
        raise AssertionError("Keras must not be asked when the cache file is there")

    fake_keras(monkeypatch, no_download)
    arrays, source, _ = load_mnist_arrays()
    assert source == str(tmp_path / "datasets" / "mnist.npz") and len(arrays[0]) == 1000


def test_a_failed_download_says_how_to_provide_the_file(tmp_path, monkeypatch):
    from mlp.datasets import DataError, load_mnist_arrays
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline():
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    fake_keras(monkeypatch, offline)
    with pytest.raises(DataError) as raised:
        load_mnist_arrays()
    message = str(raised.value)
    assert "Name or service not known" in message and "--mnist_path" in message
    assert "KERAS_HOME" in message


def pretend_installed(monkeypatch, **installed):
    """Make importlib.util.find_spec see the named modules as installed or not."""
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: (
        (object() if installed[name] else None) if name in installed else real_find_spec(name,
                                                                                         *rest)))


@pytest.mark.parametrize("tensorflow, jax, chosen, expected", [
    (True, False, None, None),      # TensorFlow installed: Keras as it is
    (False, True, None, "jax"),     # Python 3.14: Keras and jax, no TensorFlow
    (False, False, None, None),     # neither: Keras says what is missing, in our one line
    (False, True, "torch", None),   # the user's own choice is kept
    (True, True, "jax", None),
])
def test_which_keras_backend_downloads_mnist(monkeypatch, tensorflow, jax, chosen, expected):
    from mlp.datasets import keras_backend_for_download
    pretend_installed(monkeypatch, tensorflow=tensorflow, jax=jax)
    if chosen is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", chosen)
    assert keras_backend_for_download() == expected


def test_the_download_without_tensorflow_runs_keras_on_jax(tmp_path, monkeypatch):
    from mlp.datasets import load_mnist_arrays
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    pretend_installed(monkeypatch, tensorflow=False, jax=True)
    seen = {}

    def load_data():
        seen["backend"] = os.environ.get("KERAS_BACKEND")
        images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4, dtype=np.uint8)
        return (images, labels), (images, labels)

    fake_keras(monkeypatch, load_data)
    load_mnist_arrays()
    assert seen["backend"] == "jax"


def test_help_imports_neither_tensorflow_nor_matplotlib():
    """--help answers quickly because it loads nothing heavy (numpy only)."""
    probe = ("import runpy, sys\n"
             f"sys.argv = ['Main.py', '--help']\n"
             "try:\n"
             f"    runpy.run_path({MAIN!r}, run_name='__main__')\n"
             "except SystemExit:\n"
             "    pass\n"
             "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib', 'pandas')\n"
             "         if m in sys.modules]\n"
             "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr


def test_the_assignments_command_pasted_with_typographic_dashes(capsys):
    from mlp.flags import parse_args

    pasted = parse_args(["\u2013learning_rate", "0.001", "\u2013epochs", "30",
                         "\u2014hidden_layers",
                         "[256,", "64]", "\u2212seed", "3"])
    note = capsys.readouterr().err
    typed = parse_args(["--learning_rate", "0.001", "--epochs", "30", "--hidden_layers", "[256,",
                        "64]", "--seed", "3"])
    assert vars(pasted) == vars(typed) and typed.training.hidden_sizes == [256, 64]
    assert note == ("Main.py: note: read \u2013learning_rate \u2013epochs \u2014hidden_layers "
                    "\u2212seed as --learning_rate --epochs --hidden_layers --seed: typographic "
                    "dashes (U+2013, U+2014, U+2212), as a word processor writes --\n")


def test_a_flag_that_does_nothing_is_refused_in_every_mode(capsys, tmp_path):
    from helpers import FIXTURES, assert_one_line_error

    assert_one_line_error(run_in_process(capsys, "--datasets", "iris", "--mnist_path", "x.npz"),
                          "argument --mnist_path: does nothing: mnist is not among the data sets")
    assert_one_line_error(run_in_process(capsys, "--csv", "a.csv", "--target", "y", "--datasets",
                                         "mnist"), "argument --datasets: does nothing with --csv")
    model = os.path.join(FIXTURES, "iris_model_v2.npz")
    assert_one_line_error(run_in_process(capsys, "--model", model, "--evaluate", "--mnist_path",
                                         "x.npz"), "argument --mnist_path: does nothing: the model")
    assert_one_line_error(run_in_process(capsys, "--model", model, "--predict", "rows.csv",
                                         "--mnist_path", "x.npz", "--output_dir", tmp_path),
                          "argument --mnist_path: does nothing with --model without --evaluate")


def test_a_new_run_never_writes_over_a_finished_one(capsys, tmp_path):
    flags = ["--datasets", "iris", "--hidden_layers", "[4]", "--output_dir", tmp_path]
    assert run_in_process(capsys, *flags, "--epochs", "2").returncode == 0
    first = (tmp_path / "iris" / "metrics.json").read_bytes()
    for number in (1, 2):
        result = run_in_process(capsys, *flags, "--epochs", "1")
        assert result.returncode == 0
        assert (f"Iris: the earlier run's files in {tmp_path / 'iris'} were moved to "
                f"{tmp_path / 'iris'}.{number}\n") in result.stdout
        moved = f"    the earlier run's files were moved to {tmp_path / 'iris'}.{number}"
        assert moved in result.stdout
    assert (tmp_path / "iris.1" / "metrics.json").read_bytes() == first
    assert sorted(os.listdir(tmp_path)) == ["iris", "iris.1", "iris.2"]
    # --resume of the finished run keeps it where it is.
    result = run_in_process(capsys, *flags, "--epochs", "1", "--resume")
    assert result.returncode == 0 and "moved" not in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["iris", "iris.1", "iris.2"]


def test_the_summary_says_which_epoch_patience_kept(capsys, tmp_path):
    result = run_in_process(capsys, "--datasets", "iris", "--patience", "2", "--output_dir",
                            tmp_path)
    metrics = read_metrics(tmp_path / "iris")
    assert metrics["status"] == "stopped_early"
    assert (f"(stopped early; kept epoch {metrics['best_epoch']}'s weights, the best on "
            f"validation); files in") in result.stdout


def test_hidden_layers_after_an_equals_sign_split_by_the_shell():
    # --hidden_layers=[256, 64] typed without quotes: "unrecognized arguments: 64]".
    assert flags.parse_args(["--hidden_layers=[256,", "64]"]).training.hidden_sizes == [256, 64]
    split = flags.parse_args(["--hidden_layers=256", "64", "--epochs", "2"])
    assert split.training.hidden_sizes == [256, 64]


def test_a_width_written_with_two_dashes_is_named_as_the_hidden_layers_fault(capsys):
    # [100, --1] was "unrecognized arguments: --1]", naming no flag.
    result = run_in_process(capsys, "--hidden_layers", "[100,", "--1]")
    assert_one_line_error(result, "argument --hidden_layers", "'--1' is not a whole number")


@pytest.mark.parametrize("flag, value", [
    ("--learning_rate", "-0.1"), ("--learning_rate", "0"), ("--learning_rate", "nan"),
    ("--learning_rate", "inf"), ("--learning_rate", "fast"),
    ("--epochs", "0"), ("--epochs", "-3"), ("--epochs", "2.5"), ("--epochs", "ten"),
    ("--batch_size", "0"), ("--batch_size", "1.5"), ("--seed", "-1"),
    ("--validation_split", "0"), ("--validation_split", "1"), ("--validation_split", "1.5"),
    ("--validation_split", "nan"), ("--validation_split", "most"),
    ("--optimizer", "rmsprop"), ("--datasets", "cifar10"), ("--dtype", "float16"),
    ("--activation", "softplus"), ("--lr_schedule", "step"),
])
def test_bad_flag_values(capsys, tmp_path, flag, value):
    # A missing MNIST file is given too: the flag must be refused before any data is read.
    result = run_in_process(capsys, flag, value, "--mnist_path", tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, f"argument {flag}")


@pytest.mark.parametrize("tokens, reason", [
    (["[256, 0]"], "at least 1"), (["[-5]"], "at least 1"), (["[256,", "-64]"], "at least 1"),
    (["-5"], "at least 1"), (["[256,", "abc]"], "'abc'"),
    (["[1.5]"], "'1.5'"), (["[256,", "64"], "unbalanced"), (["256,", "64]"], "unbalanced"),
    (["[256,,64]"], "empty item"), (["[256,", "64,]"], "empty item"), (["[[256]]"], "brackets"),
])
def test_bad_hidden_layers(capsys, tmp_path, tokens, reason):
    result = run_in_process(capsys, "--hidden_layers", *tokens, "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --hidden_layers", reason)


def test_a_network_too_large_for_memory_is_refused_before_allocating(capsys, tmp_path):
    started = time.perf_counter()
    result = run_in_process(capsys, "--hidden_layers", "[100000000]", "--output_dir", tmp_path)
    line = assert_one_line_error(result, "argument --hidden_layers", "GiB")
    assert "784-100000000-10, 79,500,000,010 parameters" in line  # 785 * 1e8 + (1e8 + 1) * 10
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("optimizer, copies", [("adam", 5), ("momentum", 4), ("sgd", 3)])
def test_memory_estimate_counts_parameters_and_the_optimizers_copies(optimizer, copies):
    # Weights and gradients, plus Adam's two running means and a scratch buffer (momentum:
    # velocity and scratch; sgd: scratch).
    needed, n_parameters = process.estimated_training_bytes(784, [256, 64], 10, 4, optimizer)
    assert n_parameters == 785 * 256 + 257 * 64 + 65 * 10 == 218058
    assert needed == (copies * 218058 + 8192 * (256 + 64 + 10) * 2) * 4


def test_a_bad_flag_through_the_real_entry_point():
    """The one whole-process flag case: exit status 2 from sys.exit, one line, nothing else."""
    result = run_main("--epochs", "2.5")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("Main.py: error: argument --epochs: '2.5': expected a whole number "
                             "of at least 1 (see Main.py --help)\n")


def test_an_unknown_activation_names_the_choices(capsys, tmp_path):
    result = run_in_process(capsys, "--activation", "softplus", "--mnist_path",
                            tmp_path / "absent.npz",
                            "--output_dir", tmp_path)
    assert_one_line_error(result, "argument --activation", "'softplus'", "sigmoid", "tanh", "relu")


def test_output_dir_that_is_a_file(capsys, tmp_path):
    occupied = tmp_path / "results"
    occupied.write_text("my notes\n")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir", occupied)
    assert_one_line_error(result, "argument --output_dir", "is a file")
    assert occupied.read_text() == "my notes\n"


def test_output_dir_under_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_in_process(capsys, "--datasets", "iris", "--output_dir",
                            tmp_path / "file" / "results")
    assert_one_line_error(result, "argument --output_dir",
                          f"under {tmp_path / 'file'}, which is a file")


@pytest.mark.parametrize("argv, reason", [
    (["--augment_pixels", "2", "--datasets", "mnist"],
     "argument --augment_pixels: does nothing without --augment"),
    (["--explain", "--gradient_check"], "argument --gradient_check: does nothing with --explain"),
    (["--explain", "--model", "m.npz", "--evaluate"],
     "argument --model: does nothing with --explain"),
    (["--model", "m.npz", "--evaluate", "--activation", "tanh"],
     "argument --activation: does nothing with --model"),
    (["--model", "m.npz", "--evaluate", "--output_dir", "x"],
     "argument --output_dir: does nothing with --model without --predict"),
    (["--gradient_check", "--epochs", "3"],
     "argument --epochs: does nothing with --gradient_check"),
    (["--learn", "0.01"], "unrecognized arguments: --learn"),
])
def test_a_flag_that_would_do_nothing_is_refused(capsys, tmp_path, monkeypatch, argv, reason):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run_in_process(capsys, *argv), reason)
    assert os.listdir(tmp_path) == []


def test_weight_decay_that_would_flip_the_weights_is_refused(capsys, tmp_path):
    result = run_in_process(capsys, *IRIS, "--learning_rate", "10", "--weight_decay", "0.2",
                            "--output_dir", tmp_path / "out")
    assert_one_line_error(result, "argument --weight_decay", "= -1 every step", "flips the sign")
    assert not (tmp_path / "out").exists()


def test_flags_typed_with_hyphens_are_read_as_the_underscore_flags(capsys):
    hyphens = flags.parse_args(["--learning-rate", "0.01", "--hidden-layers", "[8,", "4]",
                          "--lr-schedule=constant"])
    note = capsys.readouterr().err.strip()
    plain = flags.parse_args(["--learning_rate", "0.01", "--hidden_layers", "[8,", "4]",
                        "--lr_schedule=constant"])
    training = hyphens.training
    assert (training.learning_rate, training.hidden_sizes, training.lr_schedule) == (
        0.01, [8, 4], "constant")
    assert vars(hyphens) == vars(plain)
    assert note == ("Main.py: note: read --learning-rate --hidden-layers --lr-schedule as "
                    "--learning_rate --hidden_layers --lr_schedule: this program's flags are "
                    "written with underscores")


@pytest.mark.parametrize("typed, suggested", [("--epoch", "--epochs"), ("--learnig_rate",
                                                                        "--learning_rate"),
                                              ("--hiden-layers", "--hidden_layers")])
def test_an_unknown_flag_gets_the_closest_one_suggested(capsys, typed, suggested):
    result = run_in_process(capsys, typed, "3")
    assert_one_line_error(result, f"unrecognized arguments: {typed} 3; did you mean {suggested}?")


# Main.py in a process where TensorFlow, Keras and jax cannot be imported (as after
# pip install -r requirements-without-tensorflow.txt), whatever this machine has installed.
WITHOUT_TENSORFLOW = ("import runpy, sys\n"
                      "sys.modules.update(tensorflow=None, keras=None, jax=None)\n"
                      "sys.argv = sys.argv[1:]\n"
                      "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def test_iris_and_a_cached_mnist_train_without_tensorflow(tmp_path):
    keras_home = tmp_path / "keras"
    (keras_home / "datasets").mkdir(parents=True)
    make_mnist_like(keras_home / "datasets" / "mnist.npz", n_train=600, n_test=100)
    environment = {**os.environ, "KERAS_HOME": str(keras_home)}
    command = [sys.executable, "-c", WITHOUT_TENSORFLOW, MAIN, "--epochs", "3", "--learning_rate",
               "0.01", "--hidden_layers", "[8]", "--output_dir", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    assert {json.loads((tmp_path / "out" / kind / "metrics.json").read_text())["status"]
            for kind in ("mnist", "iris")} == {"completed"}
    (keras_home / "datasets" / "mnist.npz").unlink()
    result = subprocess.run(command + ["--datasets", "mnist"], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert_one_line_error(result, "mnist.npz: MNIST is not there and Keras could not download it",
                          "pass --mnist_path FILE or put mnist.npz in $KERAS_HOME/datasets/")


def test_one_command_sets_its_folders_aside_under_one_number(capsys, tmp_path, small_mnist):
    flags = ["--mnist_path", small_mnist, "--hidden_layers", "[4]", "--epochs", "1",
             "--output_dir", tmp_path / "out"]
    assert run_in_process(capsys, *flags).returncode == 0
    (tmp_path / "out" / "iris.1").mkdir()  # Iris alone was set aside once before
    result = run_in_process(capsys, *flags)
    assert result.returncode == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["iris", "iris.1", "iris.2", "mnist", "mnist.2"]
    assert f"were moved to {tmp_path / 'out' / 'mnist'}.2" in result.stdout
