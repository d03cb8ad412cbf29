"""What a student sees: the "Submission received" test (read without running anything), one line
for the checks not run, the points in each prompt, and a q1 public check that neither holds nor
prints the answer. Expected words and points come from the spec, the judge and the build."""

import json
import re
import zipfile

import nbformat
import pytest
from otter.test_files.abstract_test import TestCaseResult as CaseResult
from otter.test_files.exception_test import ExceptionTestFile
from test_dist import leaked_answers

from autograder import explain, hidden_tests, receipt
from autograder.judge import pipeline
from autograder.judge.grade import NOT_RUN, case_keys, check_lines, settle
from autograder.judge.shapes import EXPECTED as SHAPES
from autograder.judge.submission import read_file
from autograder.spec import QUESTIONS

from conftest import GROUP_POINTS, ROOT, dist

EXAMPLES = ROOT / "examples" / "submissions"
TABLE = receipt.answers_from_spec(QUESTIONS)


def _notebook(*sources) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


# --- the receipt -------------------------------------------------------------------------------

def test_the_receipt_of_the_examples_names_every_answer():
    full, complete = receipt.question_lines((EXAMPLES / "correct.ipynb").read_text(), TABLE)
    assert complete and len(full) == len(QUESTIONS)
    for line, q in zip(full, QUESTIONS.values()):
        assert line == (f"{q.name}: {q.function} defined" if q.function else f"{q.name}: {', '.join(q.values)} assigned")
    stubs, complete = receipt.question_lines((EXAMPLES / "untouched.ipynb").read_text(), TABLE)
    assert not complete
    for line, q in zip(stubs, QUESTIONS.values()):
        assert line == (f"{q.name}: {q.function} still the stub (its body is only ... or pass)" if q.function
                        else f"{q.name}: {', '.join(q.values)} still ...")


def test_the_receipt_reads_code_as_the_runner_runs_it_without_running_it():
    text = _notebook("%time x = 1\nshape_XH = (1, 2)", "hidden_state_fused = lambda *a: None",
                     "def rnn_forward(X):\n    return X", "def rnn_forward(X):\n    '''stub'''\n    ...",
                     "def hidden_state_separate(:", "import os; os._exit(3)")
    lines, complete = receipt.question_lines(text, TABLE)
    assert not complete
    assert lines[0] == "q1_shapes: shape_XH assigned; shape_W not assigned in any code cell"
    assert lines[1] == "q2_separate: hidden_state_separate not defined in any code cell"
    assert lines[2] == "q3_fused: hidden_state_fused assigned"
    assert lines[3].startswith("q4_rnn_forward: rnn_forward still the stub")  # the last definition wins
    assert "code cell(s) 5 could not be read" in lines[4]
    ignored = nbformat.reads(_notebook("def rnn_forward(X):\n    return X"), 4)
    ignored.cells[0].metadata["tags"] = ["otter_ignore"]  # the grader skips it: its answer is not there
    assert "rnn_forward not defined" in receipt.question_lines(nbformat.writes(ignored), TABLE)[0][3]
    for garbage in ("", "{", "[1, 2]", '{"cells": 3}', "\x00" * 10, json.dumps({"cells": [{"cell_type": "code"}]})):
        lines, complete = receipt.question_lines(garbage, TABLE)
        assert lines and not complete


def test_the_received_test_names_the_file_and_is_visible_and_worth_nothing(tmp_path):
    export = tmp_path / "rnn_hidden_state (1)_2026.zip"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("rnn_hidden_state (1).ipynb", (EXAMPLES / "untouched.ipynb").read_text())
    test = pipeline.received_test(read_file(str(export)))
    assert test["name"] == pipeline.RECEIVED and test["visibility"] == "visible"
    assert test["score"] == 0 and test["max_score"] == 0
    lines = test["output"].splitlines()
    assert lines[0] == "Graded file: rnn_hidden_state (1).ipynb in rnn_hidden_state (1)_2026.zip"
    assert "q3_fused: hidden_state_fused still the stub" in test["output"] and "save the notebook" in test["output"]
    plain = tmp_path / "mine.ipynb"
    plain.write_text((EXAMPLES / "correct.ipynb").read_text())
    test = pipeline.received_test(read_file(str(plain)))
    assert test["output"].startswith("Graded file: mine.ipynb\n") and "save the notebook" not in test["output"]
    assert test["output"].count(" defined") == sum(1 for q in QUESTIONS.values() if q.function)


