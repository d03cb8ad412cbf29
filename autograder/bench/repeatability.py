"""``make bench-repeat``: the same notebooks get the same grades, idle and beside a build-like load.

Grades the examples and the timing variants (:data:`variants.FUSED` in the correct solution)
``--runs`` times idle and ``--runs`` times beside a build-like load (by default 6 spinning
processes and 2 that fork short-lived children, on every core, unpinned), each run a fresh
``python -m autograder.batch``, and prints every submission's scores per run. A row either has
the same scores in every run or says ``needs-regrade``; any other difference is a failure
(exit status 1).

    python -m autograder.bench.repeatability [--runs 3] [--busy 6] [--forking 2]
"""

import argparse
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from ..judge.questions import GRADED
from ..paths import EXAMPLES
from .load import FORKER, _running, _spawn
from .variants import FUSED, function_source, replace_function


def notebooks(folder: Path) -> None:
    for path in sorted(EXAMPLES.glob("*.ipynb")):
        (folder / path.name).write_text(path.read_text())
    question = GRADED["q3_fused"]
    correct = (EXAMPLES / "correct.ipynb").read_text()
    for i, (name, (body, _)) in enumerate(FUSED.items()):
        text = replace_function(correct, question.function, function_source(question.function, "X, W_xh, H, W_hh", body))
        (folder / f"timing-{i}-{name.replace(' ', '_').replace('(', '').replace(')', '').replace('+', 'and')}.ipynb"
         ).write_text(text)


@contextlib.contextmanager
def build_like(busy: int, forking: int):
    with _running([_spawn("while True: pass") for _ in range(busy)] + [_spawn(FORKER) for _ in range(forking)]):
        yield


def grade_once(folder: Path, out: Path) -> pd.DataFrame:
    subprocess.run([sys.executable, "-m", "autograder.batch", str(folder), "--output", str(out), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return pd.read_csv(out / "final_grades.csv", dtype=str, keep_default_na=False).set_index("file")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=6)
    parser.add_argument("--forking", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        notebooks(folder)
        runs = {}
        for condition in ("idle", "load"):
            for i in range(args.runs):
                with build_like(args.busy, args.forking) if condition == "load" else contextlib.nullcontext():
                    book = grade_once(folder, Path(tmp) / f"{condition}-{i}")
                runs[f"{condition} {i + 1}"] = book
                print(f"graded: {condition} run {i + 1}", file=sys.stderr, flush=True)
    questions = [c for c in next(iter(runs.values())).columns if c.startswith("q")]
    bad = 0
    print(f"{'submission':42s} " + " ".join(f"{name:>12s}" for name in runs) + "  verdict")
    for file in next(iter(runs.values())).index:
        cells, decided = [], set()
        for book in runs.values():
            row = book.loc[file]
            if row["grading_status"].startswith("needs-regrade"):
                cells.append("regrade")
                continue
            scores = "/".join(f"{float(row[q]):g}" for q in questions)
            cells.append(scores)
            decided.add(scores)
        same = len(decided) <= 1
        bad += not same
        print(f"{file[:42]:42s} " + " ".join(f"{c:>12s}" for c in cells) + ("  same" if same else "  DIFFERENT"))
    print(f"\n{bad} submission(s) with different scores across {len(runs)} runs "
          f"({args.runs} idle, {args.runs} beside {args.busy} busy and {args.forking} forking processes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
