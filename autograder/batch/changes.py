"""The regrade diff: grading again into an output that already holds grades (a changed
autograder, ``--regrade``, ``--only``) writes ``changes.csv``: one row per student and question
whose score changed, before and after, with the checks that changed (status, points, message).

Only submissions graded in this run and present before are compared; ``before``, ``after`` and
``change`` are numbers, empty where a row is undecided (no number).
"""

import os

import pandas as pd

from .gradebook import FOLDER, write_csv

CHANGES_CSV = "changes.csv"
COLUMNS = ["file", "name", "email", "sid", "question", "before", "after", "change", "checks_changed", FOLDER]


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def _check_line(before, after) -> str:
    def side(row):
        if row is None:
            return "not checked"
        points = "-" if row["points"] is None or pd.isna(row["points"]) else f"{float(row['points']):g}"
        return f"{row['status']} {points}/{float(row['max_points']):g}" + (f" ({row['cause']})" if row["cause"] else "")
    line = f"{(after or before)['group']}: {side(before)} -> {side(after)}"
    if after is not None and (before is None or before["message"] != after["message"]):
        line += f"; now: {after['message'][:300]}"
    return line


def diff(grades_before: pd.DataFrame, grades_after: pd.DataFrame, checks_before: pd.DataFrame,
         checks_after: pd.DataFrame, questions: list, regraded: set) -> pd.DataFrame:
    """The changes of the submissions in ``regraded`` (output folder names)."""
    before = {r[FOLDER]: r for r in grades_before.to_dict("records")}
    checks_then = {(r[FOLDER], r["question"], r["group"]): r for r in checks_before.to_dict("records")}
    checks_now = {(r[FOLDER], r["question"], r["group"]): r for r in checks_after.to_dict("records")}
    rows = []
    for now in grades_after.to_dict("records"):
        folder = now[FOLDER]
        if folder not in regraded or folder not in before:
            continue
        then = before[folder]
        for q in [*questions, "total_points_earned"]:
            old, new = _number(then.get(q)), _number(now.get(q))
            if old == new:
                continue
            groups = sorted({g for f, qq, g in [*checks_then, *checks_now] if f == folder and qq == q})
            changed = []
            for g in groups:
                a, b = checks_then.get((folder, q, g)), checks_now.get((folder, q, g))
                if a is None or b is None or (a["status"], _number(a["points"]), _number(a["max_points"])) != (
                        b["status"], _number(b["points"]), _number(b["max_points"])):
                    changed.append(_check_line(a, b))
            rows.append({"file": now["file"], "name": now["name"], "email": now["email"], "sid": now["sid"],
                         "question": "total" if q == "total_points_earned" else q, "before": old,
                         "after": new, "change": None if old is None or new is None else new - old,
                         "checks_changed": " | ".join(changed), FOLDER: folder})
    return pd.DataFrame(rows, columns=COLUMNS)


def write(output: str, changes: pd.DataFrame) -> str:
    path = os.path.join(output, CHANGES_CSV)
    write_csv(changes, path)
    return path
