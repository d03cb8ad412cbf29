"""Adding a question touches only the master notebook and one spec entry: a throwaway fifth
question is added to a copy of the repository, built with ``make dist``'s code, and graded on a
right and a wrong answer."""

import os
import shutil
import subprocess
import sys

import nbformat
import pandas as pd

from conftest import FULL, ROOT

SPEC_ENTRY = '''    Question("q5_again", groups=("values", "inputs"), function="hidden_state_again", arguments=STEP_ARGS,
             results=("the result",), family="step"),
'''

CELLS = [
    ("raw", "# BEGIN QUESTION\nname: q5_again"),
    ("markdown", "**Question 5.** Write `hidden_state_again`, the hidden-state term once more."),
    ("raw", "# BEGIN SOLUTION"),
    ("code", "def hidden_state_again(X, W_xh, H, W_hh):\n    \"\"\"(n, d), (d, h), (n, h), (h, h) -> (n, h)\"\"\"\n"
             "    # BEGIN SOLUTION\n    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)\n    # END SOLUTION"),
    ("raw", "# END SOLUTION"),
    ("raw", "# BEGIN TESTS"),
    ("code", '""" # BEGIN TEST CONFIG\npoints: 2\nhidden: true\n""" # END TEST CONFIG\n'
             "def test_q5_hidden_values(hidden_state_again):\n    from autograder.judge import check\n"
             '    check("q5_again", "values", hidden_state_again)\ntest_q5_hidden_values(hidden_state_again)'),
    ("code", '""" # BEGIN TEST CONFIG\npoints: 1\nhidden: true\n""" # END TEST CONFIG\n'
             "def test_q5_hidden_inputs(hidden_state_again):\n    from autograder.judge import check\n"
             '    check("q5_again", "inputs", hidden_state_again)\ntest_q5_hidden_inputs(hidden_state_again)'),
    ("raw", "# END TESTS"),
    ("raw", "# END QUESTION"),
]


def copy_repository(dest):
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def add_question(repo):
    master = repo / "solutions" / "rnn_hidden_state.ipynb"
    nb = nbformat.read(master, 4)
    end_of_q4 = max(i for i, c in enumerate(nb.cells) if c.cell_type == "raw" and c.source.strip() == "# END QUESTION")
    make = {"raw": nbformat.v4.new_raw_cell, "markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells[end_of_q4 + 1:end_of_q4 + 1] = [make[kind](source) for kind, source in CELLS]
    nbformat.write(nb, master)
    spec = repo / "autograder" / "spec.py"
    text = spec.read_text()
    anchor = '             family="sequence"),\n'
    assert anchor in text
    spec.write_text(text.replace(anchor, anchor + SPEC_ENTRY))


def test_a_fifth_question_needs_only_the_master_and_the_spec(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    add_question(repo)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "autograder.dist"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    subs = tmp_path / "subs"
    subs.mkdir()
    solution = (repo / "build" / "solution-submission.ipynb").read_text()
    (subs / "right.ipynb").write_text(solution)
    nb = nbformat.reads(solution, 4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def hidden_state_again(")]
    cell.source = "def hidden_state_again(X, W_xh, H, W_hh):\n    return X @ W_xh\n"
    nbformat.write(nb, subs / "wrong.ipynb")
    done = subprocess.run([sys.executable, "-m", "autograder.batch", str(subs), "--output", str(tmp_path / "out"), "--quiet"],
                          cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    book = pd.read_csv(tmp_path / "out" / "final_grades.csv").set_index("file")
    assert book.loc["right.ipynb", "q5_again"] == 3 and book.loc["wrong.ipynb", "q5_again"] == 0
    for question, points in FULL.items():
        assert book.loc["right.ipynb", question] == points and book.loc["wrong.ipynb", question] == points
