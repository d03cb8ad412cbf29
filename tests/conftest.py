"""Shared fixtures: paths, the built artefacts, and a helper that runs the batch grader."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
from autograder import dist  # noqa: E402

ZIP = dist.ZIP


def _points() -> tuple:
    """``({question: points}, {(question, group): points})`` read from the committed zip's test files."""
    import tempfile

    from autograder.batch.autograder_zip import group_points, question_points, unpack
    with tempfile.TemporaryDirectory() as tmp:
        tests_dir, _ = unpack(str(ZIP), tmp)
        return question_points(tests_dir), group_points(tests_dir)


FULL, GROUP_POINTS = _points()
QUESTIONS = list(FULL)
TOTAL = sum(FULL.values())


def score_without(lost) -> dict:
    """``{question: points}`` of a submission that loses exactly the (question, group) pairs in ``lost``."""
    return {q: FULL[q] - sum(GROUP_POINTS[key] for key in lost if key[0] == q) for q in FULL}


#: examples/submissions/partly-wrong.ipynb: q3 in the separate form loses its operator trace (and
#: with it timing, which counts only for the fused step), q4 re-concatenates the weights at every
#: step and loses its trace too; everything else is right
PARTLY_WRONG = score_without([("q3_fused", "fused"), ("q3_fused", "timing"), ("q4_rnn_forward", "fused")])

#: The test tiers, by module: ``make test-fast`` runs what is not ``slow`` (the edit loop, under
#: two minutes); ``make test`` (CI) runs everything. ``sandbox``: grades in bubblewrap sandboxes
#: (the unsandboxed fallback where bwrap is missing); ``root``: the Gradescope layout as root.
TIERS = {
    "test_add_a_question": ("slow",),
    "test_catalogue": ("slow", "sandbox"),
    "test_dist": ("slow", "root"),
    "test_examples": ("slow", "sandbox"),
    "test_fresh_clone": ("slow",),
    "test_gpu": ("slow", "gpu"),
    "test_gradescope": ("slow", "root"),
    "test_gradescope_export": ("slow", "sandbox"),
    "test_hostile": ("slow", "sandbox", "root"),
    "test_public_checks": ("slow",),
}


#: the modules that take longest, longest first (``--durations`` of a whole run): they start first,
#: so that ``make test``'s two workers (pytest-xdist, one module to a worker, in this order:
#: ``--no-loadscope-reorder``) finish together
LONGEST_FIRST = ("test_hostile", "test_public_checks", "test_catalogue", "test_fresh_clone", "test_gpu",
                 "test_examples", "test_gradescope", "test_front_end", "test_judge_unit")


def pytest_collection_modifyitems(items):
    for item in items:
        for mark in TIERS.get(item.module.__name__, ()):
            item.add_marker(getattr(pytest.mark, mark))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))  # stable: a module's order is kept


@pytest.fixture(scope="session")
def built():
    """The generated files, freshly built from the master once per test session."""
    files = dist.generated_files()
    for path, content in files.items():
        if path == dist.SOLUTION_SUBMISSION or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = path.with_name(f".{path.name}.{os.getpid()}")  # whole, or not there: two workers write it
            fresh.write_bytes(content if isinstance(content, bytes) else content.encode())
            os.replace(fresh, path)
    return files


@pytest.fixture(scope="session")
def solution_nb(built):
    return nbformat.reads(built[dist.SOLUTION_SUBMISSION], 4)


def grade(submissions, output, *extra, check=True):
    """Run ``python -m autograder.batch``; returns (completed process, gradebook DataFrame or None)."""
    done = subprocess.run([sys.executable, "-m", "autograder.batch", str(submissions), "--output", str(output),
                           "--quiet", *extra], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    csv = Path(output) / "final_grades.csv"
    book = pd.read_csv(csv, keep_default_na=False).set_index("file") if csv.exists() else None
    return done, book


def execute_notebook(source: str, folder: Path):
    """Run a notebook top to bottom in a fresh kernel, as ``rnn_hidden_state.ipynb``, as a
    student does. Returns (executed notebook, seconds, the folder the notebook ran in)."""
    import time

    from nbclient import NotebookClient
    workdir = folder
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rnn_hidden_state.ipynb").write_text(source, encoding="utf-8")
    nb = nbformat.reads(source, 4)
    t0 = time.monotonic()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    return nb, time.monotonic() - t0, workdir


@pytest.fixture(scope="session")
def executed_solution(built, tmp_path_factory):
    """(executed notebook, seconds, folder) of the solution run as a student runs it, export included."""
    return execute_notebook(built[dist.SOLUTION_SUBMISSION], tmp_path_factory.mktemp("solution-run"))
