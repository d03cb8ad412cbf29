"""The instructor's outputs beside the gradebook: checks.csv, lms_grades.csv, the regrade diff and
the class report, built from a synthetic class (no grading) and read back as an instructor would:
the CSVs with pandas, report.html in a real headless browser."""

import pandas as pd
import pytest

from autograder.batch import changes, class_report
from autograder.batch.checkbook import Checkbook
from autograder.batch.gradebook import LMS_CSV, Gradebook
from autograder.batch.submissions import _late

from browser import opened

GROUPS = {("q1", "shapes"): 2, ("q2", "values"): 3, ("q2", "fused"): 1}
POINTS = {"q1": 2, "q2": 4}
HOSTILE = "<img src=x onerror=alert(1)>=1+1"


def record(question, group, points, cause="", status=None):
    return {"question": question, "group": group, "points": points, "max_points": GROUPS[(question, group)],
            "status": status or ("passed" if not cause else "failed"), "cause": cause,
            "message": "ok" if not cause else f"lost ({cause}) <b>bold</b>"}


def results(scores):
    return {"tests": [{"name": q, "score": s} for q, s in scores.items()]}


def grade_class(out, loop_points=0):
    """Five students: two lose q2 fused to a loop, one loses q2 values (elementwise), one is
    undecided, one is a file the grader could not read."""
    book, checks = Gradebook(str(out), list(POINTS), POINTS, "v1"), Checkbook(str(out), GROUPS)
    full = [record("q1", "shapes", 2), record("q2", "values", 3), record("q2", "fused", 1)]
    loop = [record("q1", "shapes", 2), record("q2", "values", 3),
            record("q2", "fused", loop_points, "" if loop_points else "loop_over_rows")]
    wrong = [record("q1", "shapes", 2), record("q2", "values", 0, "elementwise_product"),
             record("q2", "fused", 0, "values_failed")]
    class_ = [("ada.ipynb", {"name": "Ada", "sid": "1", "late": "no"}, "graded", full),
              ("bob.ipynb", {"name": HOSTILE, "sid": "2", "late": "yes"}, "graded", loop),
              ("cy.ipynb", {"name": "Cy", "sid": "3"}, "graded", loop),
              ("dee.ipynb", {"name": "Dee", "sid": "4"}, "graded", wrong),
              ("eve.ipynb", {"name": "Eve", "sid": "5"}, "needs-regrade: the grader could not decide q2 fused", full),
              ("fay.txt", {"name": "Fay", "sid": "6"}, "error: fay.txt is not a notebook", None)]
    for key, student, status, recs in class_:
        scores = {q: sum(r["points"] for r in recs or () if r["question"] == q) for q in POINTS}
        row = book.add(key, results(scores) if recs else None, status, student,
                       "calls exec()" if key == "cy.ipynb" else "")
        checks.set(row, recs)
    checks.save()
    return book, checks


def test_checks_csv_has_a_row_per_check_with_its_cause(tmp_path):
    book, _ = grade_class(tmp_path)
    csv = pd.read_csv(tmp_path / "checks.csv", keep_default_na=False)
    assert len(csv) == len(book.rows) * len(GROUPS)
    lost = csv[(csv["question"] == "q2") & (csv["group"] == "fused") & (csv["cause"] == "loop_over_rows")]
    assert sorted(lost["sid"].astype(str)) == ["2", "3"] and set(lost["points"].astype(str)) == {"0.0"}
    eve = csv[csv["file"] == "eve.ipynb"]
    assert set(eve["points"]) == {""} and set(eve["status"]) == {"passed"}, "an undecided row has no numbers"
    fay = csv[csv["file"] == "fay.txt"]
    assert set(fay["cause"]) == {"no_notebook"} and set(fay["points"].astype(str)) == {"0.0"}
    assert csv.loc[csv["sid"].astype(str) == "2", "name"].iloc[0] == HOSTILE, "a name is kept as it was given"


def test_lms_csv_has_totals_and_leaves_undecided_rows_empty(tmp_path):
    grade_class(tmp_path)
    lms = pd.read_csv(tmp_path / LMS_CSV, keep_default_na=False, dtype=str).set_index("sid")
    assert list(lms.columns[:4]) == ["name", "email", "total", "percent"]
    assert lms.loc["1", "total"] == "6.0" and lms.loc["1", "percent"] == "100.0"
    assert lms.loc["2", "total"] == "5.0" and lms.loc["2", "late"] == "yes"
    assert lms.loc["5", "total"] == "" and lms.loc["5", "percent"] == "", "never a zero to upload for an undecided row"


@pytest.mark.parametrize("meta, late", [({":late": True}, "yes"), ({":late": "false"}, "no"), ({}, "")])
def test_lateness_from_the_export_metadata(meta, late):
    assert _late(meta) == late


def test_the_regrade_diff_lists_every_changed_score_and_check(tmp_path):
    book, checks = grade_class(tmp_path)
    before = (book.frame(), checks.frame())
    book, checks = grade_class(tmp_path, loop_points=1)  # a changed autograder now pays the loop
    diff = changes.diff(before[0], book.frame(), before[1], checks.frame(), list(POINTS),
                        set(book.frame()["folder"]))
    assert sorted(zip(diff["sid"], diff["question"], diff["before"], diff["after"], diff["change"])) == [
        ("2", "q2", 3, 4, 1), ("2", "total", 5, 6, 1), ("3", "q2", 3, 4, 1), ("3", "total", 5, 6, 1)]
    line = diff.loc[diff["question"] == "q2", "checks_changed"].iloc[0]
    assert line.startswith("fused: failed 0/1 (loop_over_rows) -> passed 1/1"), line
    path = changes.write(str(tmp_path), diff)
    assert len(pd.read_csv(path)) == 4


def test_the_report_shows_the_class_in_a_real_browser(tmp_path):
    book, checks = grade_class(tmp_path)
    before = (book.frame(), checks.frame())
    book, checks = grade_class(tmp_path, loop_points=1)
    diff = changes.diff(before[0], book.frame(), before[1], checks.frame(), list(POINTS), set(book.frame()["folder"]))
    text = class_report.write(str(tmp_path), book.frame(), checks.frame(), list(POINTS), POINTS, diff)
    assert "| q2 | values | 3 | 2 of 5 |" in text and "`elementwise_product` 1" in text, text
    with opened(tmp_path / class_report.REPORT_HTML) as (page, requests):
        assert page.evaluate("document.querySelector('#distribution img').naturalWidth") > 0, "histogram not shown"
        values = page.locator("#checks tr[data-question=q2][data-group=values]")
        assert values.get_attribute("data-lost") == "2"
        assert values.locator("li[data-cause=elementwise_product]").get_attribute("data-count") == "1"
        assert "an elementwise * where a matrix product (@) is needed" in values.inner_text()
        link = values.locator("li a").first.get_attribute("href")
        assert link.startswith("submissions/dee.ipynb-") and link.endswith("/feedback.txt")
        assert "eve.ipynb" in page.locator("#regrade").inner_text()
        assert "calls exec()" in page.locator("#review").inner_text()
        assert "not a notebook" in page.locator("#problems").inner_text()
        changed = page.locator("#changes tr[data-question=q2]")
        assert changed.count() == 2 and "+1" in changed.first.inner_text()
        assert HOSTILE in page.locator("#changes").inner_text(), "a student's name is shown as text"
        assert page.locator("#changes img").count() == 0, "a student's name became markup"
        assert requests == [], f"the report is not self-contained, or ran a script: {requests}"
