"""Grade a batch of submissions with the built autograder zip, without Docker.

    python -m autograder.batch SUBMISSIONS [--output grades] [--workers N] [--regrade] [--only NAME ...] [--unsafe]

SUBMISSIONS is a folder of notebooks (.ipynb) and student export zips, or a Gradescope "Export
Submissions" archive (zip or unpacked). Writes, as results arrive, OUTPUT/final_grades.csv (a
second run resumes, grades again what the grader could not decide, and grades everything again
when the autograder zip changed), OUTPUT/checks.csv (one row per check), OUTPUT/lms_grades.csv,
OUTPUT/submissions/<submission>-<hash>/results.json, feedback.txt and output.txt; then
OUTPUT/report.html (open it first), OUTPUT/summary.md and OUTPUT/histogram.png, and, when it
graded again what OUTPUT already held, OUTPUT/changes.csv.

This process and its worker processes are judges: they never run submission code. Each
submission runs in a runner inside a bubblewrap sandbox; without bubblewrap the grader refuses
unless told --unsafe.
"""

import argparse
import concurrent.futures
import hashlib
import multiprocessing
import os
import sys
import tempfile

import pandas as pd
from tqdm import tqdm

from ..config import NOTEBOOK_TIME_LIMIT_S, RUNNER_MEMORY_MB
from ..judge.submission import NoNotebook, read_file
from ..paths import EXAMPLES, STUDENT, ZIP
from . import changes, class_report, report, review, sandbox, similarity, worker
from .autograder_zip import group_points, totals, unpack
from .checkbook import Checkbook
from .escape import shown
from .gradebook import FOLDER, Gradebook, write_csv
from .report import folder_of
from .submissions import SubmissionsError, discover

DEFAULT_ZIP = str(ZIP)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m autograder.batch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="?", default=str(EXAMPLES))
    p.add_argument("--output", default="grades", help="output folder (default: grades)")
    p.add_argument("--autograder", default=DEFAULT_ZIP, help="the autograder zip built by make dist")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel workers (default: one per core)")
    p.add_argument("--timeout", type=float, default=NOTEBOOK_TIME_LIMIT_S,
                   help=f"seconds a notebook may take to run top to bottom (default {NOTEBOOK_TIME_LIMIT_S:.0f}); "
                        "each hidden check group has its own limit besides")
    p.add_argument("--memory-mb", type=int, default=RUNNER_MEMORY_MB,
                   help=f"address space of one runner in MB (default {RUNNER_MEMORY_MB})")
    p.add_argument("--regrade", action="store_true", help="grade again what the gradebook already has")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="grade (again) only these submissions: file names or paths as in the gradebook's file column; "
                        "their rows are updated in place")
    p.add_argument("--unsafe", action="store_true",
                   help="grade without bubblewrap (submission code can then read your files and reach the network)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no gradebook print")
    return p.parse_args(argv)


