"""The isolated checker process: imports torch once, then forks a fresh child per check group.

Started by :mod:`rnn_checks.isolation` with ``python -I``. No student code ever runs in this
process itself: each request's function is unpickled only in a forked child, which runs one check
group under a wall-time limit and reports a JSON line back. A child that hangs is killed with its
whole process group; one that exits, crashes or floods output costs only its own check group.

Protocol (stdin/stdout of this process): it first writes ``{"ready": true, "fingerprint": ...}``
(again on a request ``{"kind": "fingerprint"}``); then for each request, a JSON header line
``{"question", "group", "timeout", "size"}`` followed by ``size`` bytes of a cloudpickled
function, answered by one JSON line ``{"passed", "message"}``.
"""

import json
import os
import select
import signal
import sys
import time

from .config import CHECK_TIME_LIMIT_S


def _child(question, group, payload, write_fd):
    """Runs in the forked child: unpickle the student's function, run one group, report."""
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # student prints must never reach the protocol stream
    from . import checks
    from .questions import CheckFailure
    try:
        import cloudpickle
        func = cloudpickle.loads(payload)
        result = {"passed": True, "message": checks.run_group(question, group, func)}
    except CheckFailure as failure:
        result = {"passed": False, "message": str(failure)}
    except BaseException as error:  # unpickling student globals can raise anything
        result = {"passed": False, "message": f"the grader could not run {question}: {type(error).__name__}: {error}"[:1000]}
    data = (json.dumps(result) + "\n").encode()
    while data:
        data = data[os.write(write_fd, data):]
    os._exit(0)


def _collect(pid, read_fd, timeout):
    """The child's JSON answer, or a message saying how it ended; the child is always reaped."""
    chunks, deadline, timed_out = [], time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    try:
        os.killpg(pid, signal.SIGKILL)  # also ends anything the student's code left running
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"passed": False, "message": f"the check did not finish within {timeout:.0f} s: "
                "the function hangs or is far too slow (an endless loop, a sleep, a huge allocation?)."}
    try:
        return json.loads(b"".join(chunks).decode())
    except ValueError:
        code = os.waitstatus_to_exitcode(status)
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return {"passed": False, "message": f"the function ended the grading process ({how}) before the check "
                "finished: no sys.exit, os._exit, os.kill or crashing native code in graded functions."}


def prepare():
    """Import and warm up everything the checks use, then take the tamper snapshot.

    Run once, before any student code: each forked child then starts warm (no lazy imports, no
    first-call costs), and a lazy import that patches torch (``torch._dynamo`` wraps
    ``torch.manual_seed``) cannot be mistaken for tampering.
    """
    global _PREPARED
    if _PREPARED:
        return
    import cloudpickle  # noqa: F401  (each check child unpickles with it)
    import torch
    import torch._dynamo  # noqa: F401  (entering the operator trace imports it: pay once, here)
    torch.set_num_threads(1)  # timings comparable under load; children inherit it
    from . import checks
    checks.warm_up()
    _PREPARED = True


_PREPARED = False


def serve(stdin, stdout):
    from . import integrity
    fingerprint = json.dumps({"ready": True, "fingerprint": integrity.fingerprint()}) + "\n"
    stdout.write(fingerprint)
    stdout.flush()
    while True:
        line = stdin.readline()
        if not line:
            return
        header = json.loads(line)
        if header.get("kind") == "fingerprint":  # asked again by a later attachment
            stdout.write(fingerprint)
            stdout.flush()
            continue
        header["timeout"] = min(float(header["timeout"]), CHECK_TIME_LIMIT_S)
        payload = stdin.read(header["size"]) if header["size"] else b""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(header["question"], header["group"], payload, write_fd)
        os.close(write_fd)
        stdout.write(json.dumps(_collect(pid, read_fd, header["timeout"])) + "\n")
        stdout.flush()


def main():
    prepare()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, TextOut(sys.stdout.buffer))


class TextOut:
    """Writes text lines to a binary stream."""

    def __init__(self, raw):
        self.raw = raw

    def write(self, text):
        self.raw.write(text.encode())

    def flush(self):
        self.raw.flush()
