"""One judge worker of the batch grader: a process in which no submission code ever runs.

Started by :mod:`concurrent.futures` (forked from the batch grader before any grading), it owns a
sandbox with a warm zygote (or, with ``--unsafe``, starts plain runner processes), a core, and for each
submission a fresh reference runner forked from itself. :func:`grade` grades one submission and returns plain data.

:func:`prepare`, in the batch grader's process before the workers fork, starts each worker's
sandbox (its zygote boots on that worker's core meanwhile) and pays the judge's first uses once
(the workers are forked warm); each worker adopts its sandbox in :func:`init`.
"""

import functools
import json
import multiprocessing.util
import os
import shutil
import tempfile
import time

from ..config import NOTEBOOK_TIME_LIMIT_S, RUNNER_MEMORY_MB
from ..judge import cgroups, pipeline
from ..judge.gradescope import runner_code
from ..judge.runners import ReferenceRunner, RunnerFailure, Sandbox, UserRunner
from ..judge.session import Session
from ..judge.submission import NoNotebook, read_file
from . import sandbox as sandboxing

_WORKER = {}

#: memory the sandbox may hold besides its runner's limit (the warm zygote, tmpfs pages)
SANDBOX_EXTRA_MB = 2048
#: memory a sandbox may still hold after a submission, beyond what it held when it was ready; more
#: (SysV shared memory, files left in its tmpfs) and it is replaced before the next submission
LEFTOVER_MEMORY_MB = 256

#: the status of a row with a check the grader could not decide: it is graded again
NEEDS_REGRADE = "needs-regrade"


#: sandboxes the batch grader's process started for the workers it is about to fork, by worker index:
#: ``{"scratch", "code", "cgroup", "sandbox"}``
_PREPARED = []


def _core(index: int) -> int:
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[index % len(cpus)]


def _start_sandbox(scratch: str, code: str, core: int, memory_mb: int) -> tuple:
    """``(cgroup, sandbox)``: a fresh sandbox on ``core``, its zygote booting (not waited for)."""
    cgroup = cgroups.create(os.path.basename(scratch) + f"-{time.monotonic_ns()}", sandboxing.MAX_PIDS,
                            memory_mb + SANDBOX_EXTRA_MB, cpus={core})
    return cgroup, Sandbox(sandboxing.command(code), scratch, core, cgroup=cgroup)


def _discard(prepared: dict) -> None:
    prepared["sandbox"].close()
    if prepared["cgroup"]:
        prepared["cgroup"].remove()
    shutil.rmtree(prepared["scratch"], ignore_errors=True)


def _discard_prepared() -> None:
    """The batch grader's handles on the sandboxes it started: closed (again: the worker that
    adopted one closes it when it exits; one no worker adopted, or whose worker died, goes here)."""
    while _PREPARED:
        _discard(_PREPARED.pop())


def warm_judge() -> None:
    """First uses that cost the judge seconds, paid once in this process: the operator trace the
    reference runners fork with (torch imports its compiler at a dispatch mode's first use), and
    torch.testing's comparison (it imports torch.distributed at its first call)."""
    import torch
    ReferenceRunner.warm()
    torch.testing.assert_close(torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))


def prepare(workers: int, memory_mb: int = RUNNER_MEMORY_MB, unsafe: bool = False) -> None:
    """In the batch grader's process, just before it forks ``workers`` judge workers: start each
    worker's sandbox (each zygote imports torch and Otter on its worker's core), then warm the
    judge (:func:`warm_judge`) while they boot; the workers, forked warm, adopt the sandboxes."""
    _discard_prepared()  # an earlier pool's: its workers are gone
    if not unsafe:
        if not _WORKER.get("discard_registered"):
            import atexit
            atexit.register(_discard_prepared)
            _WORKER["discard_registered"] = True
        for index in range(workers):
            scratch = tempfile.mkdtemp(prefix="grade-worker-")
            code = runner_code(scratch)
            cgroup, box = _start_sandbox(scratch, code, _core(index), memory_mb)
            _PREPARED.append({"scratch": scratch, "code": code, "cgroup": cgroup, "sandbox": box})
    warm_judge()


