"""What runs in Jupyter runs when graded: a correct notebook whose cells begin with IPython
magics and shell escapes (``%matplotlib inline``, ``!pip list``, ``%%time``) gets every point on
both paths (red team, round 14: ``%matplotlib inline`` raised in the grader's shell and skipped
the rest of its cell, so a correct q3 scored 0/8 and q1 was "not defined"). Shell escapes are
not run, with a note in the output, on either path."""

import nbformat
import pytest

from autograder.bench import gradescope_layout
from autograder.runner import notebook

from conftest import FULL, TOTAL, grade

#: prepended to every answer cell (q1's shapes and the three functions)
MAGICS = ["%matplotlib inline", "!pip list | head -2", "x = !ls", "%pip install nothing-at-all"]


def with_magics(solution_nb):
    nb = nbformat.from_dict(solution_nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.source.startswith("def ") or "shape_XH =" in cell.source):
            cell.source = "\n".join(MAGICS) + "\n" + cell.source
    return nb


def test_the_grading_shell_runs_a_cell_with_magics_to_its_end(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("\n".join(MAGICS) + "\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
                                          "value = 42\n%time late = 1")]
    namespace = notebook.run(nbformat.writes(nb), str(tmp_path / "n.ipynb"))
    assert (namespace.get("value"), namespace.get("late"), namespace.get("x")) == (42, 1, [])
    assert "the grader does not run shell commands: !pip list" in capsys.readouterr().out


@pytest.mark.slow
def test_a_correct_notebook_with_magics_gets_every_point_in_batch(solution_nb, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(with_magics(solution_nb), folder / "magics.ipynb")
    _, book = grade(folder, tmp_path / "out")
    row = book.loc["magics.ipynb"]
    assert (row["total_points_earned"], row["grading_status"]) == (TOTAL, "graded"), row.to_dict()


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.skipif(not gradescope_layout.available(), reason="needs root, bubblewrap and setpriv")
def test_a_correct_notebook_with_magics_gets_every_point_on_gradescope(solution_nb, tmp_path):
    path = tmp_path / "rnn_hidden_state.ipynb"
    nbformat.write(with_magics(solution_nb), path)
    results, _, done = gradescope_layout.run(tmp_path / "layout", path)
    scores = {t["name"]: t["score"] for t in results["tests"] if t["name"] in FULL}
    assert scores == FULL, (scores, done.stderr[-2000:])
