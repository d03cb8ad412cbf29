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
    """One isolated checker process, talked to over two pipes.

    ``Checker()`` starts a fresh ``python -I`` (the Otter and Gradescope path);
    :meth:`forked` forks one from the current process, which must not have run student code yet
    (the batch grader does this before executing each notebook). Either way the pipes are
    published in ``RNN_CHECKS_CHECKER`` so that every hidden test, which loads these helpers afresh
    (see ``entry.py``), reaches the same checker through :meth:`attach`.
    """

    def __init__(self):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _PACKAGE_PARENT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
        )
        self._setup(proc.pid, os.dup(proc.stdin.fileno()), os.dup(proc.stdout.fileno()))
        proc.stdin.close()
        proc.stdout.close()
        self._read_hello()

    @classmethod
    def forked(cls) -> "Checker":
        from . import zygote
        zygote.prepare()
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the checker: serve until the grading process closes the pipe
            os.close(requests_w)
            os.close(answers_r)
            try:
                zygote.serve(os.fdopen(requests_r, "rb"), zygote.TextOut(os.fdopen(answers_w, "wb")))
            finally:
                os._exit(0)
        os.close(requests_r)
        os.close(answers_w)
        self = cls.__new__(cls)
        self._setup(pid, requests_w, answers_r)
        self._read_hello()
        return self

    @classmethod
    def attach(cls):
        """The checker published in this process's environment, if it still runs; else None."""
        try:
            pid, requests_fd, answers_fd = (int(x) for x in os.environ[ENV].split(":"))
        except (KeyError, ValueError):
            return None
        self = cls.__new__(cls)
        self._setup(pid, requests_fd, answers_fd)
        if not self.alive():
            return None
        self._send({"kind": "fingerprint"}, b"")
        self._read_hello()
        return self

    def _setup(self, pid, requests_fd, answers_fd):
        self.pid, self._requests_fd, self._answers = pid, requests_fd, answers_fd
        self._buffer = b""
        self.tampered, self._described = [], {}
        os.environ[ENV] = f"{pid}:{requests_fd}:{answers_fd}"

    def _read_hello(self):
        self.fresh_fingerprint = json.loads(self._read_line(CHECKER_START_LIMIT_S))["fingerprint"]

    def alive(self) -> bool:
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def _send(self, header: dict, payload: bytes) -> None:
        data = json.dumps(header).encode() + b"\n" + payload
        while data:
            data = data[os.write(self._requests_fd, data):]

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise CheckerError(f"the checker process did not answer within {timeout:.0f} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise CheckerError("the checker process ended unexpectedly")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def run(self, question: str, group: str, func, timeout: float = CHECK_TIME_LIMIT_S) -> dict:
        """``{"passed": bool, "message": str}`` for one check group of ``func``."""
        # compared at every hidden check: a replacement made while an earlier check ran counts too
        self.tampered = [k for k in integrity.mismatches(integrity.fingerprint(self._described), self.fresh_fingerprint)
                         if k.startswith(_PARENT_COMPARED)]
        if self.tampered:
            return {"passed": False, "message": (
                "the notebook replaced library functions before grading ("
                + ", ".join(self.tampered[:5]) + "); the hidden checks award no points to such a notebook.")}
        import cloudpickle
        try:
            payload = cloudpickle.dumps(func)
        except Exception as error:
            return {"passed": False, "message": f"the grader could not copy the function for checking: {type(error).__name__}: {error}"}
        self._send({"question": question, "group": group, "timeout": timeout, "size": len(payload)}, payload)
        return json.loads(self._read_line(timeout + 30))


#: The environment variable holding ``pid:requests_fd:answers_fd`` of this process's checker.
ENV = "RNN_CHECKS_CHECKER"

_CHECKER = None


def checker() -> Checker:
    """The process-wide checker: this module's, the one published in the environment, or a new one."""
    global _CHECKER
    if _CHECKER is None or not _CHECKER.alive():
        _CHECKER = Checker.attach() or Checker()
    return _CHECKER


def start_forked() -> None:
    """Fork the process-wide checker now, before any student code runs (batch grading)."""
    global _CHECKER
    _CHECKER = Checker.forked()