def run_pool(args, todo: list, tests_dir: str, config: dict, record) -> list:
    """Grade ``todo`` with a pool of judge workers; returns what is left if the pool broke."""
    context = multiprocessing.get_context("fork")
    counter = context.Value("i", 0)
    workers = max(1, min(args.workers, len(todo)))
    worker.prepare(workers, args.memory_mb, args.unsafe)  # sandboxes boot while this process warms the judge
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=worker.init,
                                                  initargs=(tests_dir, config, args.unsafe, counter))
    left = list(todo)
    try:
        futures = {pool.submit(worker.grade, s.path, args.memory_mb, args.timeout): s for s in todo}
        for future in concurrent.futures.as_completed(futures):
            sub = futures[future]
            try:
                answer = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                return left
            except Exception as error:  # the judge failed on this one: its row says so, the others go on
                answer = {"status": f"error: the grader failed on this submission ({type(error).__name__}: "
                                    f"{error}); grade it again", "results": None, "output": ""}
            record(sub, answer)
            left.remove(sub)
        return left
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def grade_all(args, tmp: str) -> int:
    try:
        subs = discover(args.submissions, os.path.join(tmp, "export"))
    except SubmissionsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.autograder):
        print(f"error: autograder zip not found: {args.autograder} (run: make dist)", file=sys.stderr)
        return 2
    if not args.unsafe and not sandbox.available():
        print(f"error: {sandbox.REFUSAL}", file=sys.stderr)
        return 2
    if args.unsafe:
        print("warning: grading WITHOUT a sandbox (--unsafe): rows are marked unsafe", file=sys.stderr)
    tests_dir, config = unpack(args.autograder, tmp)
    groups = group_points(tests_dir)
    points = totals(groups)
    questions = list(points)
    os.makedirs(args.output, exist_ok=True)
    book = Gradebook(args.output, questions, points, autograder_digest(args.autograder))
    checkbook = Checkbook(args.output, groups)
    before = (book.frame(), checkbook.frame()) if book.rows else None
    regraded = set()
    if args.only:
        wanted = set(args.only)
        subs = [s for s in subs if s.key in wanted or os.path.basename(s.key) in wanted]
        missing = wanted - {s.key for s in subs} - {os.path.basename(s.key) for s in subs}
        if missing:
            print(f"error: not among the submissions: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if os.path.isfile(args.submissions) and book.rows and folder_of(subs[0].key) not in book.rows:
        print(f"note: {subs[0].key} is not in {book.path}, so it is added as a new row; to grade one student of "
              "a Gradescope export again, grade the export with --only <their submission folder>", file=sys.stderr)
    refused = [s for s in subs if s.refused]
    todo = [s for s in subs if not s.refused and (args.regrade or args.only or not book.graded(s.key))]
    if book.stale() and not (args.regrade or args.only):
        print(f"the autograder changed since {book.stale()} row(s) of {book.path} were graded: grading them again",
              file=sys.stderr)
    if len(todo) < len(subs):
        print(f"resuming: {len(subs) - len(todo)} already graded in {book.path} (use --regrade to grade again)",
              file=sys.stderr)
    bar = tqdm(total=len(todo), unit="submission", disable=args.quiet, file=sys.stderr)

    def record(sub, answer):
        try:
            flags = "" if sub.refused else review.flags(sub.path)
        except Exception as error:  # noqa: BLE001 - the review never costs a row
            flags = f"could not be reviewed ({type(error).__name__})"
        row = book.add(sub.key, answer.get("results"), answer["status"], sub.student, flags)
        checkbook.set(row, answer.get("checks"))
        checkbook.save()
        report.write_submission(args.output, sub.key, answer, row, questions, points)
        regraded.add(row[FOLDER])
        bar.update(1)

    for sub in refused:
        record(sub, {"status": f"error: {os.path.basename(sub.key)} is {sub.refused}; it was not read",
                     "results": None, "output": ""})

    try:
        for _ in range(3):  # a judge worker that died takes its pool down: start a new one
            todo = run_pool(args, todo, tests_dir, config, record)
            if not todo:
                break
        for sub in todo:
            record(sub, {"status": "error: the grader failed three times on this batch; grade it again",
                         "results": None, "output": ""})
        again = [s for s in subs if not s.refused and not book.graded(s.key)]
        if again:  # checks the grader could not decide: once more, at the end of the same run
            print(f"grading {len(again)} undecided submission(s) again", file=sys.stderr)
            for sub in run_pool(args, again, tests_dir, config, record):
                record(sub, {"status": "error: the grader failed on this batch; grade it again",
                             "results": None, "output": ""})
    except KeyboardInterrupt:
        print(f"\ninterrupted: {book.path} holds every submission graded so far; run again to resume",
              file=sys.stderr)
        return 130
    finally:
        bar.close()
    diff = None
    if before is not None:
        diff = changes.diff(before[0], book.frame(), before[1], checkbook.frame(), questions, regraded)
        changes.write(args.output, diff)
    pairs = similar(subs, args.output)
    text = class_report.write(args.output, book.frame(), checkbook.frame(), questions, points, diff, pairs)
    if not args.quiet:
        print(book.frame()[["file", *questions, "total_points_earned", "percent_correct", "grading_status"]]
              .to_string(index=False))
        print()
        print(text)
        print(f"report: {os.path.join(args.output, class_report.REPORT_HTML)}")
    return 0


def similar(subs: list, output: str):
    """The pairs of submissions whose answer cells are alike (:mod:`autograder.batch.similarity`),
    also written to ``similar_pairs.csv``; it never changes a score, and its failure costs nothing
    but the report's section (None)."""
    texts = {}
    for sub in subs:
        if not sub.refused:
            try:
                texts[sub.key] = read_file(sub.path)
            except NoNotebook:
                pass
    try:
        baseline = STUDENT.read_text(encoding="utf-8") if STUDENT.is_file() else None
        pairs = similarity.similar_pairs(texts, baseline)
        write_csv(pd.DataFrame([{"a": shown(p.a), "b": shown(p.b), "similarity": round(p.score, 3)} for p in pairs],
                               columns=["a", "b", "similarity"]), os.path.join(output, SIMILAR_CSV))
        return pairs
    except Exception as error:  # noqa: BLE001 - a report section, never a grade
        print(f"warning: the similarity pass failed ({type(error).__name__}: {error}); the report has no "
              "similar pairs", file=sys.stderr)
        return None


#: pairs of similar submissions (the report shows them side by side)
SIMILAR_CSV = "similar_pairs.csv"


def autograder_digest(path: str) -> str:
    """The first 16 hex digits of the zip's SHA-256: which autograder graded a row."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        return grade_all(args, tmp)
