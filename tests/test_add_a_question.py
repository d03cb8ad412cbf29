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

SPEC_ENTRIES = '''    Question("q5_again", groups=("values", "inputs"), function="hidden_state_again", arguments=STEP_ARGS,
             results=("the result",), family="step", points={"values": 2, "inputs": 1}),
    Question("q6_fused_again", groups=("values", "fused"), function="fused_again", arguments=STEP_ARGS,
             results=("the result",), family="step", points={"values": 1, "fused": 3}),
'''


def question_cells(name, function, prompt, with_public_test):
    body = "torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)"
    cells = [
        ("raw", f"# BEGIN QUESTION\nname: {name}"),
        ("markdown", prompt),
        ("raw", "# BEGIN SOLUTION"),
        ("code", f"def {function}(X, W_xh, H, W_hh):\n    \"\"\"(n, d), (d, h), (n, h), (h, h) -> (n, h)\"\"\"\n"
                 f"    # BEGIN SOLUTION\n    return {body}\n    # END SOLUTION"),
        ("raw", "# END SOLUTION"),
        ("raw", "# BEGIN TESTS"),
    ]
    if with_public_test:
        cells.append(("code", '\"\"\" # BEGIN TEST CONFIG\npoints: 0\n\"\"\" # END TEST CONFIG\n'
                              f"def test_{name}_public({function}):\n    assert {function} is not None\n"
                              f"test_{name}_public({function})"))
    return cells + [("raw", "# END TESTS"), ("raw", "# END QUESTION")]


CELLS = (question_cells("q5_again", "hidden_state_again", "**Question 5.** The hidden-state term once more.", False)
         + question_cells("q6_fused_again", "fused_again", "**Question 6.** Fused, once more.", True))


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
    anchor = '             family="sequence", points={"values": 4, "inputs": 1, "devices": 1, "fused": 1}),\n'
    assert anchor in text
    spec.write_text(text.replace(anchor, anchor + SPEC_ENTRIES))


def test_new_questions_need_only_the_master_and_their_spec_entries(tmp_path):
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
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def fused_again(")]
    cell.source = "def fused_again(X, W_xh, H, W_hh):\n    return X @ W_xh + H @ W_hh\n"  # right, not fused
    nbformat.write(nb, subs / "wrong.ipynb")
    done = subprocess.run([sys.executable, "-m", "autograder.batch", str(subs), "--output", str(tmp_path / "out"), "--quiet"],
                          cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    book = pd.read_csv(tmp_path / "out" / "final_grades.csv").set_index("file")
    assert book.loc["right.ipynb", "q5_again"] == 3 and book.loc["wrong.ipynb", "q5_again"] == 0
    assert book.loc["right.ipynb", "q6_fused_again"] == 4 and book.loc["wrong.ipynb", "q6_fused_again"] == 1
    readme = (repo / "README.md").read_text()
    assert "| `q6_fused_again` (4) | `fused_again(X, W_xh, H, W_hh)` | values (1), fused (3) |" in readme
    for question, points in FULL.items():
        assert book.loc["right.ipynb", question] == points and book.loc["wrong.ipynb", question] == points


def test_changing_a_point_value_is_one_line_in_the_spec(tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    spec = repo / "autograder" / "spec.py"
    text = spec.read_text()
    old = 'points={"values": 3, "inputs": 1, "devices": 1, "fused": 2, "timing": 1}'
    assert text.count(old) == 1
    spec.write_text(text.replace(old, old.replace('"timing": 1', '"timing": 4')))
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "autograder.dist"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    import tempfile

    from autograder.batch.autograder_zip import group_points, unpack
    with tempfile.TemporaryDirectory() as tmp:
        points = group_points(unpack(str(repo / "autograder" / "rnn_hidden_state-autograder.zip"), tmp)[0])
    assert points[("q3_fused", "timing")] == 4 and sum(points.values()) == sum(FULL.values()) + 3
    changed = subprocess.run(["git", "diff", "--no-index", "--stat", str(ROOT / "autograder" / "spec.py"), str(spec)],
                             capture_output=True, text=True).stdout
    assert "1 file changed, 1 insertion(+), 1 deletion(-)" in changed


def test_a_spec_that_disagrees_with_itself_or_the_master_is_refused_clearly():
    import nbformat as nbf

    from autograder import hidden_tests, spec
    broken = {k: v for k, v in spec.QUESTIONS.items()}
    q = broken["q2_separate"]
    import dataclasses
    broken["q2_separate"] = dataclasses.replace(q, points={"values": 3, "inputs": -1}, gates={"timing": ("values",)})
    found = "\n".join(spec.problems(broken))
    assert "every group its points exactly once" in found and "whole numbers" in found and "gate 'timing'" in found
    master = nbf.read(ROOT / "solutions" / "rnn_hidden_state.ipynb", 4)
    fewer = {k: v for k, v in spec.QUESTIONS.items() if k != "q4_rnn_forward"}
    try:
        hidden_tests.with_hidden_tests(master, fewer)
    except spec.SpecError as error:
        assert "'q4_rnn_forward' has no entry in autograder/spec.py" in str(error)
    else:
        raise AssertionError("a question missing from the spec was accepted")
