"""The instructor's class report: ``report.html`` (one self-contained page: styles inline, the
histogram embedded, opens offline) and ``summary.md`` (the same, as Markdown), with
``histogram.png`` beside them.

What it shows, in order: the score distribution and per-question statistics; per question and
check group how many lost points and the most common likely causes, with counts and links to two
example submissions' feedback; the rows that need a regrade; the submissions to review; grading
problems; the changes since the last grading (a regrade); similar answer cells. Every value a
student controls (names, file names, messages quoting their code) is escaped.
"""

import base64
import html
import io
import os
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from . import class_stats  # noqa: E402
from .escape import markdown, shown  # noqa: E402
from .gradebook import STATUS  # noqa: E402
from .report import SUBMISSIONS_DIR  # noqa: E402

REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
HISTOGRAM = "histogram.png"
#: causes that only follow from another check's failure, shown muted
GATE = {"values_failed": " class=gate", "gate_failed": " class=gate"}
#: similar pairs shown in full in the report (the rest are counted)
MAX_PAIRS = 50


def histogram(frame, points: dict) -> bytes:
    """A PNG of the decided totals, one bar per whole point, integer ticks."""
    done = class_stats.decided(frame)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(done["total_points_earned"].astype(float), bins=range(0, int(sum(points.values())) + 2),
            edgecolor="black", align="left")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="total points", ylabel="submissions", title=f"Totals ({len(done)} submissions)")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def _feedback_link(folder: str) -> str:
    return f"{SUBMISSIONS_DIR}/{folder}/feedback.txt"


def _counts(frame) -> str:
    return (f"Submissions: {len(frame)}; graded: {int(frame[STATUS].astype(str).str.startswith('graded').sum())}; "
            f"with a grading problem: {len(class_stats.problems(frame))}; needing a regrade (left out of the "
            f"statistics): {len(class_stats.needs_regrade(frame))}")


def _pts(value, sign: str = "") -> str:
    """Points as a reader writes them ("-" for none); ``sign="+"`` shows a change's sign."""
    return "-" if value is None or value != value else f"{value:{sign}g}"


def _num(value) -> str:
    return "-" if value != value else f"{value:.2f}"  # NaN: no decided rows


def summary_markdown(frame, checks, questions, points, changes=None, pairs=None) -> str:
    lines = ["# Grading summary", "", _counts(frame), "",
             "| question | points | mean | median | full marks |", "|---|---|---|---|---|"]
    for r in class_stats.questions(frame, questions, points).to_dict("records"):
        lines.append(f"| {r['question']} | {r['points']:g} | {_num(r['mean'])} | {_num(r['median'])} | "
                     f"{r['full_marks']:.0f}% |")
    lines += ["", "## Where points were lost", "", "| question | check | points | lost | most common likely causes |",
              "|---|---|---|---|---|"]
    for r in class_stats.checks(checks).to_dict("records"):
        causes = "; ".join(f"`{c['cause']}` {c['count']} (" + ", ".join(
            f"[{markdown(f, 60)}]({_feedback_link(d)})" for f, d in c["examples"]) + ")" for c in r["causes"][:3])
        lines.append(f"| {r['question']} | {r['group']} | {r['max_points']:g} | {r['lost']} of {r['submissions']} | "
                     f"{causes or '-'} |")
    sections = (("Submissions needing a regrade", class_stats.needs_regrade(frame), STATUS),
                ("Submissions to review", class_stats.review(frame), "review_flags"),
                ("Submissions with a grading problem", class_stats.problems(frame), STATUS))
    for title, rows, column in sections:
        if len(rows):
            lines += ["", f"## {title}", ""]
            lines += [f"- {markdown(r['file'])}: {markdown(r[column])}" for r in rows.to_dict("records")]
    if changes is not None:
        lines += ["", "## Changes since the last grading", ""]
        lines += [f"- {markdown(r['file'])} {markdown(r['name'])}: {r['question']} {_pts(r['before'])} -> "
                  f"{_pts(r['after'])}"
                  + (f" ({markdown(r['checks_changed'], 500)})" if r["checks_changed"] else "")
                  for r in changes.to_dict("records")] or ["No score changed."]
    if pairs is not None:
        lines += ["", "## Similar answers (never changes a score)", ""]
        lines += [f"- {markdown(p.a)} and {markdown(p.b)}: similarity {p.score:.2f}" for p in pairs] or [
            "No pair of submissions above the threshold."]
    return "\n".join(lines) + "\n"


def _e(text, limit: int = 300) -> str:
    return html.escape(shown(text, limit), quote=True)


