"""``make bench``: the batch grader against a loop of the zip's own ``run_autograder`` (the
Gradescope path, as root in an ``/autograder`` layout) and a loop of Otter's ``otter run``.

1. Speed: N copies of the correct solution graded by ``python -m autograder.batch`` (workers
   started from scratch, as ``make grade`` does) and by the zip's ``run_autograder`` one after
   another, for each N of ``--copies`` (12, and 30: the smallest class; a batch has a fixed cost
   of starting its workers, a loop none, so the ratio grows with N). The batch runs once before
   and once after the loop, and their mean is compared, so a load that changes during the run
   (a shared machine) weighs on both sides alike. For the first N, also ``otter run -a <zip>``
   one after another (Otter's usual per-submission cost; ``otter run`` runs hidden tests in the
   notebook's kernel, which this zip's judge refuses, so only its time is compared).
2. Agreement: the examples and the timing variants, graded by the batch grader and by the zip's
   ``run_autograder``: every question's score must agree.

    python -m autograder.bench.grading [--copies 12,30]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ..paths import EXAMPLES, ZIP
from ..paths import REPO as ROOT
from ..spec import QUESTIONS
from . import gradescope_layout
from .variants import FUSED, function_source, replace_function


def batch(folder: Path, output: Path):
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "autograder.batch", str(folder), "--output", str(output), "--quiet", "--regrade"],
                   cwd=ROOT, check=True, capture_output=True)
    seconds = time.monotonic() - t0
    book = pd.read_csv(output / "final_grades.csv", keep_default_na=False).set_index("file")
    scores = {}
    for f in book.index:  # a row without scores (an error, a check still undecided) shows its status
        row = book.loc[f]
        scores[f] = (tuple(float(row[q]) for q in QUESTIONS) if all(row[q] != "" for q in QUESTIONS)
                     else f"no scores: {row['grading_status']}")
    return seconds, scores


def gradescope_loop(folder: Path, work: Path):
    scores, t0 = {}, time.monotonic()
    for nb in sorted(folder.glob("*.ipynb")):
        run_dir = work / nb.stem
        (run_dir / "sub").mkdir(parents=True)
        shutil.copy(nb, run_dir / "sub" / "rnn_hidden_state.ipynb")
        results, _, _ = gradescope_layout.run(run_dir, run_dir / "sub" / "rnn_hidden_state.ipynb")
        tests = {t["name"]: t.get("score") for t in results["tests"]}
        scores[nb.name] = tuple(float(tests.get(q) or 0) for q in QUESTIONS)
    return time.monotonic() - t0, scores


def otter_run_loop(folder: Path, work: Path) -> float:
    otter = Path(sys.executable).with_name("otter")
    t0 = time.monotonic()
    for nb in sorted(folder.glob("*.ipynb")):
        run_dir = work / nb.stem
        run_dir.mkdir(parents=True)
        shutil.copy(nb, run_dir / "rnn_hidden_state.ipynb")
        subprocess.run([str(otter), "run", "-a", str(ZIP), "-o", str(run_dir), str(run_dir / "rnn_hidden_state.ipynb")],
                       cwd=run_dir, capture_output=True)
    return time.monotonic() - t0


def agreement(folder: Path, work: Path) -> bool:
    _, b_scores = batch(folder, work / "batch")
    _, g_scores = gradescope_loop(folder, work / "gradescope")
    disagree = sorted(f for f in b_scores if b_scores[f] != g_scores.get(f))
    print(f"\nagreement, batch vs the zip's run_autograder: {len(b_scores) - len(disagree)}/{len(b_scores)} notebooks",
          flush=True)
    for f in sorted(b_scores):
        print(f"  {'DISAGREE' if f in disagree else 'agree   '} {f}: batch {b_scores[f]}, run_autograder {g_scores.get(f)}")
    return not disagree


def speed(n: int, tmp: Path, otter_run: bool) -> None:
    correct = tmp / f"correct-{n}"
    correct.mkdir()
    for i in range(n):
        shutil.copy(EXAMPLES / "correct.ipynb", correct / f"student-{i:03d}.ipynb")
    before, _ = batch(correct, tmp / f"b-{n}")
    g_seconds, _ = gradescope_loop(correct, tmp / f"g-{n}")
    after, _ = batch(correct, tmp / f"b2-{n}")
    b_seconds = (before + after) / 2
    print(f"\n{n} correct submissions")
    print(f"  make grade (batch, workers started from scratch): {b_seconds:6.1f} s = {b_seconds / n:5.2f} s per submission"
          f"  (run before the loop {before:.1f} s, after it {after:.1f} s)")
    print(f"  loop of the zip's run_autograder (Gradescope):    {g_seconds:6.1f} s = {g_seconds / n:5.2f} s per submission")
    if otter_run:
        o_seconds = otter_run_loop(correct, tmp / f"o-{n}")
        print(f"  loop of otter run (Otter's usual cost):           {o_seconds:6.1f} s = {o_seconds / n:5.2f} s per submission")
        print(f"  speed-up of make grade: {o_seconds / b_seconds:.1f}x a loop of otter run, "
              f"{g_seconds / b_seconds:.1f}x a loop of run_autograder", flush=True)
    else:
        print(f"  speed-up of make grade: {g_seconds / b_seconds:.1f}x a loop of run_autograder", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="12,30", help="copies of the correct solution, one timing per number")
    args = parser.parse_args(argv)
    if not gradescope_layout.available():
        sys.exit("make bench needs root, bubblewrap and setpriv (the Gradescope layout)")
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, n in enumerate(int(c) for c in args.copies.split(",")):
            speed(n, tmp, otter_run=i == 0)
        mixed = tmp / "mixed"
        mixed.mkdir()
        for name in ("correct", "partly-wrong", "untouched"):
            shutil.copy(EXAMPLES / f"{name}.ipynb", mixed / f"{name}.ipynb")
        for label, (body, _) in FUSED.items():
            source = function_source("hidden_state_fused", "X, W_xh, H, W_hh", body)
            text = replace_function((EXAMPLES / "correct.ipynb").read_text(), "hidden_state_fused", source)
            (mixed / f"q3 {label}.ipynb").write_text(text)
        ok = agreement(mixed, tmp / "agree")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
