"""The gradebook: ``final_grades.csv`` in the columns of ``otter grade``, written atomically
after every submission, so an interrupted run leaves a consistent file that the next run resumes."""

import os

import pandas as pd

STATUS = "grading_status"


class Gradebook:
    def __init__(self, output: str, questions: list, points: dict):
        self.path = os.path.join(output, "final_grades.csv")
        self.questions, self.points = questions, points
        self.columns = ["file", *questions, "total_points_earned", "percent_correct", STATUS, "name", "email",
                        "review_flags"]
        self.rows = {}
        if os.path.exists(self.path):
            old = pd.read_csv(self.path, dtype={"file": str}, keep_default_na=False)
            for row in old.to_dict("records"):
                self.rows[row["file"]] = row

    def graded(self, key: str) -> bool:
        """Already has a final row (graded or failed with a status) from an earlier run."""
        return key in self.rows and bool(self.rows[key].get(STATUS))

    def add(self, key: str, results, status: str, student: dict, flags: str = "") -> dict:
        scores = {q: 0.0 for q in self.questions}
        for test in (results or {}).get("tests", []):
            if test.get("name") in scores and test.get("score") is not None:
                scores[test["name"]] = float(test["score"])
        total = sum(scores.values())
        row = {"file": key, **scores, "total_points_earned": total,
               "percent_correct": round(100 * total / sum(self.points.values()), 2),
               STATUS: status, "name": student.get("name", ""), "email": student.get("email", ""),
               "review_flags": flags}
        self.rows[key] = row
        self.save()
        return row

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.rows[k] for k in sorted(self.rows)], columns=self.columns)

    def save(self) -> None:
        tmp = self.path + ".tmp"
        self.frame().to_csv(tmp, index=False)
        os.replace(tmp, self.path)
