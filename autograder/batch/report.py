"""Per-submission output: results.json, feedback.txt and output.txt in the submission's own folder
(the class report is :mod:`autograder.batch.class_report`)."""

import hashlib
import json
import os
import re

from .escape import shown

#: every submission's folder lies in here, apart from the grader's own files
SUBMISSIONS_DIR = "submissions"
#: terminal escape sequences (IPython colours tracebacks): output.txt is read in an editor
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def folder_of(key: str) -> str:
    """The output folder name of a submission: a readable slug and a hash of the whole key, so
    two keys never share a folder and no key names one of the grader's own files."""
    slug = re.sub(r"[^\w.-]+", "_", key, flags=re.UNICODE).strip("._")[:60] or "submission"
    return f"{slug}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def submission_dir(output: str, key: str) -> str:
    return os.path.join(output, SUBMISSIONS_DIR, folder_of(key))


def feedback_text(key: str, row: dict, results, questions: list, points: dict) -> str:
    who = row.get("name") or shown(key)
    total = row["total_points_earned"]
    lines = [f"Feedback for {who}" + (f" ({shown(key)})" if row.get("name") else ""), "",
             f"Total: {'not decided yet' if total is None else f'{total:g}'} / {sum(points.values()):g}",
             f"Grading status: {row['grading_status']}", ""]
    outputs = {t.get("name"): t.get("output", "") for t in (results or {}).get("tests", [])}
    for q in questions:
        got = "-" if row[q] is None else f"{row[q]:g}"
        lines += [f"== {q}: {got} / {points[q]:g}", outputs.get(q, "").strip() or "(no output)", ""]
    return "\n".join(lines)


def write_submission(output: str, key: str, answer: dict, row: dict, questions, points) -> None:
    """``<output>/<submission>/``: results.json, output.txt and feedback.txt of one submission."""
    folder = submission_dir(output, key)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "results.json"), "w", encoding="utf-8") as f:
        json.dump(answer.get("results") or {"status": answer["status"]}, f, indent=1, ensure_ascii=False)
    with open(os.path.join(folder, "output.txt"), "w", encoding="utf-8") as f:
        f.write(ANSI.sub("", answer.get("output", "")))
    with open(os.path.join(folder, "feedback.txt"), "w", encoding="utf-8") as f:
        f.write(feedback_text(key, row, answer.get("results"), questions, points))
