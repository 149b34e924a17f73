"""The shape of the project: the network in three files that stand alone, the rest in mlp/."""

import os
import subprocess
import sys

from helpers import ROOT

NETWORK = ("HiddenLayer", "OutputLayer", "Model")


def modules_loaded_by(statement):
    """The top-level names of the modules that statement loads beyond a bare interpreter's."""
    probe = ("import sys; before = set(sys.modules); " + statement + "; "
             "print(' '.join(sorted({name.split('.')[0] for name in set(sys.modules) - before})))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    return set(result.stdout.split())


def test_the_network_files_load_numpy_and_each_other_only():
    loaded = modules_loaded_by("import " + ", ".join(NETWORK))
    outside = {name for name in loaded - set(sys.stdlib_module_names) - set(NETWORK)
               if name != "numpy" and not name.startswith(("_cython", "cython_runtime"))}
    assert outside == set()  # numpy's own compiled helpers (cython) aside
    assert "numpy" in loaded and "mlp" not in loaded and "matplotlib" not in loaded


def test_the_top_folder_holds_the_four_assignment_files_and_nothing_else_in_python():
    python_files = sorted(name for name in os.listdir(ROOT) if name.endswith(".py"))
    assert python_files == ["HiddenLayer.py", "Main.py", "Model.py", "OutputLayer.py"]


def test_the_package_never_reaches_back_into_main():
    for name in os.listdir(os.path.join(ROOT, "mlp")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "mlp", name), encoding="utf-8") as stream:
                text = stream.read()
            assert "import Main" not in text and "from Main" not in text, name
