"""Grade a batch of submissions with the built autograder zip, without Docker.

    python -m autograder.batch SUBMISSIONS [--output grades] [--workers N] [--regrade]

SUBMISSIONS is a folder of notebooks (.ipynb) and student export zips, or a Gradescope "Export
Submissions" archive (zip or unpacked). Writes OUTPUT/final_grades.csv (as results arrive; a
second run resumes), OUTPUT/<submission>/results.json and feedback.txt, OUTPUT/summary.md and
OUTPUT/histogram.png.
"""

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile

from tqdm import tqdm

from . import limits, report, review
from .gradebook import Gradebook
from .submissions import SubmissionsError, discover

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from rnn_checks.config import CHECK_TIME_LIMIT_S  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_ZIP = os.path.join(ROOT, "autograder", "rnn_hidden_state-autograder.zip")

#: Per-submission wall time: every hidden check group at its own limit, every public check at its
#: 10 s alarm, and a minute for the notebook itself.
DEFAULT_TIMEOUT_S = 12 * CHECK_TIME_LIMIT_S + 3 * 10 + 60

#: Processes one worker (with its submission, checker and their children) may have at once, when
#: grading as root (root ignores RLIMIT_NPROC; a pids cgroup holds a fork bomb instead).
WORKER_MAX_PIDS = 256


class WorkerStartError(RuntimeError):
    """A worker could not start: nothing can be graded (the message says why)."""


