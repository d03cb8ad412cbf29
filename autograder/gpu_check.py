"""``make gpu-check``: the device checks on a CUDA machine, with torch alone (no Otter needed).

Runs every check group of q2, q3 and q4 through the judge's own checks (each function served by
a runner forked from this process, over the same wire) on the correct styles, the
device-sensitive mistakes and the row loops, once with the GPU and once with it hidden, and
checks that the verdicts agree and are the expected ones. Then it repeats the q3 timing check on
CUDA for the correct function and the row loop. Exit status 1 on any disagreement.

    make gpu-check ARGS="--repeat N"
    python3 -m autograder.gpu_check [--repeat N]     (from the repository's root; torch and msgspec)

Without CUDA it is a dry run: one pass on the CPU (a second would run the very same thing),
the same verdict table against the expected verdicts, no CUDA timing.
"""

import argparse
import json
import os
import re
import subprocess
import sys

from .bench.variants import DEVICE, FAST_ENOUGH, FUSED, TIMING_ATTACKS, function_source
from .spec import QUESTIONS


def cases() -> list:
    """(label, question, source, expected verdicts {group: passed})."""
    out = []
    for label, (body, correct) in FUSED.items():
        if label in TIMING_ATTACKS:
            continue
        groups = QUESTIONS["q3_fused"].groups
        expected = {g: correct or g in ("values", "inputs", "devices") or (g == "timing" and label in FAST_ENOUGH)
                    for g in groups}
        out.append((f"q3 {label}", "q3_fused", body, expected))
    for label, (question, body, failing) in DEVICE.items():
        out.append((label, question, body, {g: g not in failing for g in QUESTIONS[question].groups}))
    return out


def verdicts(cuda: bool) -> dict:
    """Run in a child process: {label: {group: [passed, note]}} as JSON on stdout."""
    import torch

    from autograder import wire
    from autograder.judge.local import run_group
    from autograder.judge.questions import CheckFailure
    from autograder.judge.runners import RunnerFailure
    cuda = cuda and torch.cuda.is_available()
    out = {}
    for label, question, body, _ in cases():
        q = QUESTIONS[question]
        namespace = {}
        exec(function_source(q.function, ", ".join(q.arguments), body), namespace)
        out[label] = {}
        for group in q.groups:
            try:
                out[label][group] = [True, run_group(question, group, namespace[q.function], cuda)]
            except (CheckFailure, RunnerFailure, wire.WireError) as failure:  # a failed group, as grading records it
                out[label][group] = [False, str(failure)[:300]]
    return out


def child(cuda: bool, repeat: int) -> dict:
    env = dict(os.environ)
    if not cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run([sys.executable, "-m", "autograder.gpu_check", "--child", "--cuda" if cuda else "--cpu", "--repeat", str(repeat)],
                          capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        sys.exit(f"the check failed to run:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--cuda", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        result = {"verdicts": verdicts(args.cuda)}
        import torch
        if args.cuda and torch.cuda.is_available():
            result["timing"] = timing_runs(args.repeat)
        print(json.dumps(result))
        return
    import torch
    cuda = torch.cuda.is_available()
    probe = f"torch {torch.__version__}, CUDA available: {cuda}"
    if cuda:
        probe += f", {torch.cuda.get_device_name(0)}"
    else:
        probe += ": a dry run on the CPU (one pass, without a GPU; CI runs it so the script cannot rot)"
    print(probe, flush=True)
    gpu = child(True, args.repeat)
    cpu = child(False, args.repeat) if cuda else gpu
    ok = True
    print(f"\n{'function':40s} {'group':8s} {'GPU':>5s} {'no GPU':>7s} {'expected':>9s}")
    for label, _, _, expected in cases():
        for group, want in expected.items():
            g, c = gpu["verdicts"][label][group][0], cpu["verdicts"][label][group][0]
            bad = g != c or g != want
            ok &= not bad
            print(f"{label:40s} {group:8s} {'pass' if g else 'fail':>5s} {'pass' if c else 'fail':>7s} "
                  f"{'pass' if want else 'fail':>9s}{'   <-- DIFFERS' if bad else ''}")
            if bad:
                print(f"    GPU: {gpu['verdicts'][label][group][1]}\n    no GPU: {cpu['verdicts'][label][group][1]}")
    for label, runs in gpu.get("timing", {}).items():
        ratios = sorted(r for _, r in runs if r is not None)
        passed = sum(p for p, _ in runs)
        shown = f"ratio {ratios[0]:.2f}-{ratios[-1]:.2f}, median {ratios[len(ratios) // 2]:.2f}" if ratios else ""
        print(f"timing on CUDA, {label}: passed {passed}/{len(runs)} {shown}")
    agree = "agree with and without the GPU and match" if cuda else "match (dry run, one pass)"
    print(f"\nverdicts {agree} the expected ones" if ok else "\nDISAGREEMENT")
    sys.exit(0 if ok else 1)


def timing_runs(repeat: int) -> dict:
    from autograder.judge.local import run_group
    from autograder.judge.questions import CheckFailure
    q = QUESTIONS["q3_fused"]
    out = {}
    for label in ("correct (cat + @)", "row loop"):
        namespace = {}
        exec(function_source(q.function, ", ".join(q.arguments), FUSED[label][0]), namespace)
        runs = []
        for _ in range(repeat):
            try:
                note, passed = run_group("q3_fused", "timing", namespace[q.function], True), True
            except CheckFailure as failure:
                note, passed = str(failure), False
            found = re.search(r"([\d.]+)x the reference", note)
            runs.append((passed, float(found.group(1)) if found else None))
        out[label] = runs
    return out


if __name__ == "__main__":
    main()
