"""Gradescope's layout: source/ (the autograder zip), submission/ (the student's export zip,
extracted), results/; Otter's run_autograder entry point; results.json per Gradescope's spec."""

import json
import subprocess
import sys
import time
import zipfile

from conftest import FULL, ZIP

VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


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


def run_gradescope(tmp_path, export_zip):
    ag = tmp_path / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True)
    with zipfile.ZipFile(ZIP) as z:
        z.extractall(ag / "source")
    with zipfile.ZipFile(export_zip) as z:  # Gradescope unpacks the upload into submission/
        z.extractall(ag / "submission")
    (ag / "submission_metadata.json").write_text("{}")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", "import sys; from otter.run.run_autograder import main; main(sys.argv[1])",
                           str(ag)], cwd=ag, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((ag / "results" / "results.json").read_text()), seconds


def test_export_zip_grades_to_full_marks_in_gradescope_layout(executed_solution, tmp_path):
    _, _, folder = executed_solution
    (export,) = folder.glob("rnn_hidden_state_*.zip")
    results, seconds = run_gradescope(tmp_path, export)
    validate_results(results)
    by_name = {t["name"]: t for t in results["tests"]}
    for question, points in FULL.items():
        assert by_name[question]["score"] == points, by_name[question].get("output")
        assert by_name[question]["max_score"] == points
        assert by_name[question]["visibility"] == "after_published", "hidden results stay hidden until grades are published"
    print(f"Gradescope-layout grading of one submission: {seconds:.1f} s")


def test_validator_rejects_a_malformed_result():
    import pytest
    with pytest.raises(AssertionError):
        validate_results({"tests": [{"name": "q1", "score": 3, "max_score": 2, "visibility": "visible"}]})
    with pytest.raises(AssertionError):
        validate_results({"tests": [{"name": "q1", "score": 1, "max_score": 2, "visibility": "students"}]})
