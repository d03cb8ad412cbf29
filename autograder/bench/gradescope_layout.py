"""Gradescope's layout, as Gradescope runs it: the zip's own ``run_autograder`` as root, in
``/autograder`` (source/, submission/, results/), after the zip's runner setup.

``/autograder`` is a temporary folder bound there by bubblewrap (a private mount namespace);
``/root`` is an empty tmpfs with only the Python installation bound back (Gradescope's /root
holds the environment; here the runner user must reach it the same way); ``/etc/passwd`` and
``/etc/group`` are copies that hold the runner user, as ``setup.sh`` would create it; a ``mamba``
shim on PATH activates this repository's virtual environment in place of Otter's.
"""

import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ..paths import REPO, ZIP

USER = "rnn-runner"

#: one Gradescope layout at a time on this machine: every layout's runner runs as :data:`USER`, and
#: the judge freezes and kills its runner with ``kill(-1)`` as that user, which reaches every
#: process of the user, a second layout's runner included (on Gradescope each container grades one
#: submission; here parallel test workers or benchmarks would stop each other's runners)
LOCK = Path("/tmp/rnn-hidden-state-gradescope-layout.lock")


def available() -> bool:
    return os.getuid() == 0 and shutil.which("bwrap") is not None and shutil.which("setpriv") is not None


def _user_files(folder: Path) -> tuple:
    passwd = Path("/etc/passwd").read_text()
    group = Path("/etc/group").read_text()
    if f"\n{USER}:" not in "\n" + passwd:
        used = {int(line.split(":")[2]) for line in passwd.splitlines() if line.count(":") >= 3}
        # a random free uid: two harnesses on one machine must not signal each other's runners
        uid = random.choice([u for u in range(64000, 65000) if u not in used])
        passwd += f"{USER}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
        group += f"{USER}:x:{uid}:\n"
    (folder / "passwd").write_text(passwd)
    (folder / "group").write_text(group)
    return folder / "passwd", folder / "group"


def layout(folder: Path, submission: Path) -> Path:
    ag = folder / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True)
    with zipfile.ZipFile(ZIP) as z:
        z.extractall(ag / "source")
    for name in ("run_autograder", "setup.sh"):
        os.chmod(ag / "source" / name, 0o755)
    shutil.copy(submission, ag / "submission" / submission.name)
    (ag / "submission_metadata.json").write_text("{}")
    shutil.copy(ag / "source" / "run_autograder", ag / "run_autograder")
    return ag


def command(folder: Path, ag: Path, script: str) -> list:
    shim = folder / "conda"  # stands for Otter's environment: <base>/bin/mamba, at /opt/conda
    (shim / "bin").mkdir(parents=True, exist_ok=True)
    venv_bin = Path(sys.executable).parent
    (shim / "bin" / "mamba").write_text(
        "#!/bin/bash\n"
        f"if [ \"$1\" = shell ]; then echo 'mamba() {{ export PATH=\"{venv_bin}:$PATH\"; }}'; fi\n")
    os.chmod(shim / "bin" / "mamba", 0o755)
    passwd, group = _user_files(folder)
    python = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), str(Path(sys.executable).parent)})
    # what a Gradescope image would not hold is hidden: /root, the repository, the host's /tmp;
    # the Python installation is bound back
    hidden = ["--tmpfs", "/root", "--tmpfs", "/tmp"]
    if not str(REPO).startswith("/tmp/"):
        hidden += ["--tmpfs", str(REPO)]
    binds = []
    for path in python:  # the folders above it traversable by the runner user, as on Gradescope
        parents = [str(p) for p in reversed(Path(path).parents) if str(p) != "/"]
        binds += [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]
        binds += ["--ro-bind", path, path]
    return ["bwrap", "--dev-bind", "/", "/", *hidden, *binds, "--bind", str(ag), "/autograder",
            "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group",
            "--tmpfs", "/opt", "--bind", str(shim), "/opt/conda",
            "--setenv", "PATH", f"/opt/conda/bin:{os.environ['PATH']}", "bash", "-c", script]


def run(folder: Path, submission: Path, timeout: float = 600) -> tuple:
    """``(results.json, seconds, completed process)`` of grading ``submission`` the Gradescope way."""
    Path("/autograder").mkdir(exist_ok=True)  # bwrap binds over this mount point
    ag = layout(folder, submission)
    script = ("bash /autograder/source/files/autograder/judge/setup_runner.sh && "
              "bash /autograder/run_autograder")
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        done = subprocess.run(command(folder, ag, script), capture_output=True, text=True, timeout=timeout)
        seconds = time.monotonic() - t0
    results = json.loads((ag / "results" / "results.json").read_text())
    return results, seconds, done
