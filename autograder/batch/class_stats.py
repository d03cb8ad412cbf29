"""What the class did, as tables: per question, per check group and per likely cause, computed
with pandas from the gradebook (``final_grades.csv``) and the per-check gradebook (``checks.csv``).

Rows the grader has not decided (``needs-regrade``) are left out of every statistic; they are
listed instead. Everything here is plain data for :mod:`autograder.batch.class_report` to render.
"""

import pandas as pd

from ..judge.causes import CAUSES
from .gradebook import STATUS

#: example submissions linked per likely cause
EXAMPLES_PER_CAUSE = 2


def decided(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["total_points_earned"].notna()]


def questions(frame: pd.DataFrame, questions: list, points: dict) -> pd.DataFrame:
    """question, points, mean, median, full-marks rate (%) over the decided rows, and the total."""
    rows, done = [], decided(frame)
    for q in [*questions, "total_points_earned"]:
        full = points[q] if q in points else sum(points.values())
        col = done[q].astype(float)
        rows.append({"question": q, "points": full, "mean": col.mean() if len(col) else float("nan"),
                     "median": col.median() if len(col) else float("nan"),
                     "full_marks": (col >= full - 1e-9).mean() * 100 if len(col) else 0.0})
    return pd.DataFrame(rows)


def checks(checks: pd.DataFrame) -> pd.DataFrame:
    """Per (question, group), in the autograder's order: max points, decided submissions, how many
    lost points there, and the most common likely causes with their counts and example folders."""
    if checks.empty:
        return pd.DataFrame(columns=["question", "group", "max_points", "submissions", "lost", "causes"])
    points = pd.to_numeric(checks["points"], errors="coerce")
    done = checks[points.notna()].copy()  # an undecided submission has no numbers: left out
    done["lost"] = points[points.notna()] < pd.to_numeric(done["max_points"]) - 1e-9
    order = checks[["question", "group"]].drop_duplicates()
    rows = []
    for question, group in order.itertuples(index=False):
        mine = done[(done["question"] == question) & (done["group"] == group)]
        lost = mine[mine["lost"]]
        rows.append({"question": question, "group": group,
                     "max_points": float(checks[(checks["question"] == question) & (checks["group"] == group)]
                                         ["max_points"].iloc[0]),
                     "submissions": len(mine), "lost": len(lost), "causes": causes(lost)})
    return pd.DataFrame(rows)


def causes(lost: pd.DataFrame) -> list:
    """``[{"cause", "words", "count", "examples": [(file, folder)]}]``, most common first."""
    out = []
    for cause, group in sorted(lost.groupby("cause"), key=lambda item: (-len(item[1]), item[0])):
        examples = [(r["file"], r["folder"]) for r in group.head(EXAMPLES_PER_CAUSE).to_dict("records")]
        out.append({"cause": cause, "words": CAUSES.get(cause, cause), "count": len(group), "examples": examples})
    return out


def review(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["review_flags"].astype(str) != ""]


def needs_regrade(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["total_points_earned"].isna()]


def problems(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that were not simply graded (errors, refused files, undecided)."""
    return frame[~frame[STATUS].astype(str).str.startswith("graded")]
