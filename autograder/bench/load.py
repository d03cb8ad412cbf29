"""Load for benchmarks: one spinning process per core, or every core oversubscribed with
processes that spin and processes that fork short-lived children (as a build does)."""

import contextlib
import os
import subprocess
import sys

FORKER = ("import os, time\n"
          "while True:\n"
          "    pid = os.fork()\n"
          "    if pid == 0:\n"
          "        x = sum(range(20000)); os._exit(0)\n"
          "    os.waitpid(pid, 0)\n")


def _spawn(code: str, core: int = None):
    return subprocess.Popen([sys.executable, "-c", code],
                            preexec_fn=(lambda: os.sched_setaffinity(0, {core})) if core is not None else None)


@contextlib.contextmanager
def all_cores_busy():
    """One spinning process pinned to each core (whatever the caller's own affinity)."""
    with _running([_spawn("while True: pass", core) for core in range(os.cpu_count() or 1)]) as n:
        yield f"{n} busy"


@contextlib.contextmanager
def oversubscribed(factor: int = 4):
    """``factor`` processes per core, unpinned: half spin, half fork short-lived children."""
    cores = os.cpu_count() or 1
    procs = [_spawn("while True: pass" if i % 2 else FORKER) for i in range(factor * cores)]
    with _running(procs):
        yield f"{factor}x forking"


@contextlib.contextmanager
def _running(procs):
    try:
        yield len(procs)
    finally:
        for p in procs:
            p.kill()
            p.wait()
