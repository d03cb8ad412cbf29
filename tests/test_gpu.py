"""Device checks on CUDA: run only where a GPU is present (never in CI); make gpu-check prints
the full table (docs/gpu-check-h200.txt holds the last run on an H200)."""

import subprocess
import sys

import pytest
import torch

from conftest import ROOT


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: run `make gpu-check` on a GPU machine")
def test_gpu_check_passes():
    done = subprocess.run([sys.executable, str(ROOT / "autograder" / "gpu_check.py"), "--repeat", "5"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
