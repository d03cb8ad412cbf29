"""``make bench-timing``: false-failure and detection rates of the fused timing threshold.

Runs the q3 timing check exactly as grading does (a judge process pinned to a core, the
student's function in a real runner in the sandbox, the reference fused step in a reference
runner forked from the judge) N times on each function of :data:`variants.FUSED`, first idle
with every core busy (one spinning process per core), and with every core oversubscribed four
times by processes of which half fork short-lived children; prints pass rates and ratios.

    python -m autograder.bench.timing [--repeat N] [--conditions idle,busy,4x] [--wall]
"""

import argparse
import contextlib
import multiprocessing
import re
import statistics
import tempfile
import time

from ..batch import sandbox, worker
from ..batch.autograder_zip import unpack
from ..config import FUSED_SLOWDOWN_LIMIT
from ..judge import timing
from ..judge.questions import GRADED, CheckFailure, UndecidedFailure
from ..judge.stand_ins import FunctionProxy
from ..paths import EXAMPLES, ZIP
from .load import all_cores_busy, oversubscribed
from .variants import FUSED, function_source, replace_function

SOLUTION = EXAMPLES / "correct.ipynb"
RATIO = re.compile(r"([\d.]+)x the reference")


def measure(repeat: int) -> dict:
    rows = {}
    question = GRADED["q3_fused"]
    for name, (body, _) in FUSED.items():
        text = replace_function(SOLUTION.read_text(), question.function,
                                function_source(question.function, "X, W_xh, H, W_hh", body))
        session = worker.session_for(text)
        passed, ratios, undecided, t0 = 0, [], 0, time.monotonic()
        try:
            for _ in range(repeat):
                try:
                    message = timing.judge(question, FunctionProxy(session, question))
                    passed += 1
                except UndecidedFailure as failure:
                    undecided += 1
                    message = str(failure)
                except CheckFailure as failure:
                    message = str(failure)
                found = RATIO.search(message)
                if found:
                    ratios.append(float(found.group(1)))
        finally:
            session.close()
        rows[name] = (passed, ratios, undecided, (time.monotonic() - t0) / repeat)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--conditions", default="idle,busy,4x", help="idle, busy (a spinner per core), "
                        "4x (four processes per core, half of them forking)")
    parser.add_argument("--wall", action="store_true",
                        help="time wall time, as on Gradescope (runners without a sandbox cgroup)")
    args = parser.parse_args(argv)
    loads = {"idle": contextlib.nullcontext("idle"), "busy": all_cores_busy(), "4x": oversubscribed(4)}
    with tempfile.TemporaryDirectory() as tmp:
        tests_dir, config = unpack(str(ZIP), tmp)
        unsafe = args.wall or not sandbox.available()
        worker.init(tests_dir, config, unsafe, multiprocessing.Value("i", 0))
        unit = "wall time" if unsafe else "processor time"
        print(f"q3 timing check ({unit}), limit {FUSED_SLOWDOWN_LIMIT[unit]}x, {args.repeat} runs per function "
              f"and condition ({'unsandboxed' if unsafe else 'sandboxed'} runner)\n")
        print(f"{'condition':10s} {'function':28s} {'passed':>8s} {'ratio min':>9s} {'median':>7s} {'max':>7s} "
              f"{'undecided':>9s} {'s/check':>8s}")
        for name in args.conditions.split(","):
            with loads[name] as condition:
                rows = measure(args.repeat)
            for function, (passed, ratios, undecided, seconds) in rows.items():
                shown = (f"{min(ratios):9.2f} {statistics.median(ratios):7.2f} {max(ratios):7.2f}" if ratios
                         else f"{'-':>9s} {'-':>7s} {'-':>7s}")
                print(f"{condition:10s} {function:28s} {passed:4d}/{args.repeat:<3d} {shown} {undecided:9d} "
                      f"{seconds:8.2f}", flush=True)
        worker.close()


if __name__ == "__main__":
    main()
