"""``make gpu-check``: the hidden checks on a CUDA machine, with torch alone (no Otter needed).

Grades the catalogue's correct styles, its device-sensitive mistakes and the row loop through the
same hidden checks (rnn_checks, in its isolated checker), once with the GPU and once with it
hidden (CUDA_VISIBLE_DEVICES=""), and times the fused check on CUDA N times for the correct
function and for the row loop. Prints a table; exits non-zero if any figure misses expectations.

    PYTHONPATH=autograder python3 autograder/gpu_check.py [--repeat N]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "autograder"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
ZIP = os.path.join(ROOT, "autograder", "rnn_hidden_state-autograder.zip")
SUBSET = ("sep_at", "sep_linear", "fused_at", "fused_einsum", "fused_linear", "rnn_loop",
          "sep_numpy_roundtrip", "sep_cpu", "sep_hardcoded_device", "rnn_zeros_no_device", "fused_row_loop")


def group_points() -> dict:
    """``{(question, group): points}`` read from the autograder zip's hidden test files."""
    points = {}
    pattern = re.compile(r"@test_case\(points=(\d+(?:\.\d+)?), hidden=True\)\s*def \w+\(\w+\):\s*import runpy\s*"
                         r"runpy\.run_path\('[^']+'\)\['check'\]\('(\w+)', '(\w+)'")
    with zipfile.ZipFile(ZIP) as z:
        for name in z.namelist():
            if name.startswith("tests/"):
                for p, q, g in pattern.findall(z.read(name).decode()):
                    points[q, g] = float(p)
    return points


def function_of(variant):
    namespace = {}
    exec(compile(variant.source(), f"<variant {variant.name}>", "exec"), namespace)
    from catalogue import FUNCTION
    return namespace[FUNCTION[variant.question]]


def grade_subset() -> dict:
    """``{variant: (points, {group: message})}`` on this process's devices."""
    from catalogue import VARIANTS
    from rnn_checks import checks, isolation
    points = group_points()
    checker = isolation.Checker.forked()
    out = {}
    for variant in VARIANTS:
        if variant.name not in SUBSET:
            continue
        func = function_of(variant)
        got, notes = 0.0, {}
        for group in checks.GROUPS[variant.question]:
            result = checker.run(variant.question, group, func)
            got += points[variant.question, group] if result["passed"] else 0.0
            notes[group] = result["message"][:90]
        out[variant.name] = (got, notes)
    return out


def timing_rates(repeat: int) -> dict:
    from catalogue import VARIANTS
    from rnn_checks import isolation
    checker = isolation.Checker.forked()
    rates = {}
    for variant in VARIANTS:
        if variant.name in ("fused_at", "fused_row_loop"):
            func = function_of(variant)
            results = [checker.run("q3_fused", "timing", func) for _ in range(repeat)]
            ratios = [float(m.group(1)) for r in results if (m := re.search(r"([\d.]+)x the reference", r["message"]))]
            rates[variant.name] = (sum(r["passed"] for r in results), repeat, sorted(ratios))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:  # the no-GPU pass, in a child process with CUDA hidden
        print(json.dumps(grade_subset()))
        return 0
    # CUDA must first be used in the checkers' forked children, never in this process
    probe = "import torch; print(f'torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}', torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
    device = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    print(device)
    hidden = subprocess.run([sys.executable, __file__, "--json"], capture_output=True, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    without = json.loads(hidden.stdout.strip().splitlines()[-1])
    with_gpu = grade_subset()
    from catalogue import VARIANTS
    expected = {v.name: v.points for v in VARIANTS}
    ok = True
    print(f"\n{'variant':24s} {'expected':>8s} {'with GPU':>9s} {'no GPU':>7s}  devices check (with GPU)")
    for name, (points, notes) in with_gpu.items():
        same = points == without[name][0] == expected[name]
        ok &= same
        print(f"{name:24s} {expected[name]:8g} {points:9g} {without[name][0]:7g}  {'ok ' if same else 'BAD'} {notes['devices']}")
    rates = timing_rates(args.repeat)
    print("\ntiming check on", "cuda" if "CUDA available: True" in device else "cpu")
    for name, (passed, n, ratios) in rates.items():
        spread = f"ratios min {ratios[0]:.2f} median {ratios[len(ratios)//2]:.2f} max {ratios[-1]:.2f}" if ratios else "no ratio measured"
        print(f"{name:24s} passed {passed}/{n}; {spread}")
    ok &= rates["fused_at"][0] == rates["fused_at"][1] and rates["fused_row_loop"][0] == 0
    print("\nall figures as expected" if ok else "\nSOME FIGURES MISSED EXPECTATIONS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
