"""``make bench``: the batch grader against a sequential loop of ``otter run``, side by side.

1. Speed: N copies of the correct solution, graded by ``python -m autograder.batch`` (workers
   started from scratch, as ``make grade`` does) and by ``otter run -a <zip>`` one after another.
2. Agreement (``--catalogue``): every notebook of the hidden-test catalogue graded both ways; every
   question's score must agree.
3. Where the fixed cost of ``otter run`` goes: importing Otter, importing torch, starting a kernel.

    python -m autograder.bench.grading [--copies 12] [--catalogue]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ZIP = ROOT / "autograder" / "rnn_hidden_state-autograder.zip"
QUESTIONS = ["q1_shapes", "q2_separate", "q3_fused", "q4_rnn_forward"]


def batch(folder: Path, output: Path):
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "autograder.batch", str(folder), "--output", str(output), "--quiet", "--regrade"],
                   cwd=ROOT, check=True, capture_output=True)
    seconds = time.monotonic() - t0
    book = pd.read_csv(output / "final_grades.csv", keep_default_na=False).set_index("file")
    return seconds, {f: tuple(book.loc[f, QUESTIONS]) for f in book.index}


def otter_run_loop(folder: Path, work: Path):
    otter = Path(sys.executable).with_name("otter")
    scores, t0 = {}, time.monotonic()
    for nb in sorted(folder.glob("*.ipynb")):
        run_dir = work / nb.stem
        run_dir.mkdir(parents=True)
        shutil.copy(nb, run_dir / "rnn_hidden_state.ipynb")  # the name a student's export zip carries
        subprocess.run([str(otter), "run", "-a", str(ZIP), "-o", str(run_dir), str(run_dir / "rnn_hidden_state.ipynb")],
                       cwd=run_dir, capture_output=True)
        tests = {t["name"]: t.get("score") for t in json.loads((run_dir / "results.json").read_text())["tests"]}
        scores[nb.name] = tuple(float(tests.get(q) or 0) for q in QUESTIONS)
    return time.monotonic() - t0, scores


def fixed_costs():
    def wall(cmd):
        t0 = time.monotonic()
        subprocess.run(cmd, capture_output=True, check=True)
        return time.monotonic() - t0
    py = sys.executable
    return {
        "python startup": wall([py, "-c", "pass"]),
        "import otter": wall([py, "-c", "import otter.run.run_autograder, otter.execute"]),
        "import torch": wall([py, "-c", "import torch"]),
        "start a kernel, import torch in it": wall([py, "-c", (
            "from jupyter_client.manager import start_new_kernel\n"
            "km, kc = start_new_kernel(kernel_name='python3')\n"
            "kc.execute_interactive('import torch')\nkc.stop_channels(); km.shutdown_kernel(now=True)")]),
    }


def hidden_test_cost():
    """Seconds the hidden tests themselves cost one submission on the Otter/Gradescope path: a cold
    checker (``python -I``, imports torch, warms up) and every check group of q2-q4 on correct code."""
    sys.path.insert(0, str(ROOT / "autograder"))
    sys.path.insert(0, str(ROOT / "tests"))
    from catalogue import VARIANTS
    from rnn_checks import checks, isolation
    correct = {"sep_at": "q2_separate", "fused_at": "q3_fused", "rnn_loop": "q4_rnn_forward"}
    functions = {}
    for v in VARIANTS:
        if v.name in correct:
            namespace = {}
            exec(v.source(), namespace)
            functions[v.question] = namespace[v.source().split("def ")[1].split("(")[0]]
    t0 = time.monotonic()
    checker = isolation.Checker()
    started = time.monotonic() - t0
    for question, func in functions.items():
        for group in checks.GROUPS[question]:
            assert checker.run(question, group, func)["passed"]
    return started, time.monotonic() - t0


def compare(label, folder, work):
    b_seconds, b_scores = batch(folder, work / "batch-out")
    o_seconds, o_scores = otter_run_loop(folder, work / "otter-run")
    n = len(b_scores)
    disagree = sorted(f for f in b_scores if b_scores[f] != o_scores.get(f))
    print(f"\n{label}: {n} submissions")
    print(f"  make grade (batch, workers started from scratch): {b_seconds:6.1f} s  = {b_seconds / n:5.2f} s per submission")
    print(f"  loop of otter run:                                {o_seconds:6.1f} s  = {o_seconds / n:5.2f} s per submission")
    print(f"  speed-up: {o_seconds / b_seconds:.1f}x; scores agree on {n - len(disagree)}/{n}")
    for f in disagree:
        print(f"    DISAGREE {f}: batch {b_scores[f]} vs otter run {o_scores.get(f)}")
    return not disagree


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--catalogue", action="store_true", help="also compare scores on the whole catalogue (slow)")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    for what, seconds in fixed_costs().items():
        print(f"  fixed cost, {what}: {seconds:.2f} s")
    started, total = hidden_test_cost()
    print(f"  hidden tests' own cost per submission (Otter/Gradescope path): {total:.2f} s "
          f"({started:.2f} s starting the isolated checker, {total - started:.2f} s for the 12 check groups)")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        correct = tmp / "correct"
        correct.mkdir()
        for i in range(args.copies):
            shutil.copy(ROOT / "examples" / "submissions" / "correct.ipynb", correct / f"student-{i:02d}.ipynb")
        ok &= compare("correct submissions", correct, tmp / "w1")
        if args.catalogue:
            sys.path.insert(0, str(ROOT / "tests"))
            from catalogue import VARIANTS
            from test_catalogue import variant_notebook
            cat = tmp / "catalogue"
            cat.mkdir()
            solution = nbformat.read(ROOT / "examples" / "submissions" / "correct.ipynb", 4)
            for v in VARIANTS:
                nbformat.write(variant_notebook(solution, v), cat / f"{v.name}.ipynb")
            ok &= compare("the hidden-test catalogue", cat, tmp / "w2")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
