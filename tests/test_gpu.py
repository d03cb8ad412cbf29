"""The device check, run the way ``make gpu-check`` runs it: on a CUDA machine it compares every
verdict with and without the GPU and times q3 on CUDA; here (no GPU, as in CI) it is the same
script as a dry run on the CPU, so it cannot rot. docs/gpu-check-h200.txt holds the last GPU run."""

import subprocess
import sys

import torch

from conftest import ROOT


def test_gpu_check_runs_the_way_make_gpu_check_does():
    done = subprocess.run([sys.executable, "-m", "autograder.gpu_check", "--repeat", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert ("verdicts agree with and without the GPU and match the expected ones" if torch.cuda.is_available()
            else "verdicts match (dry run, one pass) the expected ones") in done.stdout, done.stdout[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("q3 row loop ")]
    assert any(line.split()[-3:] == ["fail", "fail", "fail"] for line in rows), done.stdout  # a loop fails something
    if torch.cuda.is_available():
        assert "timing on CUDA, correct (cat + @): passed 2/2" in done.stdout, done.stdout
    else:
        assert "dry run on the CPU" in done.stdout
