"""python Main.py --explain: the assignment's worked example, every number read back from the
output."""

import re

import pytest

from helpers import assert_one_line_error, run_in_process

NUMBER = r"-?\d+\.\d+(?:e[-+]\d+)?"


@pytest.fixture(scope="module")
def output():
    from contextlib import redirect_stdout
    from io import StringIO

    import Main
    printed = StringIO()
    with redirect_stdout(printed):
        assert Main.main(["--explain"]) == 0
    return printed.getvalue()


def values_after(output, label, occurrence=0):
    """The numbers on the occurrence-th line that starts (after spaces) with label."""
    lines = [line for line in output.splitlines() if line.strip().startswith(label)]
    return [float(v) for v in re.findall(NUMBER,
                                         lines[occurrence][len(line_prefix(lines[occurrence],
                                                                           label)):])]


def line_prefix(line, label):
    return line[:line.index(label) + len(label)]


def test_it_exits_0_and_needs_no_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache: no MNIST anywhere
    result = run_in_process(capsys, "--explain")
    assert result.returncode == 0 and result.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_a_flag_it_would_ignore_is_refused(capsys, tmp_path):
    result = run_in_process(capsys, "--explain", "--mnist_path", tmp_path / "absent.npz")
    assert_one_line_error(result, "argument --mnist_path: does nothing with --explain")


def test_forward_pass(output):
    first = values_after(output, "[1, 2]")
    assert first[:3] == pytest.approx([0.09, 0.08, 0.07], rel=1e-6)
    assert first[3:6] == pytest.approx([0.522485, 0.519989, 0.517493], rel=1e-6)
    assert first[6] == pytest.approx(0.0567491, rel=1e-6)
    assert values_after(output, "[1, 3]")[6] == pytest.approx(0.0571482, rel=1e-6)
    assert values_after(output, "[2, 2]")[6] == pytest.approx(0.0572232, rel=1e-6)
    # The assignment prints 0.056 for the first prediction, 0.0567491 rounded is 0.057: marked.
    assert re.search(r"0\.0567491\s+0\.056 \*", output)
    assert re.search(r"0\.0571482\s+0\.057$", output, re.MULTILINE)


def test_backward_pass_with_finite_differences(output):
    assert values_after(output, "dL/dprediction = -2") == pytest.approx([-15.8865], rel=1e-6)
    expected_v = [-15.8865, -8.30046, -8.26081, -8.22115]
    for j, expected in enumerate(expected_v):
        exact, numeric = values_after(output, f"dL/dv{j} = ")[:2]
        assert exact == pytest.approx(expected, rel=1e-5)
        assert numeric == pytest.approx(exact, rel=1e-6)
    rows = [[-0.079272, -0.079272, -0.158544], [-0.118958, -0.118958, -0.237917],
            [-0.158671, -0.158671, -0.317341]]
    for j, expected in enumerate(rows):
        exact = values_after(output, f"unit {j + 1} exact")
        assert exact == pytest.approx(expected, rel=2e-5)
        assert values_after(output, f"unit {j + 1} finite diff.") == pytest.approx(exact, rel=1e-6)


def test_batch_form_is_the_sum_of_single_samples_and_the_finite_difference(output):
    for label in ("dL/dv", "dL/dW unit 1", "dL/dW unit 2", "dL/dW unit 3"):
        batch = values_after(output, f"{label:<12} batch") if label == "dL/dv" else \
            values_after(output, f"{label} batch")
        start = output.index(f"{label} ")
        block = output[start:].splitlines()
        summed = [float(v) for v in re.findall(NUMBER, block[1].split("summed")[1])]
        numeric = [float(v) for v in re.findall(NUMBER, block[2].split("f.d.")[1])]
        assert batch == pytest.approx(summed, rel=1e-12)
        assert batch == pytest.approx(numeric, rel=1e-6)
    assert values_after(output, "dL/dv        batch")[0] == pytest.approx(-47.6578, rel=1e-5)


def test_sigmoid_output_unit(output):
    exact = values_after(output, "dE/dv exact")
    assert exact == pytest.approx([-5.60974, -2.95432, -2.93100, -2.92167], rel=1e-5)
    numeric = [float(v) for v in re.findall(NUMBER, output.split("dE/dv exact")[1].splitlines()[1])]
    assert numeric == pytest.approx(exact, rel=1e-6)


def test_chain_rule(output):
    assert values_after(output, "DF(G(2)) G'(2)") == pytest.approx([12, 131])
    assert values_after(output, "d/dx [3x^2") == pytest.approx([12, 131])
    assert re.search(r"assignment\s+12\s+121 \*", output)
    assert "3 + 16 * 2^3 = 131" in output
