"""The pictures a run saves say what its printed lines say: the same numbers, read out of the
figures themselves (captured as the run saves them), for one run of images."""

import json
import re

import numpy as np
import pytest

from helpers import make_mnist_like, run_in_process, words
from mlp import report


@pytest.fixture(scope="module")
def pictured_run(tmp_path_factory):
    """One short run on MNIST-like images; its printed output, metrics.json and every figure
    it saved, by file name."""
    folder = tmp_path_factory.mktemp("pictured")
    data = make_mnist_like(folder / "mnist.npz", n_train=600, n_test=200, label_noise=0.2)
    figures = {}
    save_figure = report.save_figure

    def keep(figure, path):
        figures[path.rsplit("/", 1)[-1]] = figure
        save_figure(figure, path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "save_figure", keep)
        capsys = _Capture()
        result = run_in_process(capsys, "--datasets", "mnist", "--mnist_path", data, "--epochs",
                                "4", "--hidden_layers", "[32,", "16]", "--batch_size", "16",
                                "--lr_schedule", "cosine", "--output_dir", folder / "out")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((folder / "out" / "mnist" / "metrics.json").read_text())
    return words(result.stdout), metrics, figures


class _Capture:
    """What run_in_process needs of capsys, for a module-scoped fixture: Main's output, read
    from a redirected standard output and error."""

    def __init__(self):
        import contextlib
        import io
        self.out, self.err = io.StringIO(), io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self.out))
        self._stack.enter_context(contextlib.redirect_stderr(self.err))

    def readouterr(self):
        from types import SimpleNamespace
        printed = SimpleNamespace(out=self.out.getvalue(), err=self.err.getvalue())
        self.out.truncate(0), self.out.seek(0), self.err.truncate(0), self.err.seek(0)
        return printed


def lines_by_label(axes):
    return {line.get_label(): np.asarray(line.get_ydata(), float) for line in axes.lines}


def test_the_layer_health_picture_plots_what_the_sentence_reads(pictured_run):
    printed, metrics, figures = pictured_run
    gradient, update, saturated = figures["layer_health.png"].axes[:3]
    # The sentence compares root mean squares per weight in the first epoch: so does the plot.
    ratio = float(re.search(r"got gradients ([\d.]+) times smaller", printed).group(1))
    lines = lines_by_label(gradient)
    assert lines["output"][0] / lines["hidden 1"][0] == pytest.approx(ratio, rel=5e-3)
    assert gradient.get_ylabel() == "root mean square of dL/dW"
    # The update ratios' first-epoch range, and the reference line following the schedule.
    low, high = map(float, re.search(r"weights by ([\d.e+-]+) to ([\d.e+-]+) of their size",
                                     printed).groups())
    lines = lines_by_label(update)
    reference = lines.pop(next(label for label in lines if label.startswith("1e-3")))
    firsts = [values[0] for values in lines.values()]
    assert min(firsts) == pytest.approx(low, rel=0.05) and max(firsts) == pytest.approx(high,
                                                                                        rel=0.05)
    rates = np.asarray(metrics["learning_rates"])
    np.testing.assert_allclose(reference, 1e-3 * rates / rates[0], rtol=1e-6)
    assert reference[-1] < reference[0] / 2  # the cosine schedule takes the reference down
    # The saturation panel's last epoch holds the sentence's share, on the layer it names.
    found = re.search(r"by the last, ([\d.]+)% of (hidden \d)'s activations", printed)
    last = {label: values[-1] for label, values in lines_by_label(saturated).items()}
    assert max(last.values()) == pytest.approx(float(found.group(1)) / 100, abs=5e-4)
    assert max(last, key=last.get) == found.group(2)
    assert all(axes.get_ylabel() for axes in (gradient, update, saturated))


