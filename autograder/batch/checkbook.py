"""The per-check gradebook: ``checks.csv``, one row per (submission, question, check group), with
its points, status and the likely cause of a lost point as a stable code
(:data:`autograder.judge.causes.CAUSES`). Written atomically beside ``final_grades.csv`` after
every submission and read back on the next run, so the class report and the regrade diff see
every submission graded so far.

The records come from the judge (:func:`autograder.judge.grade.check_records`); a submission the
judge never graded (no notebook, refused, undecided) gets one row per check that says so, so every
submission counts in every check's statistics the same way it counts in the gradebook.
"""

import os

import pandas as pd

from .escape import from_csv_cell, shown
from .gradebook import FOLDER, write_csv

COLUMNS = ["file", "name", "email", "sid", "question", "group", "points", "max_points", "status", "cause",
           "message", FOLDER]
#: the status of a check whose submission never reached the judge's checks
NOT_GRADED = "not graded"


class Checkbook:
    def __init__(self, output: str, group_points: dict):
        """``group_points``: ``{(question, group): points}`` of the built autograder, in order."""
        self.path = os.path.join(output, "checks.csv")
        self.group_points = group_points
        self.rows = {}  # folder -> [row]
        if os.path.exists(self.path):
            old = pd.read_csv(self.path, dtype=str, keep_default_na=False)
            for row in old.to_dict("records"):
                row = {k: from_csv_cell(v) for k, v in row.items()}
                for k in ("points", "max_points"):
                    row[k] = float(row[k]) if row.get(k) not in (None, "") else None
                self.rows.setdefault(row[FOLDER], []).append(row)

    def set(self, row: dict, checks) -> None:
        """The checks of the gradebook row ``row`` (a graded submission's records, or none)."""
        who = {k: row.get(k, "") for k in ("file", "name", "email", "sid")}
        undecided = row["total_points_earned"] is None
        records = {(c["question"], c["group"]): c for c in checks or ()}
        rows = []
        for (question, group), points in self.group_points.items():
            record = records.get((question, group))
            if record is None:  # never checked: no points, and why
                record = {"points": None if undecided else 0, "status": "undecided" if undecided else NOT_GRADED,
                          "cause": "grader_undecided" if undecided else "no_notebook",
                          "message": row["grading_status"]}
            rows.append({**who, "question": question, "group": group,
                         "points": None if undecided else float(record["points"]), "max_points": float(points),
                         "status": record["status"], "cause": record["cause"],
                         "message": shown(record["message"], 1000), FOLDER: row[FOLDER]})
        self.rows[row[FOLDER]] = rows

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r for k in sorted(self.rows) for r in self.rows[k]], columns=COLUMNS)

    def save(self) -> None:
        write_csv(self.frame(), self.path)
