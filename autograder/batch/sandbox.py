"""The batch grader's sandbox: bubblewrap around each worker's zygote (its cgroup: autograder.judge.cgroups).

The sandbox sees, read-only, only what Python needs: system libraries (``/usr`` and the top-level
links into it), the interpreter's installation, the virtual environment, and a copy of the
runner's own modules (not the repository: no solution, no hidden test, no reference). Its root
is read-only; its only writable places are two size-capped tmpfs, ``/scratch`` and ``/dev/shm``. It has its own user namespace (uid 65534, no
capabilities), pid, network, IPC, UTS and cgroup namespaces, and dies with the judge. Its
``/proc`` is read-only: when the grader runs as root, the sandbox's uid maps to the host's uid 0
(without capabilities), and the kernel lets uid 0 write most of ``/proc/sys``: a red-team
notebook changed a host sysctl that way (``kernel.core_pattern`` was writable too).
"""

import functools
import os
import pwd
import shutil
import subprocess
import sys

#: bytes of the sandbox's writable tmpfs (the submission's scratch space), and of its /dev/shm
TMPFS_BYTES = 512 << 20
SHM_BYTES = 64 << 20
#: the one writable folder inside the sandbox
SCRATCH = "/scratch"
#: processes one worker's sandbox may hold at once (a fork bomb stops here)
MAX_PIDS = 256
CODE_MOUNT = "/runner-code"

REFUSAL = (
    "bubblewrap (bwrap) is not installed or cannot create its namespaces here, so submissions "
    "cannot be isolated: they could read your files, write where you can and reach the network. "
    "Install it (Debian/Ubuntu: apt-get install bubblewrap), or pass --unsafe to grade without a "
    "sandbox (the rows are marked 'unsafe')."
)


def _system_binds() -> list:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ("/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime"):
        args += ["--ro-bind-try", name, name]
    return args


def command(code_dir: str) -> list:
    """The bwrap prefix for a worker's zygote; ``code_dir`` holds the runner's modules."""
    prefixes = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)})
    binds = [arg for p in prefixes for arg in ("--ro-bind", p, p)]
    if os.path.realpath(sys.executable) != sys.executable:  # a venv's python is a link into the base
        binds += ["--ro-bind", os.path.dirname(sys.executable), os.path.dirname(sys.executable)]
    nobody = pwd.getpwnam("nobody")
    return ["bwrap", "--unshare-user", "--uid", str(nobody.pw_uid), "--gid", str(nobody.pw_gid), "--unshare-pid",
            "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8", "--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--size", str(TMPFS_BYTES), "--tmpfs", SCRATCH,
            *_system_binds(), *binds, "--ro-bind", code_dir, CODE_MOUNT,
            "--remount-ro", "/", "--chdir", SCRATCH, "--setenv", "PYTHONPATH", CODE_MOUNT, "--setenv", "HOME", SCRATCH,
            "--setenv", "TMPDIR", SCRATCH,
            "--setenv", "TORCHINDUCTOR_CACHE_DIR", f"{SCRATCH}/torchinductor",  # torch writes there at first use
            "--setenv", "MPLBACKEND", "Agg", "--setenv", "OMP_NUM_THREADS", "1",
            "--unsetenv", "PYTHONHOME"]


@functools.cache
def available() -> bool:
    """bubblewrap is installed and can make every namespace the sandbox uses."""
    if not shutil.which("bwrap"):
        return False
    try:
        done = subprocess.run([*command("/usr")[:-2], "true"], capture_output=True, timeout=30)
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


