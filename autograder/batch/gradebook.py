"""The gradebook: ``final_grades.csv`` in the columns of ``otter grade``, written atomically
after every submission, so an interrupted run leaves a consistent file that the next run resumes;
and ``lms_grades.csv``, the same grades in the few columns a learning-management system imports.

Rows are keyed by the submission's output folder (:func:`report.folder_of`, a name the grader
owns); what a student named (the file, their name and email, statuses quoting their files) is
shown with control characters visible, and every text cell is safe to open in a spreadsheet.
"""

import os

import pandas as pd

from .escape import csv_cell, from_csv_cell, shown
from .report import folder_of

STATUS = "grading_status"
FOLDER = "folder"
#: the digest of the autograder zip that graded a row
AUTOGRADER = "autograder"
#: statuses of rows that are graded again by the next run (the grader could not decide them)
RETRY = ("needs-regrade", "error: the grader")


class Gradebook:
    def __init__(self, output: str, questions: list, points: dict, autograder: str = ""):
        """``autograder``: the built zip's digest; a row graded by another autograder is graded again."""
        self.path = os.path.join(output, "final_grades.csv")
        self.questions, self.points, self.autograder = questions, points, autograder
        self.columns = ["file", *questions, "total_points_earned", "percent_correct", STATUS, "name", "email",
                        "sid", "late", "review_flags", FOLDER, AUTOGRADER]
        self.rows = {}
        if os.path.exists(self.path):
            old = pd.read_csv(self.path, dtype=str, keep_default_na=False)
            for row in old.to_dict("records"):
                row = {"late": "", AUTOGRADER: "", **{k: from_csv_cell(v) for k, v in row.items()}}
                for q in [*questions, "total_points_earned", "percent_correct"]:
                    row[q] = float(row[q]) if row.get(q) not in (None, "") else None
                if row.get(FOLDER):
                    self.rows[row[FOLDER]] = row

    def graded(self, key: str) -> bool:
        """Already has a final row from an earlier run, by this autograder (not one the grader
        could not decide)."""
        row = self.rows.get(folder_of(key))
        return (bool(row and row.get(STATUS)) and not str(row[STATUS]).startswith(RETRY)
                and row.get(AUTOGRADER) == self.autograder)

    def stale(self) -> int:
        """How many rows an earlier, different autograder graded."""
        return sum(row.get(AUTOGRADER) != self.autograder for row in self.rows.values())

    def add(self, key: str, results, status: str, student: dict, flags: str = "") -> dict:
        scores = {q: 0.0 for q in self.questions}
        for test in (results or {}).get("tests", []):
            if test.get("name") in scores and test.get("score") is not None:
                scores[test["name"]] = float(test["score"])
        total = sum(scores.values())
        percent = round(100 * total / sum(self.points.values()), 2)
        if status.startswith(RETRY):  # undecided: no number at all until it is graded again
            scores, total, percent = dict.fromkeys(scores), None, None
        row = {"file": shown(key), **scores, "total_points_earned": total, "percent_correct": percent,
               STATUS: shown(status, 500), "name": shown(student.get("name", ""), 200),
               "email": shown(student.get("email", ""), 200), "sid": shown(student.get("sid", ""), 100),
               "late": shown(student.get("late", ""), 10), "review_flags": flags, FOLDER: folder_of(key),
               AUTOGRADER: self.autograder}
        self.rows[row[FOLDER]] = row
        self.save()
        return row

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.rows[k] for k in sorted(self.rows)], columns=self.columns)

    def lms_frame(self) -> pd.DataFrame:
        """name, email, sid, total, percent, late, status: one row per submission; a row the grader
        has not decided has empty total and percent (never a zero to upload)."""
        frame = self.frame()
        return pd.DataFrame({"name": frame["name"], "email": frame["email"], "sid": frame["sid"],
                             "total": frame["total_points_earned"], "percent": frame["percent_correct"],
                             "late": frame["late"], "status": frame[STATUS], "file": frame["file"]})

    def save(self) -> None:
        write_csv(self.frame(), self.path)
        write_csv(self.lms_frame(), os.path.join(os.path.dirname(self.path), LMS_CSV))


#: the learning-management-system export next to final_grades.csv
LMS_CSV = "lms_grades.csv"


def write_csv(frame: pd.DataFrame, path: str) -> None:
    """``frame`` as CSV at ``path``, atomically, every text cell safe in a spreadsheet."""
    tmp = path + ".tmp"
    frame.map(csv_cell).to_csv(tmp, index=False)
    os.replace(tmp, path)