class Worker:
    """One sandboxed worker process (see :mod:`autograder.batch.worker`)."""

    def __init__(self, autograder: str, sandbox: bool):
        self.scratch = tempfile.mkdtemp(prefix="grade-worker-")
        os.chmod(self.scratch, 0o755)  # graded as nobody when run as root: it must reach its folder
        readable = sorted({ROOT, sys.prefix, sys.base_prefix, os.path.dirname(os.path.abspath(autograder))})
        prefix = limits.bwrap_prefix(self.scratch, readable) if sandbox else []
        cmd = [*prefix, sys.executable, "-m", "autograder.batch.worker",
               "--autograder", os.path.abspath(autograder), "--scratch", self.scratch, *(["--sandboxed"] if prefix else [])]
        self.cgroup = limits.pids_cgroup(os.path.basename(self.scratch), WORKER_MAX_PIDS) if os.getuid() == 0 else None
        self.log = tempfile.TemporaryFile()  # the worker's own errors, shown if it cannot start
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, cwd=ROOT, start_new_session=True,
                                     preexec_fn=(lambda: limits.join_cgroup(self.cgroup)) if self.cgroup else None,
                                     env={**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg"})
        self.ready = False  # it warms up (imports, checker) while the caller does other work

    def _wait_ready(self):
        if not self.ready:
            if not self.proc.stdout.readline().startswith('{"ready"'):
                self.proc.wait()
                self.log.seek(0)
                tail = self.log.read().decode(errors="replace").strip().splitlines()[-5:]
                raise WorkerStartError("a grading worker failed to start:\n  " + "\n  ".join(tail))
            self.ready = True

    def grade(self, job_id: int, path: str, timeout: float, memory_mb: int) -> dict:
        """Grade one submission; it is copied into the worker's folder, the only one it can see."""
        self._wait_ready()
        if not os.path.isfile(path):
            return {"id": job_id, "status": "error: no notebook or zip in this submission", "results": None}
        incoming = os.path.join(self.scratch, f"incoming-{job_id}{os.path.splitext(path)[1]}")
        shutil.copyfile(path, incoming)
        try:
            return self._send({"id": job_id, "path": incoming, "timeout": timeout, "memory_mb": memory_mb})
        finally:
            os.remove(incoming)

    def _send(self, job: dict) -> dict:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()  # the worker enforces the time limit itself
        if not line:
            raise ChildProcessError("the submission killed its grading worker")
        return json.loads(line)

    def close(self):
        limits.kill_group(self.proc.pid)
        self.proc.wait()
        if self.cgroup:
            limits.remove_cgroup(self.cgroup)
        shutil.rmtree(self.scratch, ignore_errors=True)


def question_points(autograder: str) -> dict:
    """``{question: points}`` from the autograder zip's test files (Otter's own parser)."""
    from otter.test_files import ExceptionTestFile
    points = {}
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(autograder) as z:
            z.extractall(tmp)
        for name in sorted(os.listdir(os.path.join(tmp, "tests"))):
            tf = ExceptionTestFile.from_file(os.path.join(tmp, "tests", name))
            points[tf.name] = sum(tc.points for tc in tf.test_cases)
    return points


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m autograder.batch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="?", default=os.path.join(ROOT, "examples", "submissions"))
    p.add_argument("--output", default="grades", help="output folder (default: grades)")
    p.add_argument("--autograder", default=DEFAULT_ZIP, help="the autograder zip built by make dist")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel workers (default: one per core)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help=f"seconds per submission (default {DEFAULT_TIMEOUT_S:.0f}: room for every hidden check to "
                        "hit its own limit, so that one hanging function never costs the other questions)")
    p.add_argument("--memory-mb", type=int, default=3000, help="memory per submission in MB (default 3000)")
    p.add_argument("--regrade", action="store_true", help="grade again what the gradebook already has")
    p.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap even if installed")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no gradebook print")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        subs = discover(args.submissions)
    except SubmissionsError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if not os.path.isfile(args.autograder):
        print(f"error: autograder zip not found: {args.autograder} (run: make dist)", file=sys.stderr)
        sys.exit(2)
    sandbox = not args.no_sandbox and bool(limits.bwrap_prefix("/"))
    if not sandbox:
        print("note: " + limits.FALLBACK_NOTE, file=sys.stderr)
    warm = [Worker(args.autograder, sandbox) for _ in range(max(1, min(args.workers, len(subs))))]
    points = question_points(args.autograder)
    questions = list(points)
    os.makedirs(args.output, exist_ok=True)
    book = Gradebook(args.output, questions, points)
    todo = [s for s in subs if args.regrade or not book.graded(s.key)]
    if len(todo) < len(subs):
        print(f"resuming: {len(subs) - len(todo)} already graded in {book.path} (use --regrade to grade again)", file=sys.stderr)

    jobs = queue.Queue()
    for i, s in enumerate(todo):
        jobs.put((i, s))
    lock = threading.Lock()
    bar = tqdm(total=len(todo), unit="submission", disable=args.quiet, file=sys.stderr)

    def record(sub, answer):
        with lock:
            row = book.add(sub.key, answer.get("results"), answer["status"], sub.student, review.flags(sub.path))
            folder = os.path.join(args.output, report.safe_name(sub.key))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "results.json"), "w", encoding="utf-8") as f:
                json.dump(answer.get("results") or {"status": answer["status"]}, f, indent=1, ensure_ascii=False)
            with open(os.path.join(folder, "output.txt"), "w", encoding="utf-8") as f:
                f.write(answer.get("output", ""))
            with open(os.path.join(folder, "feedback.txt"), "w", encoding="utf-8") as f:
                f.write(report.feedback_text(sub.key, row, answer.get("results"), questions, points))
            bar.update(1)

    fatal = []

    def run_worker(worker):
        try:
            while True:
                try:
                    i, sub = jobs.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    worker = Worker(args.autograder, sandbox)
                try:
                    answer = worker.grade(i, sub.path, args.timeout, args.memory_mb)
                except WorkerStartError as error:
                    fatal.append(str(error))
                    return
                except (ChildProcessError, ValueError, OSError) as error:
                    answer = {"status": f"crashed: {error}", "results": None}
                    worker.close()
                    worker = None
                record(sub, answer)
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=run_worker, args=(w,), daemon=True) for w in warm[:max(1, len(todo))]]
    for idle in warm[len(threads):]:
        idle.close()
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        for w in warm:
            w.close()
        print(f"\ninterrupted: {book.path} holds every submission graded so far; run again to resume", file=sys.stderr)
        sys.exit(130)
    finally:
        bar.close()
    if fatal:
        print(f"error: {fatal[0]}", file=sys.stderr)
        sys.exit(3)
    text = report.summary(book.frame(), questions, points, args.output)
    if not args.quiet:
        print(book.frame().drop(columns=["name", "email", "review_flags"]).to_string(index=False))
        print()
        print(text)
    return 0
