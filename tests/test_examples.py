"""make grade on the bundled examples: expected scores, summary, histogram, nothing else written."""

import subprocess
import sys
from pathlib import Path

from autograder.batch.report import submission_dir

from conftest import FULL, GROUP_POINTS, PARTLY_WRONG, ROOT, TOTAL, grade


def test_examples_get_their_expected_scores(built, tmp_path):
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    done, book = grade(ROOT / "examples" / "submissions", tmp_path / "grades")
    assert book.loc["correct.ipynb", "total_points_earned"] == TOTAL
    assert book.loc["untouched.ipynb", "total_points_earned"] == 0
    partly = book.loc["partly-wrong.ipynb"]
    assert {q: partly[q] for q in FULL} == PARTLY_WRONG
    assert set(book["grading_status"]) == {"graded"}
    assert list(book.columns[:5]) == ["q1_shapes", "q2_separate", "q3_fused", "q4_rnn_forward", "total_points_earned"]
    out = tmp_path / "grades"
    summary = (out / "summary.md").read_text()
    stats = summary.split("## Where points were lost")[0]
    assert stats.count("| q") == 1 + len(FULL), stats  # the header row and one row per question
    lost = summary.split("## Where points were lost")[1].split("\n## ")[0]
    assert lost.count("\n| q") == 1 + len(GROUP_POINTS), lost  # the header row and one row per check group
    assert (out / "report.html").is_file() and (out / "checks.csv").is_file() and (out / "lms_grades.csv").is_file()
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    feedback = (Path(submission_dir(out, "partly-wrong.ipynb")) / "feedback.txt").read_text()
    assert "separate form" in feedback and f"{sum(PARTLY_WRONG.values())} / {TOTAL}" in feedback
    explained = subprocess.run([sys.executable, "-m", "autograder.explain", str(out), "partly-wrong.ipynb", "q3_fused"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"q3_fused: {PARTLY_WRONG['q3_fused']:g} / {FULL['q3_fused']:g}" in explained
    assert "fused    0/2  FAIL" in explained and "separate form" in explained
    assert "timing   0/1  FAIL  (counts only if: values, fused)" in explained and "measured: timing: " in explained
    assert "counts only once fused passed too" in explained  # fast, but timing is the fused step's point
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before, "grading changed files in the repository"


def test_a_second_run_resumes_and_regrade_grades_again(built, tmp_path):
    sub = tmp_path / "subs"
    sub.mkdir()
    (sub / "a.ipynb").write_bytes((ROOT / "examples" / "submissions" / "untouched.ipynb").read_bytes())
    grade(sub, tmp_path / "out")
    (sub / "b.ipynb").write_bytes((ROOT / "examples" / "submissions" / "untouched.ipynb").read_bytes())
    done, book = grade(sub, tmp_path / "out")
    assert "resuming: 1 already graded" in done.stderr
    assert sorted(book.index) == ["a.ipynb", "b.ipynb"]
    done, book = grade(sub, tmp_path / "out", "--regrade")
    assert "resuming" not in done.stderr


def test_bad_paths_give_a_clear_message_and_a_nonzero_exit(built, tmp_path):
    done, _ = grade(tmp_path / "missing", tmp_path / "o1", check=False)
    assert done.returncode == 2 and "no such file or folder" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "empty").mkdir()
    done, _ = grade(tmp_path / "empty", tmp_path / "o2", check=False)
    assert done.returncode == 2 and "no files to grade" in done.stderr and "Traceback" not in done.stderr
    done, _ = grade(ROOT / "examples" / "submissions", tmp_path / "o3", "--autograder", str(tmp_path / "none.zip"), check=False)
    assert done.returncode == 2 and "make dist" in done.stderr and "Traceback" not in done.stderr


def test_unsafe_mode_gives_the_same_scores_and_marks_the_rows(built, tmp_path):
    done, book = grade(ROOT / "examples" / "submissions", tmp_path / "grades", "--unsafe")
    assert "WITHOUT a sandbox" in done.stderr
    assert dict(book["total_points_earned"]) == {"correct.ipynb": TOTAL, "partly-wrong.ipynb": sum(PARTLY_WRONG.values()),
                                                 "untouched.ipynb": 0}
    assert all("unsafe" in s for s in book["grading_status"])
