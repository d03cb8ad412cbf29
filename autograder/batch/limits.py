"""Resource limits and the bubblewrap sandbox for grading workers.

Each worker process runs inside bubblewrap when ``bwrap`` is installed: no network, the whole file
system read-only except its own scratch folder and a private /tmp, its own process and IPC
namespaces, killed with the grader. Each submission then runs in a forked child of that worker
with its own session and rlimits (address space, file size, process count, CPU time), as
``nobody`` when the grader runs as root, and a wall-time limit enforced by the worker.
"""

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys

FALLBACK_NOTE = (
    "grading without bubblewrap (bwrap is not installed or cannot run here, or --no-sandbox): "
    "submissions run with "
    "resource limits (memory, processes, file size, time) and in their own temporary folder, but "
    "they can read your files, write where you can write and reach the network. Install it "
    "(Debian/Ubuntu: apt-get install bubblewrap) for a real sandbox."
)


NOBODY = 65534


@functools.lru_cache(maxsize=None)
def _bwrap_works(bwrap: str) -> bool:
    """bubblewrap can make its namespaces here (some containers forbid it)."""
    unshare = ["--unshare-net", "--unshare-pid"] if os.getuid() == 0 else ["--unshare-all"]
    try:
        return subprocess.run([bwrap, *unshare, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def bwrap_prefix(scratch: str, readable=()) -> list:
    """The command prefix that confines a worker, or [] when bubblewrap is missing or unusable.

    As root, no user namespace: the grading child then drops to ``nobody`` itself
    (:func:`drop_privileges`), which a user namespace mapping only root would not allow.
    ``readable`` folders (the repository, the virtual environment) stay visible read-only even
    when they lie under /tmp, which the sandbox replaces with an empty one.
    """
    bwrap = shutil.which("bwrap")
    if not bwrap or not _bwrap_works(bwrap):
        return []
    unshare = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
               if os.getuid() == 0 else ["--unshare-all"])
    return [bwrap, *unshare, "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            *[arg for path in readable for arg in ("--ro-bind", path, path)],
            "--bind", scratch, scratch, "--chdir", scratch]


def _count_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply(memory_mb: int, cpu_seconds: int, max_file_mb: int) -> None:
    """Limit the calling (grading child) process; call right after fork, before reading the submission."""
    os.setsid()
    limit = _vm_size() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    size = max_file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))  # a zip bomb stops at this size per file
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood fails its writes instead of killing
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cap_processes(max_processes: int) -> None:
    """At most ``max_processes`` more processes for this user (root is exempt: see pids_cgroup)."""
    nproc = _count_processes() + max_processes
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _world_can_enter(path: str) -> bool:
    """Every folder from / down to ``path`` can be entered by any user."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        if path == os.path.dirname(path):
            return True
        path = os.path.dirname(path)


def can_drop_privileges() -> bool:
    """Running as root, with a Python installation that ``nobody`` can read."""
    if os.getuid() != 0:
        return False
    import torch
    return all(_world_can_enter(os.path.dirname(p)) for p in (os.__file__, torch.__file__, sys.executable))


def drop_privileges(folder: str) -> None:
    """When grading as root: hand ``folder`` to ``nobody`` and become ``nobody``.

    Then the process limit applies (the kernel exempts root from it), files outside the folder
    stay read-only even without bubblewrap, and the grader's own processes cannot be signalled.
    Skipped where ``nobody`` could not read Python itself (an installation under /root).
    """
    if not can_drop_privileges():
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.lchown(name, NOBODY, NOBODY)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def kill_strays() -> int:
    """Inside the worker's own pid namespace only: kill every process but the worker and bwrap.

    A submission may leave processes in new sessions, out of reach of :func:`kill_group`; they
    must not live on into the next submission's grading. Returns how many were killed.
    """
    keep = {1, os.getpid(), os.getppid()}
    killed = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


PIDS_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")


def pids_cgroup(name: str, max_pids: int):
    """A cgroup that caps the number of processes, or None where none can be made.

    Root is exempt from RLIMIT_NPROC, so as root a fork bomb is held by this instead. Works with
    the v1 ``pids`` controller and with cgroup v2 where ``pids`` is enabled.
    """
    for root in PIDS_ROOTS:
        if os.path.exists(os.path.join(root, "pids.max")) or os.path.exists(os.path.join(root, "cgroup.procs")):
            path = os.path.join(root, name)
            try:
                os.makedirs(path, exist_ok=True)
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(max_pids))
                return path
            except OSError:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
    return None


def join_cgroup(path: str) -> None:
    """Move the calling process into the cgroup (use as a ``preexec_fn``)."""
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def remove_cgroup(path: str) -> None:
    """Kill every process still in the cgroup (sessions escaped with setsid too), then remove it."""
    import time
    for _ in range(100):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)


def kill_group(pid: int) -> None:
    """SIGKILL a child's whole session (it called setsid), ignoring what already ended."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