def _table(head: list, rows: list) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _rows_section(ident: str, title: str, rows, column: str, empty: str) -> str:
    items = "".join(f"<li><a href=\"{_feedback_link(r['folder'])}\">{_e(r['file'])}</a> {_e(r['name'])}: "
                    f"{_e(r[column], 500)}</li>" for r in rows.to_dict("records"))
    return f"<section id=\"{ident}\"><h2>{title} ({len(rows)})</h2>" + (f"<ul>{items}</ul>" if items else f"<p>{empty}</p>") + "</section>"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}li.gate{color:#777}code{background:#f6f6f6;padding:0 .2em}
pre{background:#f8f8f8;border:1px solid #ddd;padding:.5em;overflow-x:auto;max-height:30em;white-space:pre-wrap}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}.muted{color:#666}"""


def report_html(frame, checks, questions, points, png: bytes, changes=None, pairs=None, title="Class report") -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1><p class=\"muted\">{stamp}. {_e(_counts(frame))}</p>"]
    stats = [f"<tr data-question=\"{r['question']}\"><td>{r['question']}</td><td class=num>{r['points']:g}</td>"
             f"<td class=num>{_num(r['mean'])}</td><td class=num>{_num(r['median'])}</td>"
             f"<td class=num>{r['full_marks']:.0f}%</td></tr>"
             for r in class_stats.questions(frame, questions, points).to_dict("records")]
    parts.append("<section id=\"distribution\"><h2>Score distribution</h2>"
                 f"<img alt=\"histogram of total points\" src=\"data:image/png;base64,{base64.b64encode(png).decode()}\">"
                 + _table(["question", "points", "mean", "median", "full marks"], stats) + "</section>")
    rows = []
    for r in class_stats.checks(checks).to_dict("records"):
        causes = "".join(
            f"<li data-cause=\"{_e(c['cause'])}\" data-count=\"{c['count']}\"{GATE.get(c['cause'], '')}>"
            f"<code>{_e(c['cause'])}</code> "
            f"{c['count']}: {_e(c['words'])} (" + ", ".join(f"<a href=\"{_feedback_link(d)}\">{_e(f, 60)}</a>"
                                                           for f, d in c["examples"]) + ")</li>"
            for c in r["causes"])
        rows.append(f"<tr data-question=\"{r['question']}\" data-group=\"{r['group']}\" data-lost=\"{r['lost']}\">"
                    f"<td>{r['question']}</td><td>{r['group']}</td><td class=num>{r['max_points']:g}</td>"
                    f"<td class=num>{r['lost']} of {r['submissions']}</td><td>"
                    + (f"<ul>{causes}</ul>" if causes else "-") + "</td></tr>")
    parts.append("<section id=\"checks\"><h2>Where points were lost</h2>"
                 + _table(["question", "check", "points", "lost", "likely causes (count, examples)"], rows) + "</section>")
    parts.append(_rows_section("regrade", "Needing a regrade", class_stats.needs_regrade(frame), STATUS,
                               "None: every submission was decided."))
    parts.append(_rows_section("review", "To review", class_stats.review(frame), "review_flags", "Nothing stands out."))
    parts.append(_rows_section("problems", "Grading problems", class_stats.problems(frame), STATUS, "None."))
    if changes is not None:
        items = [f"<tr data-file=\"{_e(r['file'])}\" data-question=\"{r['question']}\"><td>{_e(r['file'])}</td>"
                 f"<td>{_e(r['name'])}</td><td>{r['question']}</td><td class=num>{_pts(r['before'])}</td>"
                 f"<td class=num>{_pts(r['after'])}</td><td class=num>{_pts(r['change'], '+')}</td>"
                 f"<td>{_e(r['checks_changed'], 1000)}</td></tr>"
                 for r in changes.to_dict("records")]
        parts.append("<section id=\"changes\"><h2>Changes since the last grading</h2>"
                     + (_table(["file", "name", "question", "before", "after", "change", "checks changed"], items)
                        if items else "<p>No score changed.</p>") + "</section>")
    if pairs is not None:
        shown_pairs = "".join(
            f"<div class=\"similar\" data-a=\"{_e(p.a)}\" data-b=\"{_e(p.b)}\"><h3>{_e(p.a)} and {_e(p.b)}: "
            f"{p.score:.2f}</h3><div class=pair><pre>{html.escape(p.code_a[:5000])}</pre>"
            f"<pre>{html.escape(p.code_b[:5000])}</pre></div></div>" for p in pairs[:MAX_PAIRS])
        more = f"<p>{len(pairs) - MAX_PAIRS} more pairs not shown.</p>" if len(pairs) > MAX_PAIRS else ""
        parts.append("<section id=\"similar\"><h2>Similar answers</h2><p class=muted>Answer cells compared across the "
                     "class, the notebook's own stubs excluded. Similarity never changes a score: read the code.</p>"
                     + (shown_pairs + more if pairs else "<p>No pair of submissions above the threshold.</p>") + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(output: str, frame, checks, questions, points, changes=None, pairs=None, title="Class report") -> str:
    """Writes report.html, summary.md and histogram.png into ``output``; returns the summary text."""
    png = histogram(frame, points)
    with open(os.path.join(output, HISTOGRAM), "wb") as f:
        f.write(png)
    text = summary_markdown(frame, checks, questions, points, changes, pairs)
    for name, content in ((SUMMARY_MD, text), (REPORT_HTML, report_html(frame, checks, questions, points, png,
                                                                         changes, pairs, title))):
        tmp = os.path.join(output, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, os.path.join(output, name))
    return text
