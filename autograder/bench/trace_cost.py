"""``make bench-trace``: what the runner's operator trace costs an honest function.

Every call the judge makes runs under :class:`autograder.serving.trace.OpTrace`, so its cost is
part of every check group's time limit. A correct q2 written as a Python loop over rows earns
its value marks, and must finish its values group well inside ``CHECK_TIME_LIMIT_S`` even on a
busy machine. Prints, per style and n (d = h = 100), the processor time of one call untraced and
traced (median of ``--repeat``), and the wall time of the whole values group run on each style.

    python -m autograder.bench.trace_cost [--repeat N]
"""

import argparse
import statistics
import time

import torch

from ..config import CHECK_TIME_LIMIT_S
from ..serving.trace import OpTrace
from .variants import function_source


def _styles() -> dict:
    """q2 written four correct ways (function sources; ``exec`` them to get the functions)."""
    args = "X, W_xh, H, W_hh"
    bodies = {
        "vectorised": "return X @ W_xh + H @ W_hh",
        "row loop into empty": "out = torch.empty(X.shape[0], W_xh.shape[1], dtype=X.dtype, device=X.device)\n"
                               "for i in range(X.shape[0]):\n    out[i] = X[i] @ W_xh + H[i] @ W_hh\nreturn out",
        "row loop + stack": "return torch.stack([X[i] @ W_xh + H[i] @ W_hh for i in range(X.shape[0])])",
        "column loop into zeros": "out = torch.zeros(X.shape[0], W_xh.shape[1], dtype=X.dtype, device=X.device)\n"
                                  "for j in range(W_xh.shape[1]):\n    out[:, j] = X @ W_xh[:, j] + H @ W_hh[:, j]\n"
                                  "return out",
    }
    functions = {}
    for style, body in bodies.items():
        scope = {}
        exec(function_source("hidden_state_separate", args, body), scope)  # our own sources
        functions[style] = scope["hidden_state_separate"]
    return functions


def call_cost(func, n: int, repeat: int) -> tuple:
    """Median processor seconds of one call on (n, 100) inputs: (untraced, traced)."""
    X, H = torch.randn(n, 100), torch.randn(n, 100)
    W_xh, W_hh = torch.randn(100, 100), torch.randn(100, 100)
    plain, traced = [], []
    for _ in range(repeat):
        start = time.process_time()
        func(X, W_xh, H, W_hh)
        plain.append(time.process_time() - start)
        with OpTrace("cpu", (X, W_xh, H, W_hh)) as trace:
            start = time.process_time()
            result = func(X, W_xh, H, W_hh)
            traced.append(time.process_time() - start)
        assert not trace.outside([result]), "an honest function's result counted as computed outside torch"
    return statistics.median(plain), statistics.median(traced)


def values_group_wall(func) -> float:
    """Wall seconds of q2's values group on ``func``, as grading runs it (a forked runner)."""
    from ..judge.local import run_group
    start = time.monotonic()
    run_group("q2_separate", "values", func)
    return time.monotonic() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args(argv)
    torch.manual_seed(0)
    styles = _styles()
    print(f"{'q2 style':24} {'n':>5} {'untraced s':>11} {'traced s':>9} {'traced/untraced':>16}")
    for style, func in styles.items():
        for n in (64, 512, 2048):
            plain, traced = call_cost(func, n, options.repeat)
            print(f"{style:24} {n:5d} {plain:11.4f} {traced:9.3f} {traced / max(plain, 1e-6):15.1f}x")
    print(f"\nq2 values group, wall seconds (limit {CHECK_TIME_LIMIT_S:.0f} s per group)")
    for style, func in styles.items():
        walls = [values_group_wall(func) for _ in range(3)]
        print(f"{style:24} " + "  ".join(f"{w:5.2f}" for w in walls)
              + f"   worst {max(walls) / CHECK_TIME_LIMIT_S:.0%} of the limit")


if __name__ == "__main__":
    main()
