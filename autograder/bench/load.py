"""Keep every core busy while a benchmark runs: one spinning process per core."""

import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def all_cores_busy():
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        yield len(spinners)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
