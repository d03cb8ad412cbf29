"""A warm grading worker: imports Otter, torch and the hidden-test helpers once, then grades each
submission in a forked child with fresh interpreter state and its own folder.

Protocol (stdin/stdout, JSON lines): the worker says ``{"ready": true}``; each job
``{"id", "path", "timeout", "memory_mb"}`` is answered by ``{"id", "status", "results"}``, where
``results`` is Otter's ``results.json`` (or null) and ``status`` says how grading ended.
"""

import argparse
import json
import os
import shutil
import sys
import time
import zipfile

from . import limits

MAX_PROCESSES = 64
MAX_FILE_MB = 256
MAX_LOG_BYTES = 2 * 1024 * 1024


def _capture_output(path: str) -> None:
    """Send this process's stdout and stderr through a pipe into ``path``, keeping the first
    ``MAX_LOG_BYTES``: a submission that floods its output fills no disk and stops nothing."""
    import threading
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def drain():
        kept = 0
        with open(path, "wb") as log:
            while chunk := os.read(read_fd, 65536):
                if kept < MAX_LOG_BYTES:
                    log.write(chunk[:MAX_LOG_BYTES - kept])
                    kept += len(chunk)
                    if kept >= MAX_LOG_BYTES:
                        log.write(b"\n[output truncated]\n")
                    log.flush()

    threading.Thread(target=drain, daemon=True).start()


def _prepare(autograder_zip: str, scratch: str) -> str:
    """Extract the autograder once, import what grading needs, warm the checker. Returns the template."""
    template = os.path.join(scratch, "source")
    with zipfile.ZipFile(autograder_zip) as z:
        z.extractall(template)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["IPYTHONDIR"] = os.path.join(scratch, "ipython")
    sys.path.insert(0, os.path.join(template, "files"))
    import IPython.core.interactiveshell  # noqa: F401
    import nbconvert.preprocessors  # noqa: F401
    import otter.execute  # noqa: F401
    import otter.run.run_autograder  # noqa: F401
    import rnn_checks.zygote
    rnn_checks.zygote.prepare()
    return template


def _stage(job: dict, template: str, folder: str) -> str:
    """Lay out Otter's autograder folder (source/, submission/, results/) for one submission."""
    ag = os.path.join(folder, "autograder")
    shutil.copytree(template, os.path.join(ag, "source"))
    sub = os.path.join(ag, "submission")
    os.makedirs(sub)
    os.makedirs(os.path.join(ag, "results"))
    with open(os.path.join(ag, "submission_metadata.json"), "w") as f:
        json.dump({}, f)
    path = job["path"]
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for member in z.infolist():  # names stay inside the folder (zipfile strips ../ and /)
                z.extract(member, sub)
    else:  # the notebook opens itself by the assignment's name (otter.Notebook("<name>.ipynb"))
        with open(os.path.join(template, "otter_config.json")) as f:
            name = json.load(f).get("assignment_name") or os.path.splitext(os.path.basename(path))[0]
        shutil.copy(path, os.path.join(sub, f"{name}.ipynb"))
    return ag


def _grade_in_child(job: dict, template: str, folder: str) -> None:
    """Runs in the forked child: limits, staging, checker, Otter. Writes status.json; never returns."""
    status = {"status": "error", "message": "grading did not finish"}
    try:
        limits.apply(job["memory_mb"], int(job["timeout"]) + 5, MAX_FILE_MB)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        _capture_output(os.path.join(folder, "output.log"))
        try:
            ag = _stage(job, template, folder)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            status = {"status": "error", "message": f"not a readable submission: {type(error).__name__}: {error}"}
        else:
            os.environ["IPYTHONDIR"] = os.path.join(folder, "ipython")
            limits.drop_privileges(folder)
            limits.cap_processes(MAX_PROCESSES)
            import rnn_checks.isolation
            from . import executor
            rnn_checks.isolation.start_forked()  # pristine checker, forked before student code runs
            executor.install()
            from otter.run.run_autograder import main as run_autograder
            try:
                run_autograder(ag, otter_run=True, logo=False)
                status = {"status": "graded", "message": ""}
            except BaseException as error:
                status = {"status": "error", "message": f"Otter could not grade it: {type(error).__name__}: {error}"[:500]}
    except BaseException as error:
        status = {"status": "error", "message": f"the grader failed to set up: {type(error).__name__}: {error}"[:500]}
    finally:
        try:
            with open(os.path.join(folder, "status.json"), "w") as f:
                json.dump(status, f)
        finally:
            os._exit(0)


def _wait(pid: int, timeout: float) -> str:
    """Wait for the child; returns "" if it ended by itself, else a status. Kills its session."""
    deadline = time.monotonic() + timeout
    ended = None
    while time.monotonic() < deadline:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            ended = code
            break
        time.sleep(0.02)
    limits.kill_group(pid)
    if ended is None:
        os.waitpid(pid, 0)
        return f"timeout: killed after {timeout:.0f} s (an endless loop or a sleep?)"
    code = os.waitstatus_to_exitcode(ended)
    if code < 0:
        return f"crashed: the grading process died of signal {-code}"
    return ""


def grade(job: dict, template: str, scratch: str, sandboxed: bool = False) -> dict:
    folder = os.path.join(scratch, f"job-{job['id']}")
    os.makedirs(folder)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _grade_in_child(job, template, folder)
    failure = _wait(pid, job["timeout"])
    if sandboxed:  # this pid namespace holds only us: nothing the submission started lives on
        limits.kill_strays()
    answer = {"id": job["id"], "status": failure or "error: the grading process ended without a status", "results": None, "output": ""}
    try:
        if not failure:
            with open(os.path.join(folder, "status.json")) as f:
                st = json.load(f)
            answer["status"] = "graded" if st["status"] == "graded" else f"error: {st['message']}"
        if answer["status"] == "graded":
            with open(os.path.join(folder, "autograder", "results", "results.json")) as f:
                answer["results"] = json.load(f)
    except (OSError, ValueError, KeyError) as error:
        if not failure:
            answer["status"] = f"error: no results ({type(error).__name__}); the submission ended the grading process early (sys.exit, os._exit?)"
    try:
        with open(os.path.join(folder, "output.log"), errors="replace") as f:
            answer["output"] = f.read(200000)
    except OSError:
        pass
    if answer["status"] == "graded" and "MemoryError" in answer["output"]:
        answer["status"] = f"graded; a cell ran out of memory (limit {job['memory_mb']} MB)"
    answer["output"] = answer["output"][:20000]
    answer["seconds"] = round(time.monotonic() - t0, 3)
    shutil.rmtree(folder, ignore_errors=True)
    return answer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="one grading worker (started by autograder.batch)")
    parser.add_argument("--autograder", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--sandboxed", action="store_true", help="running in bubblewrap's own pid namespace")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # nothing but the protocol reaches the real stdout
    template = _prepare(args.autograder, args.scratch)
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        answer = grade(json.loads(line), template, args.scratch, args.sandboxed)
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
