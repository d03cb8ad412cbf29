"""Resource limits and the bubblewrap sandbox for grading workers.

Each worker process runs inside bubblewrap when ``bwrap`` is installed: no network, the whole file
system read-only except its own scratch folder and a private /tmp, its own process and IPC
namespaces, killed with the grader. Each submission then runs in a forked child of that worker
with its own session and rlimits (address space, file size, process count, CPU time) and a
wall-time limit enforced by the worker.
"""

import os
import resource
import shutil
import signal

FALLBACK_NOTE = (
    "bubblewrap (bwrap) is not installed: submissions run with resource limits (memory, processes, "
    "file size, time) and in their own temporary folder, but they can read your files, write where "
    "you can write and reach the network. Install it (Debian/Ubuntu: apt-get install bubblewrap) "
    "for a real sandbox."
)


def bwrap_prefix(scratch: str) -> list:
    """The command prefix that confines a worker, or [] when bubblewrap is missing or unusable."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return []
    return [bwrap, "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
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


def apply(memory_mb: int, cpu_seconds: int, max_processes: int, max_file_mb: int) -> None:
    """Limit the calling (grading child) process; call right after fork."""
    os.setsid()
    limit = _vm_size() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    nproc = _count_processes() + max_processes
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    size = max_file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood fails its writes instead of killing
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def kill_group(pid: int) -> None:
    """SIGKILL a child's whole session (it called setsid), ignoring what already ended."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
