"""Parent side of the isolated checker: start it once per process, send it check groups.

The process that ran the student's notebook cannot be trusted with the checks (its torch, numpy
and clocks may have been replaced), so checks run in :mod:`rnn_checks.zygote`, a fresh interpreter
started with ``python -I``. The student's function travels there with cloudpickle.
"""

import json
import os
import select
import subprocess
import sys
import time

from . import integrity
from .config import CHECK_TIME_LIMIT_S, CHECKER_START_LIMIT_S

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from rnn_checks.zygote import main; main()")

#: Namespaces compared between the notebook's process and the fresh checker. ``builtins`` is
#: left out: IPython legitimately replaces ``input``, ``exit`` and friends in a kernel.
_PARENT_COMPARED = ("torch.", "torch.Tensor.", "torch.testing.", "torch.nn.functional.",
                    "torch.linalg.", "numpy.", "numpy.ndarray.", "numpy.testing.", "time.",
                    "timeit.", "math.")


class CheckerError(RuntimeError):
    """The checker process could not be started or stopped answering."""


class Checker:
    """One isolated checker process; :func:`checker` keeps one per grading process."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _PACKAGE_PARENT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._buffer = b""
        hello = json.loads(self._read_line(CHECKER_START_LIMIT_S))
        mine = integrity.fingerprint()
        self.tampered = [k for k in integrity.mismatches(mine, hello["fingerprint"])
                         if k.startswith(_PARENT_COMPARED)]

    def _read_line(self, timeout: float) -> str:
        fd, deadline = self.proc.stdout.fileno(), time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise CheckerError(f"the checker process did not answer within {timeout:.0f} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise CheckerError("the checker process ended unexpectedly")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def run(self, question: str, group: str, func, timeout: float = CHECK_TIME_LIMIT_S) -> dict:
        """``{"passed": bool, "message": str}`` for one check group of ``func``."""
        if self.tampered:
            return {"passed": False, "message": (
                "the notebook replaced library functions before grading ("
                + ", ".join(self.tampered[:5]) + "); the hidden checks award no points to such a notebook.")}
        import cloudpickle
        try:
            payload = cloudpickle.dumps(func)
        except Exception as error:
            return {"passed": False, "message": f"the grader could not copy the function for checking: {type(error).__name__}: {error}"}
        header = json.dumps({"question": question, "group": group, "timeout": timeout, "size": len(payload)})
        self.proc.stdin.write(header.encode() + b"\n" + payload)
        self.proc.stdin.flush()
        return json.loads(self._read_line(timeout + 30))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_CHECKER = None


def checker() -> Checker:
    """The process-wide checker, started on first use."""
    global _CHECKER
    if _CHECKER is None or _CHECKER.proc.poll() is not None:
        _CHECKER = Checker()
    return _CHECKER
