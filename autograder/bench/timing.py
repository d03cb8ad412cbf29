"""``make bench-timing``: false-failure and detection rates of the fused timing threshold.

Runs the q3 timing check exactly as grading does (a judge process pinned to a core, the
student's function in a real runner in the sandbox, the reference fused step in a reference
runner forked from the judge) N times on each function of :data:`variants.FUSED`, first idle
and then with every core busy (one spinning process per core), and prints pass rates and ratios.

    python -m autograder.bench.timing [--repeat N]
"""

import argparse
import multiprocessing
import re
import statistics
import tempfile
import time

from ..batch import sandbox, worker
from ..batch.autograder_zip import unpack
from ..config import FUSED_SLOWDOWN_LIMIT
from ..judge import timing
from ..judge.questions import GRADED, CheckFailure
from ..judge.stand_ins import FunctionProxy
from ..paths import EXAMPLES, ZIP
from .load import all_cores_busy
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
        passed, ratios, t0 = 0, [], time.monotonic()
        try:
            for _ in range(repeat):
                try:
                    message = timing.judge(question, FunctionProxy(session, question))
                    passed += 1
                except CheckFailure as failure:
                    message = str(failure)
                found = RATIO.search(message)
                if found:
                    ratios.append(float(found.group(1)))
        finally:
            session.stop()
        rows[name] = (passed, ratios, (time.monotonic() - t0) / repeat)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--busy-only", action="store_true", help="skip the idle condition")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tests_dir, config = unpack(str(ZIP), tmp)
        worker.init(tests_dir, config, not sandbox.available(), multiprocessing.Value("i", 0))
        print(f"q3 timing check, limit {FUSED_SLOWDOWN_LIMIT}x, {args.repeat} runs per function and condition "
              f"({'sandboxed runner' if sandbox.available() else 'unsandboxed runner'})\n")
        print(f"{'condition':10s} {'function':28s} {'passed':>8s} {'ratio min':>9s} {'median':>7s} {'max':>7s} {'s/check':>8s}")
        for condition in ("busy",) if args.busy_only else ("idle", "busy"):
            if condition == "busy":
                with all_cores_busy() as n:
                    rows = measure(args.repeat)
                condition = f"{n} busy"
            else:
                rows = measure(args.repeat)
            for name, (passed, ratios, seconds) in rows.items():
                shown = (f"{min(ratios):9.2f} {statistics.median(ratios):7.2f} {max(ratios):7.2f}" if ratios
                         else f"{'-':>9s} {'-':>7s} {'-':>7s}")
                print(f"{condition:10s} {name:28s} {passed:4d}/{args.repeat:<3d} {shown} {seconds:8.2f}", flush=True)
        worker.close()


if __name__ == "__main__":
    main()
