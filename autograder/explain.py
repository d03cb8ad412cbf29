"""``python -m autograder.explain``: one submission's grade, group by group.

    python -m autograder.explain grades/submissions/<submission> [q3_fused ...]
    python -m autograder.explain grades <file name as graded> [q3_fused ...]

Prints, for each question (all of them by default), every check group with its points earned and
its maximum (read from the autograder zip), the groups it is gated on, the judge's message, and the
figures the judge measured (the timing ratio and its limit, the number of traced calls). It reads
only what grading wrote (``results.json``), so it explains a grade without grading again.
"""

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from .batch.autograder_zip import group_points, unpack
from .batch.report import submission_dir
from .paths import ZIP
from .spec import QUESTIONS

#: one check group's line in a question's output (:func:`autograder.judge.grade.check_lines`):
#: "✅ values 3/3: message" (a message may run on over several lines)
VERDICT = re.compile(r"^(✅|❌) (\w+) [\d.]+/[\d.]+: ", re.M)
#: the one line of the groups not run because the values failed: "– inputs, devices 0/2: not run, ..."
NOT_RUN = re.compile(r"^– ([\w, ]+) [\d.]+/[\d.]+: (.*)$", re.M)
#: the figures the judge writes into its messages
FIGURES = (
    (re.compile(r"([\d.]+)x the reference fused step \(([^,]+), median of (\d+) rounds of (\d+) calls, limit ([\d.]+)x\)"),
     "timing: {0}x the reference fused step by {1} (median of {2} rounds of {3} calls); limit {4}x"),
    (re.compile(r"the same on all (\d+) traced calls"), "operator trace: the same on all {0} traced calls"),
    (re.compile(r"every result of (\d+) calls computed by torch"), "devices: every result of {0} calls computed by torch"),
)


def verdicts(output: str) -> dict:
    """``{group: (passed, message)}`` read from one question's output in results.json."""
    found = list(VERDICT.finditer(output))
    out = {}
    for i, match in enumerate(found):
        end = min([m.start() for m in (*found[i + 1:i + 2], *NOT_RUN.finditer(output)) if m.start() > match.start()]
                  or [len(output)])
        text = output[match.end():end]
        out[match.group(2)] = (match.group(1) == "✅", "\n".join(line.strip() for line in text.strip().splitlines()))
    for match in NOT_RUN.finditer(output):
        for group in match.group(1).split(", "):
            out[group] = (False, match.group(2).strip())
    return out


def figures(message: str) -> list:
    return [template.format(*m.groups()) for pattern, template in FIGURES for m in pattern.finditer(message)]


def explain(results: dict, points: dict, questions) -> str:
    tests = {t.get("name"): t for t in results.get("tests", [])}
    lines = []
    for q in questions:
        spec = QUESTIONS[q]
        test = tests.get(q)
        full = sum(points.get((q, g), 0) for g in spec.groups)
        if test is None:
            lines += [f"{q}: not graded ({results.get('status', 'no results for it')})", ""]
            continue
        lines.append(f"{q}: {test.get('score', 0):g} / {full:g}")
        found = verdicts(test.get("output", ""))
        measured = []
        for group in spec.groups:
            worth = points.get((q, group), 0)
            passed, message = found.get(group, (False, "no verdict recorded (not run)"))
            gate = ", ".join(spec.gate(group)) or "-"
            lines.append(f"  {group:8s} {worth if passed else 0:g}/{worth:g}  {'pass' if passed else 'FAIL'}  "
                         f"(counts only if: {gate})")
            lines += [f"      {line}" for line in message.splitlines()]
            measured += figures(message)
        lines += [f"  measured: {m}" for m in measured] + [""]
    return "\n".join(lines)


def find_results(where: Path, name: str = None) -> Path:
    folder = Path(submission_dir(str(where), name)) if name else where
    path = folder / "results.json" if folder.is_dir() else folder
    if not path.is_file():
        raise SystemExit(f"explain: no results.json in {folder}: give a submission's folder under "
                         "<output>/submissions/, or the output folder and the file name as graded")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", help="a submission's folder (or its results.json), or the output folder")
    parser.add_argument("names", nargs="*", help="the file name as graded (with an output folder), then questions")
    parser.add_argument("--autograder", default=str(ZIP), help="the zip the grade came from (points per group)")
    args = parser.parse_args(argv)
    questions = [n for n in args.names if n in QUESTIONS]
    others = [n for n in args.names if n not in QUESTIONS]
    if len(others) > 1:
        parser.error(f"unknown questions {others[1:]}: the questions are {', '.join(QUESTIONS)}")
    path = find_results(Path(args.where), others[0] if others else None)
    with tempfile.TemporaryDirectory() as tmp:
        points = group_points(unpack(args.autograder, tmp)[0])
    results = json.loads(path.read_text(encoding="utf-8"))
    print(f"{path.parent.name}\n")
    print(explain(results, points, questions or list(QUESTIONS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