def init(tests_dir: str, config: dict, unsafe: bool, counter) -> None:
    """Per worker process: scratch, runner code, core, reference runner, sandbox (the one
    :func:`prepare` started for this worker, when it did)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    mine = _PREPARED[index] if index < len(_PREPARED) and not unsafe else None
    for other in _PREPARED:  # the other workers' sandboxes are theirs: this process lets go of them
        if other is not mine:
            other["sandbox"].release()
    _PREPARED.clear()
    if mine:
        scratch, code = mine["scratch"], mine["code"]
    else:
        scratch = tempfile.mkdtemp(prefix="grade-worker-")
        code = runner_code(scratch)
    _WORKER.update(tests=tests_dir, config=config, unsafe=unsafe, scratch=scratch, core=_core(index), code=code,
                   cgroup=mine and mine["cgroup"], sandbox=mine and mine["sandbox"], booting=bool(mine))
    os.sched_setaffinity(0, {_WORKER["core"]})  # the judge times on the core its runners use
    import torch
    torch.set_num_threads(1)  # one core: more threads would only spin against each other
    # a pool's worker leaves through os._exit: atexit handlers never run there, multiprocessing's do
    multiprocessing.util.Finalize(None, close, exitpriority=10)


def _sandbox(memory_mb: int) -> Sandbox:
    box = _WORKER.get("sandbox")
    if _WORKER.get("booting"):  # started by prepare(): its zygote may still be booting
        _WORKER["booting"] = False
        return _ready(box)
    if box is not None and box.alive():
        return box
    if box is not None:
        box.close()
    if _WORKER["cgroup"]:
        _WORKER["cgroup"].remove()
    _WORKER["cgroup"], box = _start_sandbox(_WORKER["scratch"], _WORKER["code"], _WORKER["core"], memory_mb)
    _WORKER["sandbox"] = box
    return _ready(box)


def _ready(box: Sandbox) -> Sandbox:
    box.wait_ready()
    _WORKER["ready_memory"] = box.cgroup.memory_bytes() if box.cgroup else None
    return box


def _check_leftover_memory() -> None:
    """A sandbox still holding memory its submission left behind is replaced (its tmpfs and its
    IPC namespace go with it), so that memory can never crowd the next submission's runner."""
    box, ready = _WORKER.get("sandbox"), _WORKER.get("ready_memory")
    if box is None or ready is None or box.cgroup is None:
        return
    try:
        held = box.cgroup.memory_bytes()
    except (OSError, ValueError):
        held = None
    if held is None or held > ready + (LEFTOVER_MEMORY_MB << 20):
        box.tainted = True


def close() -> None:
    if _WORKER.get("sandbox"):
        _WORKER["sandbox"].close()
    if _WORKER.get("cgroup"):
        _WORKER["cgroup"].remove()
    shutil.rmtree(_WORKER.get("scratch", ""), ignore_errors=True)


def _start_runner(memory_mb: int):
    if _WORKER["unsafe"]:
        home = tempfile.mkdtemp(prefix="job-", dir=_WORKER["scratch"])
        os.makedirs(os.path.join(home, "home"))
        return UserRunner(os.path.join(home, "home"), _WORKER["code"], memory_mb=memory_mb, core=_WORKER["core"])
    return _sandbox(memory_mb).start_runner(memory_mb)


def session_for(text: str, memory_mb: int = RUNNER_MEMORY_MB, notebook_limit: float = NOTEBOOK_TIME_LIMIT_S) -> Session:
    """A grading session for a notebook's text, with this worker's runners (the timing benchmark)."""
    return pipeline.new_session(text, functools.partial(_start_runner, memory_mb), _WORKER["core"], notebook_limit)


def _after_submission() -> None:
    """Remove the unsandboxed runners' folders; replace a sandbox that still holds memory."""
    for leftover in os.listdir(_WORKER["scratch"]):
        if leftover.startswith("job-"):
            shutil.rmtree(os.path.join(_WORKER["scratch"], leftover), ignore_errors=True)
    if not _WORKER["unsafe"]:
        _check_leftover_memory()


def grade(path: str, memory_mb: int, notebook_limit: float) -> dict:
    """``{"status", "results" (Gradescope's results.json or None), "output", "seconds"}``."""
    t0 = time.monotonic()
    try:
        text = read_file(path)
    except NoNotebook as error:
        return {"status": f"error: {error}", "results": None, "output": "", "seconds": 0.0}
    try:
        out, session = pipeline.grade_notebook(text, functools.partial(_start_runner, memory_mb), _WORKER["core"],
                                               _WORKER["tests"], _WORKER["config"], notebook_limit, _after_submission)
    except RunnerFailure as error:  # the sandbox itself failed: the grader's problem, graded again
        return {"status": f"{NEEDS_REGRADE}: the grader failed ({error})", "results": None, "output": "",
                "seconds": 0.0}
    status = "graded" if not session.fatal else f"error: {session.fatal}"
    if session.grader_fault:  # the grader's own failure: graded again, never a zero
        status = f"{NEEDS_REGRADE}: {session.fatal}"
    elif session.undecided:
        status = f"{NEEDS_REGRADE}: the grader could not decide {pipeline.undecided(session)}"
    if _WORKER["unsafe"]:
        status += " (unsafe: no sandbox)"
    return {"status": status, "results": json.loads(json.dumps(out)), "output": session.output(),
            "checks": session.checks, "seconds": round(time.monotonic() - t0, 3)}