def test_the_calibration_and_confusion_pictures_say_the_summary_numbers(pictured_run):
    printed, metrics, figures = pictured_run
    accuracy, error = map(float, re.search(r"test accuracy ([\d.]+), calibration error ([\d.]+)",
                                           printed).groups())
    title = figures["calibration.png"].axes[0].get_title()
    assert f"expected calibration error {error:.4f}" in title
    bars = figures["calibration.png"].axes[0].patches
    counts = metrics["calibration"]["count"]
    assert len(bars) == sum(1 for count in counts if count)  # no bar for an empty bin
    heights = sorted(bar.get_height() for bar in bars)
    expected = sorted(value for value, count in zip(metrics["calibration"]["accuracy"], counts)
                      if count)
    np.testing.assert_allclose(heights, expected)
    title = figures["confusion_matrix.png"].axes[0].get_title()
    assert f"accuracy {accuracy:.2%}" in title
    assert figures["hidden_weights.png"].axes[-1].get_ylabel() == "weight"  # its colour bar


def test_the_misclassified_captions_give_the_predicted_probability(pictured_run):
    _, metrics, figures = pictured_run
    captions = [axes.get_title() for axes in figures["misclassified.png"].axes if axes.get_title()]
    assert captions, "no misclassified image shown"
    for caption in captions:
        assert re.fullmatch(r"true \d\npredicted \d \(\d{1,3}%\)", caption), caption
    wrong = sum(sum(row) - row[i] for i, row in enumerate(metrics["confusion_matrix"]))
    assert len(captions) == min(24, wrong)


@pytest.mark.parametrize("metric, label", [("loss", "cross-entropy loss"), ("accuracy",
                                                                            "accuracy")])
def test_the_history_plot_draws_both_curves_and_marks_the_best_epoch(metric, label):
    from Model import plot_history

    history = {"loss": [0.9, 0.5, 0.4], "val_loss": [0.8, 0.6, 0.7],
               "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.7, 0.75, 0.74]}
    axes = plot_history(history, metric, "a title", best_epoch=2).axes[0]
    lines = lines_by_label(axes)
    np.testing.assert_array_equal(lines["training"], history[metric])
    np.testing.assert_array_equal(lines["validation"], history["val_" + metric])
    for line in axes.lines[:2]:  # both curves start at epoch 1, with markers
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        assert line.get_marker() == "o"
    assert list(lines["lowest validation loss (epoch 2)"]) == [0, 1]  # a vertical line...
    assert list(axes.lines[2].get_xdata()) == [2, 2]                 # ... at epoch 2
    assert axes.get_ylabel() == label and axes.get_xlabel() == "epoch"
    assert axes.get_title() == "a title"
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "training", "validation", "lowest validation loss (epoch 2)"]
    assert axes.lines[0].get_marker() == "o"  # markers for 30 epochs or fewer
    plain = plot_history(history, metric, "t", n_val=12).axes[0]
    assert len(plain.lines) == 2
    assert [text.get_text() for text in plain.get_legend().get_texts()] == [
        "training", "validation (12 rows)"]
    thirty = {key: values * 10 for key, values in history.items()}  # the assignment's 30 epochs
    assert plot_history(thirty, metric, "t").axes[0].lines[0].get_marker() == "o"
    long = {key: values * 11 for key, values in history.items()}
    assert plot_history(long, metric, "t").axes[0].lines[0].get_marker() in ("None", None, "")


def test_a_calibration_bin_whose_rows_were_all_wrong_is_drawn_and_an_empty_one_is_not():
    from mlp.diagnostics import plot_calibration

    bins = {"upper": [0.25, 0.5, 0.75, 1.0], "count": [0, 1, 2, 7],
            "confidence": [None, 0.4, 0.6, 0.9], "accuracy": [None, 0.0, 0.5, 1.0]}
    axes = plot_calibration(bins, 0.1, "t").axes[0]
    [tops] = axes.collections
    segments = [segment.tolist() for segment in tops.get_segments()]
    assert segments == [[[0.25, 0.0], [0.5, 0.0]], [[0.5, 0.5], [0.75, 0.5]],
                        [[0.75, 1.0], [1.0, 1.0]]]
    assert [text.get_text() for text in axes.texts] == ["1", "2", "7"]
    assert "above each bar its test rows (at 0: none right); no rows, no bar" in axes.get_title()
