"""Keep every core busy while a benchmark runs: one spinning process per core."""

import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def all_cores_busy():
    """One spinning process pinned to each core (whatever the caller's own affinity)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                 preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}))
                for core in range(os.cpu_count() or 1)]
    try:
        yield len(spinners)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
