"""Per-submission feedback and the class summary (statistics and a histogram of totals)."""

import hashlib
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from .escape import markdown, shown  # noqa: E402

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


def summary(frame, questions: list, points: dict, output: str) -> str:
    """Writes summary.md and histogram.png into ``output``; returns the summary text."""
    graded = frame[frame["grading_status"].str.startswith("graded")]
    decided = frame[~frame["grading_status"].str.startswith("needs-regrade")]
    lines = ["# Grading summary", "", f"Submissions: {len(frame)}; graded: {len(graded)}; "
             f"with a grading problem: {len(frame) - len(graded)}; needing a regrade (left out of the "
             f"statistics): {len(frame) - len(decided)}", "",
             "| question | points | mean | median | full marks |", "|---|---|---|---|---|"]
    for q in [*questions, "total_points_earned"]:
        full = points[q] if q in points else sum(points.values())
        col = decided[q].astype(float)
        rate = (col >= full - 1e-9).mean() * 100 if len(col) else 0.0
        lines.append(f"| {q} | {full:g} | {col.mean():.2f} | {col.median():.2f} | {rate:.0f}% |")
    flagged = frame[frame["review_flags"].astype(str) != ""]
    if len(flagged):
        lines += ["", "## Submissions to review", ""]
        lines += [f"- {markdown(r['file'])}: {markdown(r['review_flags'])}" for r in flagged.to_dict("records")]
    problems = frame[~frame["grading_status"].str.startswith("graded")]
    if len(problems):
        lines += ["", "## Submissions with a grading problem", ""]
        lines += [f"- {markdown(r['file'])}: {markdown(r['grading_status'])}" for r in problems.to_dict("records")]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(output, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(decided["total_points_earned"].astype(float), bins=range(0, int(sum(points.values())) + 2),
            edgecolor="black", align="left")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="total points", ylabel="submissions", title=f"Totals ({len(decided)} submissions)")
    fig.tight_layout()
    fig.savefig(os.path.join(output, "histogram.png"), dpi=100)
    plt.close(fig)
    return text


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
