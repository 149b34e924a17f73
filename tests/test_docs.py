"""README.md and docs/ against what they describe: every quoted result against
docs/results.json, the flags table against the parser, the example outputs against real runs,
the links and pictures against the files."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT
from mlp.datasets import DATASETS
from mlp.flags import DefaultOnceFormatter, build_parser

sys.path.insert(0, os.path.join(ROOT, "docs"))
import reference_runs  # noqa: E402

BLOCK = re.compile(r"<!-- results:(\w+) -->(.*?)<!-- /results -->", re.S)


def read(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


PAGES = {os.path.relpath(path, ROOT): read(path) for path in reference_runs.pages()}


def test_every_quoted_result_is_the_results_files_and_appears_once():
    shown = reference_runs.everything_shown()
    used = []
    for page, text in PAGES.items():
        for name, content in BLOCK.findall(text):
            assert name in shown, (page, name)
            assert content.strip() == shown[name], (
                page, name, "run: python docs/reference_runs.py --only fill")
            used.append(name)
    assert sorted(used) == sorted(shown), "each result is quoted exactly once"


def test_the_flags_table_is_the_parsers():
    block = re.search(r"<!-- flags -->\n(.*?)\n<!-- /flags -->", PAGES["docs/flags.md"], re.S)
    assert block and block.group(1) == flags_table()


def test_the_readme_stays_a_newcomers_page():
    assert len(PAGES["README.md"].splitlines()) <= 230


def test_links_and_pictures_point_at_files():
    for page, text in PAGES.items():
        folder = os.path.dirname(os.path.join(ROOT, page))
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith("http"):
                assert os.path.exists(os.path.join(folder, target)), (page, target)


def test_the_defaults_the_prose_names_are_the_tables():
    mnist = DATASETS["mnist"]
    assert (f"add weight decay {mnist.weight_decay:g}, dropout {mnist.dropout:g} and a "
            f"{mnist.lr_schedule} learning-rate schedule") in " ".join(PAGES["README.md"].split())
    assert f"`--augment_pixels` pixels (default {mnist.augment_pixels})" in PAGES["docs/augment.md"]


# ------------------------------------------------- the cheap commands, as written

@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The project's files in a folder of their own, as a fresh clone has them."""
    folder = tmp_path_factory.mktemp("clone")
    for name in ("Main.py", "Model.py", "HiddenLayer.py", "OutputLayer.py", "iris.data"):
        shutil.copy(os.path.join(ROOT, name), folder)
    shutil.copytree(os.path.join(ROOT, "mlp"), folder / "mlp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def command(folder, line):
    """Run a documented 'python Main.py ...' line in folder; its stdout."""
    words = line.split()
    assert words[:2] == ["python", "Main.py"], line
    result = subprocess.run([sys.executable, *words[1:]], cwd=folder, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", (line, result.stderr)
    return result.stdout


def shown_output(page, after):
    """The indented block that follows the paragraph holding after, in page, as text."""
    text = PAGES[page][PAGES[page].index(after):]
    block = re.search(r"\n\n((?:    .*\n|\n)+)", text).group(1)
    return "\n".join(line[4:] for line in block.rstrip("\n").splitlines())


def test_the_first_command_ends_as_the_readme_says(fresh_copy):
    output = command(fresh_copy, "python Main.py --datasets iris")
    promised = shown_output("README.md", "trains the assignment's network on the 150 flowers")
    assert promised.strip() in output


def test_explain_prints_what_its_page_shows(fresh_copy):
    output = command(fresh_copy, "python Main.py --explain")
    assert output.rstrip("\n") == shown_output("docs/backpropagation.md", "can be found next to")


def test_the_gradient_check_prints_what_its_page_shows(fresh_copy):
    output = command(fresh_copy, "python Main.py --gradient_check --hidden_layers [16, 8]")
    assert output.rstrip("\n") == shown_output("docs/backpropagation.md", "finite differences:")


def test_evaluate_prints_what_its_page_shows(fresh_copy):
    command(fresh_copy, "python Main.py --datasets iris")
    output = command(fresh_copy, "python Main.py --model results/iris/model.npz --evaluate")
    assert output.rstrip("\n") == shown_output("docs/saved-models.md",
                                               "the seed saved in the model")


def flags_table():
    """The flags as a markdown table (flag, default, what it does), made from the parser itself:
    README.md shows it, and a test checks that the two agree."""
    parser = build_parser()
    formatter = DefaultOnceFormatter("Main.py")
    rows = ["| flag | default | what it does |", "|---|---|---|"]
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        text = " ".join(formatter._expand_help(action).split())
        meaning, _, default = text.partition(" (default: ")
        default = default[:-1] if default else ""
        if action.choices and not all(str(choice) in meaning for choice in action.choices):
            meaning += f"; one of {', '.join(map(str, action.choices))}"
        name = action.option_strings[0] + (f" {action.metavar}" if action.metavar else "")
        rows.append(f"| `{name}` | {default} | {meaning.replace('|', '/')} |")
    return "\n".join(rows)
