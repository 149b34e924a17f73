"""docs/python.md's promises, checked: its first Python block (Model alone) runs as written,
wherever it is saved. (Its scikit-learn block: tests/test_estimator.py.)"""

import os
import re
import shutil
import subprocess
import sys

from helpers import ROOT


def page():
    with open(f"{ROOT}/docs/python.md", encoding="utf-8") as stream:
        return stream.read()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", page(), flags=re.S)


def run_block(block, cwd, env=None):
    result = subprocess.run([sys.executable, "example.py"], cwd=cwd, capture_output=True,
                            text=True, timeout=120, env={**os.environ, **(env or {})})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def test_the_python_block_trains_iris_with_model_alone_wherever_it_is_saved(tmp_path):
    block = python_blocks()[0]
    imports = re.findall(r"^(?:from|import) (\w+)", block, flags=re.M)
    assert set(imports) == {"numpy", "Model", "pathlib"}  # nothing of the package
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    (alone / "example.py").write_text(block)
    printed = run_block(block, alone, {"PYTHONPATH": ROOT})
    match = re.fullmatch(r"test loss (\d\.\d{3}), test accuracy (\d+\.\d)%\n", printed)
    assert match, printed
    assert float(match.group(2)) >= 90.0
    assert f"It prints `{printed.strip()}`" in page()
    copied = tmp_path / "copied"
    copied.mkdir()
    for name in ("Model.py", "HiddenLayer.py", "OutputLayer.py", "iris.data"):
        shutil.copy(os.path.join(ROOT, name), copied)
    (copied / "example.py").write_text(block)
    assert run_block(block, copied, {"PYTHONPATH": ""}) == printed
