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
    # The project's files, as git tracks them: a user's scratch script beside them is theirs.
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    names = (tracked.stdout.split() if tracked.returncode == 0 and tracked.stdout
             else os.listdir(ROOT))  # not a git checkout (an unpacked copy): every file
    python_files = sorted(name for name in names if name.endswith(".py") and "/" not in name)
    assert python_files == ["HiddenLayer.py", "Main.py", "Model.py", "OutputLayer.py"]


def test_the_package_never_reaches_back_into_main():
    for name in os.listdir(os.path.join(ROOT, "mlp")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "mlp", name), encoding="utf-8") as stream:
                text = stream.read()
            assert "import Main" not in text and "from Main" not in text, name


def test_the_four_files_copied_alone_say_what_else_they_need(tmp_path):
    import shutil

    for name in ("Main.py", *(f"{module}.py" for module in NETWORK)):
        shutil.copy(os.path.join(ROOT, name), tmp_path)
    result = subprocess.run([sys.executable, "Main.py", "--datasets", "iris"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"Main.py: error: the folder mlp/ is not beside {tmp_path}/Main.py; "
                             f"Main.py needs it (and iris.data) as well as the three network "
                             f"files: copy the whole project folder\n")
    shutil.copytree(os.path.join(ROOT, "mlp"), tmp_path / "mlp")
    result = subprocess.run([sys.executable, "Main.py", "--datasets", "iris"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "iris.data: no such file; expected the UCI iris.data " \
                                      "file (the project ships one beside Main.py)" in result.stderr
    assert not (tmp_path / "results").exists()
