"""``python -m autograder.runner``: one runner, or (``--zygote``) a warm parent of runners.

One runner: ``--requests FD --replies FD`` are pipes from the judge. It says hello (versions, its
user: the judge checks that the environment works for it), receives the notebook, runs it, says
which graded names exist, then serves calls (:mod:`autograder.serving.serve`).

Zygote (batch grading, inside the sandbox): imports everything once, makes itself non-dumpable
(no runner it forks can read or trace its memory), then for every job received on ``--control``
(a Unix socket from the judge, carrying the job's two pipes) wipes the scratch space and forks a
fresh runner with its own session, limits and folder.
"""

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys

from .. import spec, wire
from ..serving.limits import limit, limit_processes


def keep_pipes_to_self(*fds: int) -> None:
    """Only this process may use its pipes to the judge. A process the notebook forks (``os.fork``,
    multiprocessing) inherits them, and one that returns into the notebook or the serving loop (a
    fork further down failed, an exception) would read requests meant for the runner and answer
    them: a red-team notebook's leftover processes garbled the replies of another question's
    correct function. Children forked through Python lose the pipes at once; one forked behind
    Python's back leaves as soon as it reaches the runner's own code (:func:`_owner_only`)."""
    def close_in_child():
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
    os.register_at_fork(after_in_child=close_in_child)


def _owner_only(owner: int) -> None:
    """A process other than the runner that reached the runner's own code leaves, silently."""
    if os.getpid() != owner:
        os._exit(0)


def run_one(requests_fd: int, replies_fd: int) -> None:
    owner = os.getpid()
    keep_pipes_to_self(requests_fd, replies_fd)
    import torch
    torch.set_num_threads(1)  # timed the same way as the reference runner
    from ..serving.trace import remember_kernels
    remember_kernels()  # before any notebook code: a kernel it registers for a torch operator shows
    wire.send(replies_fd, {"kind": "hello", "python": platform.python_version(), "torch": torch.__version__,
                           "uid": os.getuid(), "cuda": torch.cuda.is_available()})
    request, blobs = wire.recv(requests_fd)
    from . import notebook
    try:
        namespace = notebook.run(blobs[0].decode("utf-8", "replace"), request["filename"])
    except Exception as error:  # not a notebook: say so; there is nothing to grade
        _owner_only(owner)
        wire.send(replies_fd, {"kind": "ready", "error": f"{type(error).__name__}: {error}"[:500]})
        return
    names = {name: ("function" if callable(namespace[name]) else "value") if name in namespace else "missing"
             for name in spec.GRADED_NAMES}
    sys.stdout.flush()
    _owner_only(owner)
    wire.send(replies_fd, {"kind": "ready", "names": names})
    from ..serving.serve import serve
    serve(requests_fd, replies_fd, namespace, owner)


def _wipe(folder: str) -> bool:
    """Empty ``folder`` whatever a runner left in it (taken permissions, trees deeper than Python's
    recursion): coreutils' iterative chmod and rm do the work. True when it is empty afterwards."""
    try:
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            for cmd in (["chmod", "-R", "u+rwx", path], ["rm", "-rf", "--one-file-system", path]):
                subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return not os.listdir(folder)
    except BaseException:  # noqa: BLE001 (whatever happens, the zygote must not go on unclean)
        return False


def zygote(control_fd: int, scratch: str) -> None:
    import ctypes

    from . import notebook
    notebook.prepare()
    import torch
    torch.set_num_threads(1)
    from ..serving.trace import remember_kernels
    remember_kernels()  # once for every runner it forks
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: runners cannot ptrace or read it
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # runners are reaped by the kernel
    control = socket.socket(fileno=control_fd)
    control.sendall(b"R")
    while True:
        msg, fds, _, _ = socket.recv_fds(control, 1024, 3)
        if not msg or len(fds) != 3:
            return
        job_config = json.loads(msg)
        clean = all(_wipe(folder) for folder in (scratch, "/dev/shm") if os.path.isdir(folder))
        if not clean:  # nothing of the last submission may reach the next: let the judge start afresh
            os._exit(3)
        job = os.path.join(scratch, "job")
        os.makedirs(job)
        if os.fork() == 0:
            control.close()
            os.setsid()
            os.dup2(fds[2], 1)
            os.dup2(fds[2], 2)
            os.close(fds[2])
            os.chdir(job)
            os.environ.update(HOME=job, TMPDIR=job, MPLCONFIGDIR=job, IPYTHONDIR=job)
            limit(job_config["memory_mb"])
            limit_processes()
            if job_config.get("core") is not None:
                os.sched_setaffinity(0, {job_config["core"]})
            from .confine import confine
            confine()  # before any submission code: no tracing of the sandbox's other processes
            try:
                run_one(fds[0], fds[1])
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)


def main(argv=None) -> None:
    # ``python -m`` put the working folder (the sandbox's writable scratch) first on sys.path: a
    # module planted there must never be imported by a runner
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--replies", type=int)
    parser.add_argument("--zygote", action="store_true")
    parser.add_argument("--control", type=int)
    parser.add_argument("--scratch", default="/scratch")
    args = parser.parse_args(argv)
    if args.zygote:
        zygote(args.control, args.scratch)
    else:
        run_one(args.requests, args.replies)


if __name__ == "__main__":
    main()
