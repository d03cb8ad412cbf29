"""The Gradescope path, as Gradescope runs it: the zip's own run_autograder, as root, in an
/autograder layout (tests/gradescope_layout.py); results.json per Gradescope's specification."""

import json
import re
import shutil
from pathlib import Path

import pytest

from autograder.bench import gradescope_layout
from autograder.spec import QUESTIONS

from conftest import FULL, GROUP_POINTS, PARTLY_WRONG, ROOT, grade

VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}

needs_root_and_bwrap = pytest.mark.skipif(not gradescope_layout.available(),
                                          reason="the Gradescope layout needs root, bubblewrap and setpriv")


def validate_results(results: dict) -> None:
    """The parts of Gradescope's results specification the autograder uses."""
    assert isinstance(results.get("tests"), list) and results["tests"]
    for test in results["tests"]:
        assert isinstance(test.get("name"), str) and test["name"]
        assert test.get("visibility", "visible") in VISIBILITIES
        if test.get("score") is not None or test.get("max_score") is not None:
            assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
            assert 0 <= test["score"] <= test["max_score"]
        assert isinstance(test.get("output", ""), str)
    if "score" in results:
        assert isinstance(results["score"], (int, float))
    assert results.get("stdout_visibility", "hidden") in VISIBILITIES


def scores(results) -> dict:
    return {t["name"]: t.get("score") for t in results["tests"]}


@needs_root_and_bwrap
def test_export_zip_grades_to_full_marks_with_the_zips_own_run_autograder(executed_solution, tmp_path):
    _, _, folder = executed_solution
    (export,) = folder.glob("rnn_hidden_state_*.zip")
    results, seconds, done = gradescope_layout.run(tmp_path, export)
    assert done.returncode == 0, done.stderr[-3000:]
    validate_results(results)
    by_name = {t["name"]: t for t in results["tests"]}
    check_student_view(results, "correct")
    assert "Public Tests" not in by_name, "the judge does not run public checks: it must not report on them"
    for question, points in FULL.items():
        assert by_name[question]["score"] == points, by_name[question].get("output")
        assert by_name[question]["max_score"] == points
        assert by_name[question]["visibility"] == "after_published", "hidden results stay hidden until grades are published"
        assert "run_path" not in by_name[question]["output"] and "Error at line" not in by_name[question]["output"]
    print(f"Gradescope-layout grading of one submission: {seconds:.1f} s")


@needs_root_and_bwrap
def test_partly_wrong_notebook_gets_its_points_and_says_why(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "examples" / "submissions" / "partly-wrong.ipynb", sub / "rnn_hidden_state.ipynb")
    results, _, done = gradescope_layout.run(tmp_path, sub / "rnn_hidden_state.ipynb")
    assert {q: s for q, s in scores(results).items() if q in FULL} == PARTLY_WRONG
    q3 = next(t for t in results["tests"] if t["name"] == "q3_fused")["output"]
    assert "separate form" in q3
    lines = q3.splitlines()  # one line per check, with its points, as a student reads it
    values, fused = GROUP_POINTS[("q3_fused", "values")], GROUP_POINTS[("q3_fused", "fused")]
    assert lines[0].startswith(f"✅ values {values}/{values}: ") and any(line.startswith(f"❌ fused 0/{fused}: ") for line in lines)
    assert " - 2 " not in q3 and "result:" not in q3


def test_validator_rejects_a_malformed_result():
    with pytest.raises(AssertionError):
        validate_results({"tests": [{"name": "q1", "score": 3, "max_score": 2, "visibility": "visible"}]})
    with pytest.raises(AssertionError):
        validate_results({"tests": [{"name": "q1", "score": 1, "max_score": 2, "visibility": "students"}]})


# --- what a student sees, on both paths --------------------------------------------------------

EXAMPLE_SCORES = {"correct": FULL, "partly-wrong": PARTLY_WRONG, "untouched": {q: 0 for q in FULL}}
LINE = re.compile(r"^(✅|❌) (\w+) (\d+)/(\d+): \S")
NOT_RUN_LINE = re.compile(r"^– ([\w, ]+) 0/(\d+): not run, because values failed")


def check_student_view(results: dict, example: str) -> None:
    """The received test first and visible; each question one line per check with its points (the
    checks not run for failed values on one line), no Otter numbering, nothing twice."""
    validate_results(results)
    received, *questions = results["tests"]
    assert received["name"] == "Submission received" and received["visibility"] == "visible"
    assert received["score"] == 0 and received["max_score"] == 0
    lines = received["output"].splitlines()
    assert lines[0].startswith("Graded file: ") and ".ipynb" in lines[0]
    for q in QUESTIONS.values():
        (line,) = [x for x in lines if x.startswith(f"{q.name}: ")]
        names = [q.function] if q.function else list(q.values)
        assert all(n in line for n in names), line
        assert (" still " in line) == (example == "untouched"), line
    assert [t["name"] for t in questions] == list(FULL)
    assert sum(t["score"] for t in results["tests"]) == sum(EXAMPLE_SCORES[example].values())
    for test in questions:
        q = QUESTIONS[test["name"]]
        assert test["score"] == EXAMPLE_SCORES[example][q.name] and test["visibility"] == "after_published"
        out = test["output"]
        assert " - 1 " not in out and "result:" not in out and "Test case" not in out, out
        seen = []
        for line in out.splitlines():
            verdict, skipped = LINE.match(line), NOT_RUN_LINE.match(line)
            if verdict:
                group, got, worth = verdict.group(2), int(verdict.group(3)), int(verdict.group(4))
                assert worth == GROUP_POINTS[(q.name, group)] and got in (0, worth), line
                assert (verdict.group(1) == "✅") == (got == worth > 0 or (got == worth == 0 and "✅" in line)), line
                seen.append(group)
            elif skipped:
                groups = skipped.group(1).split(", ")
                assert int(skipped.group(2)) == sum(GROUP_POINTS[(q.name, g)] for g in groups), line
                seen += groups
            else:  # a message may run on over lines (a traceback); it never looks like a verdict
                assert not line.startswith(("✅", "❌", "–")), line
        assert sorted(seen) == sorted(q.groups) and len(set(seen)) == len(seen), (q.name, seen)
        assert out.count("not run, because values failed") == (1 if example == "untouched" and q.function else 0), out


@needs_root_and_bwrap
@pytest.mark.parametrize("example", list(EXAMPLE_SCORES))
def test_the_examples_gradescope_results_show_the_student_what_arrived_and_why(example, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "examples" / "submissions" / f"{example}.ipynb", sub / "rnn_hidden_state.ipynb")
    results, _, done = gradescope_layout.run(tmp_path, sub / "rnn_hidden_state.ipynb")
    assert done.returncode == 0, done.stderr[-3000:]
    check_student_view(results, example)
    assert results["tests"][0]["output"].startswith("Graded file: rnn_hidden_state.ipynb\n")
    assert "your notebook ran with Python" in results["output"]


def test_batch_results_have_the_same_student_view(built, tmp_path):
    from autograder.batch.report import submission_dir
    out = tmp_path / "grades"
    grade(ROOT / "examples" / "submissions", out)
    for example in EXAMPLE_SCORES:
        folder = Path(submission_dir(str(out), f"{example}.ipynb"))
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        check_student_view(results, example)
        assert results["tests"][0]["output"].startswith(f"Graded file: {example}.ipynb\n")
