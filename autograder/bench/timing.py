"""``make bench-timing``: false-failure and detection rates of the fused timing threshold.

Runs the q3 timing check (the same code the hidden test runs, in the same isolated checker) N times
on the correct fused function and on each of a few slow variants, first idle and then with every
core busy, and prints pass rates and the measured ratios.

    python -m autograder.bench.timing [--repeat N]
"""

import argparse
import re
import statistics
import sys
import time

from .load import all_cores_busy

FUNCTIONS = {
    "correct (cat + @)": "def f(X, W_xh, H, W_hh):\n    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)",
    "correct (einsum)": "def f(X, W_xh, H, W_hh):\n    return torch.einsum('nk,kh->nh', torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0))",
    "correct (addmm, zeros)": "def f(X, W_xh, H, W_hh):\n    W = torch.cat((W_xh, W_hh), 0)\n    return torch.addmm(torch.zeros(X.shape[0], W.shape[1], dtype=X.dtype), torch.cat((X, H), 1), W)",
    "row loop": "def f(X, W_xh, H, W_hh):\n    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n    return torch.stack([XH[i] @ W for i in range(XH.shape[0])])",
    "row loop, list comprehension of mm": "def f(X, W_xh, H, W_hh):\n    W = torch.cat((W_xh, W_hh), 0)\n    return torch.cat([torch.mm(torch.cat((X[i:i+1], H[i:i+1]), 1), W) for i in range(X.shape[0])])",
}


def function(source):
    import torch
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace["f"]


def run(checker, repeat):
    rows = {}
    for name, source in FUNCTIONS.items():
        func = function(source)
        passed, ratios, t0 = 0, [], time.monotonic()
        for _ in range(repeat):
            result = checker.run("q3_fused", "timing", func)
            passed += result["passed"]
            m = re.search(r"([\d.]+)x the reference", result["message"])
            if m:
                ratios.append(float(m.group(1)))
        rows[name] = (passed, ratios, (time.monotonic() - t0) / repeat)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    sys.path.insert(0, "autograder")
    from rnn_checks import isolation
    from rnn_checks.config import FUSED_SLOWDOWN_LIMIT
    checker = isolation.Checker()
    print(f"q3 timing check, limit {FUSED_SLOWDOWN_LIMIT}x, {args.repeat} runs per function and condition\n")
    print(f"{'condition':10s} {'function':36s} {'passed':>8s} {'ratio min':>9s} {'median':>7s} {'max':>7s} {'s/check':>8s}")
    for condition in ("idle", "busy"):
        if condition == "busy":
            with all_cores_busy() as n:
                rows = run(checker, args.repeat)
            condition = f"{n} busy"
        else:
            rows = run(checker, args.repeat)
        for name, (passed, ratios, seconds) in rows.items():
            print(f"{condition:10s} {name:36s} {passed:4d}/{args.repeat:<3d} {min(ratios):9.2f} "
                  f"{statistics.median(ratios):7.2f} {max(ratios):7.2f} {seconds:8.2f}")


if __name__ == "__main__":
    main()