# --- one line for the checks not run ----------------------------------------------------------

@pytest.fixture(scope="module")
def tests_dir(tmp_path_factory):
    from autograder.batch.autograder_zip import unpack
    return unpack(str(dist.ZIP), str(tmp_path_factory.mktemp("zip")))[0]


def test_the_checks_not_run_share_one_line_with_their_points(tests_dir):
    question = "q3_fused"
    path = f"{tests_dir}/{question}.py"
    tf = ExceptionTestFile.from_file(path)
    tf.test_case_results = [CaseResult(test_case=tc, message="", passed=False) for tc in tf.test_cases if tc.hidden]
    groups = QUESTIONS[question].groups
    outcomes = {(question, g): (False, f"not run: the {g} check counts only once the values are right")
                for g in groups}
    outcomes[(question, "values")] = (False, "result differs from the float64 reference")
    settle(tf, case_keys(path), outcomes)
    skipped = [g for g in groups if g != "values"]
    output = check_lines(tf, set(skipped))
    lines = output.splitlines()
    assert len(lines) == 2 and " - " not in output and len(set(lines)) == len(lines)
    values = GROUP_POINTS[(question, "values")]
    assert lines[0] == f"❌ values 0/{values}: result differs from the float64 reference"
    rest = sum(GROUP_POINTS[(question, g)] for g in skipped)
    assert lines[1] == (f"{NOT_RUN} {', '.join(skipped)} 0/{rest}: not run, because values failed "
                        "(these checks count only once the values are right)")
    found = explain.verdicts(output)
    assert set(found) == set(groups) and not any(p for p, _ in found.values())
    assert len(check_lines(tf).splitlines()) == len(groups)  # without the session's word, one line each


# --- points in the prompts --------------------------------------------------------------------

def _prompts(notebook_text: str) -> list:
    return [c.source for c in nbformat.reads(notebook_text, 4).cells
            if c.cell_type == "markdown" and re.match(r"\*\*Question \d", c.source)]


def test_each_prompt_shows_its_points_from_the_spec(built):
    prompts = _prompts(built[dist.STUDENT])
    assert len(prompts) == len(QUESTIONS)
    for prompt, q in zip(prompts, QUESTIONS.values()):
        total = sum(GROUP_POINTS[(q.name, g)] for g in q.groups)  # as the built zip's test files say
        assert f"({total} point{'s' if total != 1 else ''} · {total} 分: " in prompt.splitlines()[0]
        assert ", ".join(f"{g} {GROUP_POINTS[(q.name, g)]}" for g in q.groups) in prompt.splitlines()[0]


def test_a_changed_point_value_changes_the_prompt():
    import dataclasses
    master = nbformat.read(dist.MASTER, 4)
    changed = dict(QUESTIONS)
    q = changed["q3_fused"]
    changed["q3_fused"] = dataclasses.replace(q, points={**q.points, "timing": q.points["timing"] + 4})
    prompts = _prompts(nbformat.writes(hidden_tests.with_hidden_tests(master, changed)))
    total = sum(changed["q3_fused"].points.values())
    assert f"({total} points · {total} 分: " in prompts[2] and f"timing {q.points['timing'] + 4})" in prompts[2]


# --- q1's public check holds no answer --------------------------------------------------------

def _public_checks() -> dict:
    namespace = {}
    exec(compile(dist.public_checks_source(), "public_checks", "exec"), namespace)  # the notebook's cell
    return namespace


def test_the_q1_public_check_recognises_the_answer_without_holding_or_printing_it(capsys):
    assert leaked_answers(dist.public_checks_source()) == []
    public_check = _public_checks()["public_check"]
    right = {name: shape for name, (shape, _) in SHAPES.items()}
    public_check("q1_shapes", *right.values())
    assert "shapes ✓" in capsys.readouterr().out
    xh, w = right.values()
    wrong = [((xh[1], xh[0]), w, "swapped"), (xh, (w[0] + 1, w[1]), "number of rows is not right"),
             ((xh[0], xh[1] + 2), w, "number of columns is not right"), ((9, 9), w, "neither"),
             ([xh[0]], w, "tuple of two ints"), ((1.0, 2), w, "tuple of two ints")]
    for shape_xh, shape_w, words in wrong:
        with pytest.raises(AssertionError) as failure:
            public_check("q1_shapes", shape_xh, shape_w)
        message = str(failure.value)
        assert words in message, message
        assert leaked_answers(message) == [], message
        assert "Expected:" in message or "should be" in message
