"""Grade a batch of submissions with the built autograder zip, without Docker.

    python -m autograder.batch SUBMISSIONS [--output grades] [--workers N] [--regrade] [--only NAME ...] [--unsafe]

SUBMISSIONS is a folder of notebooks (.ipynb) and student export zips, or a Gradescope "Export
Submissions" archive (zip or unpacked). Writes OUTPUT/final_grades.csv (as results arrive; a
second run resumes and grades again what the grader could not decide),
OUTPUT/submissions/<submission>-<hash>/results.json, feedback.txt and output.txt,
OUTPUT/summary.md and OUTPUT/histogram.png.

This process and its worker processes are judges: they never run submission code. Each
submission runs in a runner inside a bubblewrap sandbox; without bubblewrap the grader refuses
unless told --unsafe.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import tempfile

from tqdm import tqdm

from ..config import NOTEBOOK_TIME_LIMIT_S, RUNNER_MEMORY_MB
from ..paths import EXAMPLES, ZIP
from . import report, review, sandbox, worker
from .autograder_zip import question_points, unpack
from .gradebook import Gradebook
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
    points = question_points(tests_dir)
    questions = list(points)
    os.makedirs(args.output, exist_ok=True)
    book = Gradebook(args.output, questions, points)
    if args.only:
        wanted = set(args.only)
        subs = [s for s in subs if s.key in wanted or os.path.basename(s.key) in wanted]
        missing = wanted - {s.key for s in subs} - {os.path.basename(s.key) for s in subs}
        if missing:
            print(f"error: not among the submissions: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    refused = [s for s in subs if s.refused]
    todo = [s for s in subs if not s.refused and (args.regrade or args.only or not book.graded(s.key))]
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
        report.write_submission(args.output, sub.key, answer, row, questions, points)
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
    text = report.summary(book.frame(), questions, points, args.output)
    if not args.quiet:
        print(book.frame().drop(columns=["name", "email", "sid", "review_flags", "folder"]).to_string(index=False))
        print()
        print(text)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        return grade_all(args, tmp)
