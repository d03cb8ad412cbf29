"""The Gradescope path, as Gradescope runs it: the zip's own run_autograder, as root, in an
/autograder layout (tests/gradescope_layout.py); results.json per Gradescope's specification."""

import pytest

from autograder.bench import gradescope_layout

from conftest import FULL, GROUP_POINTS, PARTLY_WRONG

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
    assert "Public Tests" not in by_name, "the judge does not run public checks: it must not report on them"
    for question, points in FULL.items():
        assert by_name[question]["score"] == points, by_name[question].get("output")
        assert by_name[question]["max_score"] == points
        assert by_name[question]["visibility"] == "after_published", "hidden results stay hidden until grades are published"
        assert "run_path" not in by_name[question]["output"] and "Error at line" not in by_name[question]["output"]
    print(f"Gradescope-layout grading of one submission: {seconds:.1f} s")


@needs_root_and_bwrap
def test_partly_wrong_notebook_gets_its_points_and_says_why(tmp_path):
    import shutil

    from conftest import ROOT
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "examples" / "submissions" / "partly-wrong.ipynb", sub / "rnn_hidden_state.ipynb")
    results, _, done = gradescope_layout.run(tmp_path, sub / "rnn_hidden_state.ipynb")
    assert scores(results) == PARTLY_WRONG
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
