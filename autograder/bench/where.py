"""Where a submission's grading time goes: one judge worker, as ``make grade`` runs it (its
sandbox, its warm-up), grades a notebook N times; prints the wall time of starting the sandbox,
then per submission its seconds, the processor time of the judge and of the sandbox, and the
mean seconds of each check group over the warm submissions (all but the first).

    python -m autograder.bench.where [--runs 6] [NOTEBOOK]
"""

import argparse
import collections
import multiprocessing
import tempfile
import time

from ..batch import worker
from ..batch.autograder_zip import unpack
from ..config import NOTEBOOK_TIME_LIMIT_S, RUNNER_MEMORY_MB
from ..judge import grade as grading
from ..paths import EXAMPLES, ZIP


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", default=str(EXAMPLES / "correct.ipynb"))
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args(argv)
    seconds = collections.defaultdict(float)
    run_check = grading.run_check

    def timed_check(question, group, stand_ins):
        t0 = time.perf_counter()
        try:
            return run_check(question, group, stand_ins)
        finally:
            seconds[f"{question} {group}"] += time.perf_counter() - t0

    grading.run_check = timed_check  # the test files call it through autograder.judge.check
    with tempfile.TemporaryDirectory() as tmp:
        tests_dir, config = unpack(str(ZIP), tmp)
        t0 = time.perf_counter()
        worker.prepare(1)
        worker.init(tests_dir, config, False, multiprocessing.Value("i", 0))
        worker._sandbox(RUNNER_MEMORY_MB)
        print(f"sandbox started and judge warmed: {time.perf_counter() - t0:.2f} s")
        walls = []
        for i in range(args.runs):
            if i == 1:
                seconds.clear()
            box = worker._WORKER["sandbox"]
            judge_cpu, sandbox_ns = time.process_time(), box.cgroup.cpu_ns() if box.cgroup else 0
            t0 = time.perf_counter()
            answer = worker.grade(args.notebook, RUNNER_MEMORY_MB, NOTEBOOK_TIME_LIMIT_S)
            walls.append(time.perf_counter() - t0)
            box = worker._WORKER["sandbox"]
            sandbox = f"{(box.cgroup.cpu_ns() - sandbox_ns) / 1e9:.3f}" if box.cgroup else "-"
            scores = [t["score"] for t in (answer["results"] or {}).get("tests", [])]
            print(f"submission {i}: {walls[-1]:.2f} s, judge processor time {time.process_time() - judge_cpu:.3f} s, "
                  f"sandbox {sandbox} s; {answer['status']} {scores}")
        worker.close()
    warm = max(1, args.runs - 1)
    print(f"\nmean of the warm submissions: {sum(walls[1:]) / warm:.3f} s; per check group:")
    for name, total in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {name:28s} {total / warm:.3f}")


if __name__ == "__main__":
    main()
