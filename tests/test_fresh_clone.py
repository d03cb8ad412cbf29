"""A new user's walk: clone the repository, ``make dist`` (which creates its own .venv), then
``make grade``; the build leaves ``git status`` empty. Only what is committed takes part."""

import subprocess

import pandas as pd

from conftest import ROOT


def run(cmd, cwd, timeout=1500):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_make_dist_then_make_grade_on_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(ROOT), str(clone)], tmp_path)
    run(["make", "dist"], clone)
    status = run(["git", "status", "--porcelain"], clone).stdout
    assert status == "", f"make dist changed committed files or left untracked ones:\n{status}"
    run(["make", "grade", f"OUTPUT={tmp_path / 'grades'}"], clone)
    book = pd.read_csv(tmp_path / "grades" / "final_grades.csv").set_index("file")
    assert sorted(book.index) == ["correct.ipynb", "partly-wrong.ipynb", "untouched.ipynb"]
    assert book.loc["correct.ipynb", "percent_correct"] == 100
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
