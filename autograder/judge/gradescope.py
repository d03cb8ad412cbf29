"""Gradescope's entry point: ``run_autograder`` runs this as root in ``/autograder``.

1. Write a zero ``results.json`` at once: a crash or a timeout never means no results.
2. Lock the judge's folders (``source/``, ``submission/``, ``results/``) to root.
3. Read the student's notebook as text (from ``submission/``, or the export zip in it; the
   zip's other files, ``.OTTER_LOG`` included, are never opened).
4. Start runners as the unprivileged ``rnn-runner`` (created by ``setup.sh``) in a scratch home,
   importing a copy of the runner's own modules only; grade with Otter's hidden test files.
5. Kill every process of ``rnn-runner``, remove what it wrote, then write the results.
"""

import json
import os
import pwd
import shutil
import sys
import time

from . import pipeline
from .runners import UserRunner
from .submission import NoNotebook, read_folder

ROOT = "/autograder"
RUNNER_USER = "rnn-runner"
#: an undecided check is graded again (a fresh session) this many times, if grading began less
#: than ``RETRY_BEFORE_S`` seconds ago
UNDECIDED_RETRIES = 1
RETRY_BEFORE_S = 240
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the modules a runner needs; the judge's (references, rules, checks, hidden tests) stay behind
RUNNER_MODULES = ("__init__.py", "config.py", "spec.py", "wire.py", "operators.py", "serving", "runner")


def write_results(path: str, results: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def zero_results(message: str) -> dict:
    return {"score": 0, "output": message,
            "tests": [{"name": "Grading", "score": 0, "max_score": 0, "visibility": "visible", "output": message}]}


def runner_code(root: str) -> str:
    """A root-owned, world-readable copy of the runner's modules in ``root``/runner-code;
    returns the folder to import from."""
    code = os.path.join(root, "runner-code")
    shutil.rmtree(code, ignore_errors=True)
    package = os.path.join(code, "autograder")
    os.makedirs(package)
    for name in RUNNER_MODULES:
        source = os.path.join(PACKAGE, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(package, name), ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, package)
    for folder, _, files in os.walk(code):
        os.chmod(folder, 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)
    return code


def runner_home(root: str, uid: int, gid: int) -> str:
    scratch = os.path.join(root, "runner")
    shutil.rmtree(scratch, ignore_errors=True)
    home = os.path.join(scratch, "home")
    os.makedirs(home)
    os.chmod(scratch, 0o711)
    os.chown(home, uid, gid)
    os.chmod(home, 0o700)
    return home


def remove_files_of(uid: int) -> None:
    """What the runner user left in the world-writable folders."""
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(folder, entry)
            try:
                if os.lstat(path).st_uid != uid:
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
            except OSError:
                pass


def otter_config(root: str):
    from otter.run.run_autograder.autograder_config import AutograderConfig
    with open(os.path.join(root, "source", "otter_config.json")) as f:
        return AutograderConfig(json.load(f))


def main(root: str = ROOT) -> int:
    t0 = time.monotonic()
    results_path = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    write_results(results_path, zero_results("Grading did not finish; your instructor has been told."))
    for name in ("source", "submission", "results"):
        os.chmod(os.path.join(root, name), 0o700)
    os.chmod(root, 0o711)  # the runner user may pass through to its home and its code, nothing more
    try:
        user = pwd.getpwnam(RUNNER_USER)
    except KeyError:
        write_results(results_path, zero_results(f"The autograder is not set up: no user {RUNNER_USER} "
                                                 "(setup.sh creates it). Please tell your instructor."))
        return 1
    try:
        text = read_folder(os.path.join(root, "submission"))
    except NoNotebook as error:
        write_results(results_path, zero_results(f"Nothing to grade: {error}."))
        return 0
    home = runner_home(root, user.pw_uid, user.pw_gid)
    code = runner_code(root)
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # the judge times on the core its runners use
    import torch
    torch.set_num_threads(1)  # one core: more threads would only spin against each other
    for _ in range(1 + UNDECIDED_RETRIES):  # an undecided check is graded again while there is time
        out, session = pipeline.grade_notebook(text, lambda: UserRunner(home, code, user=RUNNER_USER, core=core), core,
                                               os.path.join(root, "source", "tests"), otter_config(root),
                                               cleanup=lambda: remove_files_of(user.pw_uid))
        if not session.undecided or time.monotonic() - t0 > RETRY_BEFORE_S:
            break
    shutil.rmtree(os.path.dirname(home), ignore_errors=True)
    output = session.output()
    status = f"Graded in {time.monotonic() - t0:.1f} s; your notebook ran with {session.env_note.removeprefix('runner: ')}."
    if session.fatal:
        status += f"\nThe notebook could not be graded: {session.fatal}"
    if session.undecided:
        status += (f"\nThe grader could not decide {pipeline.undecided(session)} (grader overloaded): "
                   "those checks pay nothing now. Please ask for a regrade.")
    if session.leftover:
        status += f"\n{session.leftover} process(es) of the notebook outlived grading and were killed."
    out["output"] = status
    write_results(results_path, out)
    print(status)
    print(output[-5000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
