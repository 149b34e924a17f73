"""README.md's promises, checked: its Python block runs as written."""

import re
import subprocess
import sys

from helpers import ROOT


def readme():
    with open(f"{ROOT}/README.md", encoding="utf-8") as stream:
        return stream.read()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", readme(), flags=re.S)


def test_the_python_block_trains_iris_with_model_alone():
    [block] = python_blocks()
    imports = re.findall(r"^(?:from|import) (\w+)", block, flags=re.M)
    assert set(imports) == {"numpy", "Model"}  # nothing of the package
    result = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    printed = re.fullmatch(r"test loss (\d\.\d{3}), test accuracy (\d+\.\d)%\n", result.stdout)
    assert printed, result.stdout
    assert float(printed.group(2)) >= 90.0
    assert f"It prints `{result.stdout.strip()}`" in readme()
