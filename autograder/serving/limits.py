"""Resource limits of one runner process, inherited by everything it starts."""

import resource
import signal

from ..config import RUNNER_FILE_MB, RUNNER_MAX_PROCESSES, RUNNER_MEMORY_MB


def limit(memory_mb: int = RUNNER_MEMORY_MB) -> None:
    """Memory, file size and core dumps of one runner."""
    size = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    files = RUNNER_FILE_MB << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood fails its writes instead of dying


def limit_processes() -> None:
    """The processes of the runner's user (counted per user by the kernel): a fork bomb stops here."""
    resource.setrlimit(resource.RLIMIT_NPROC, (RUNNER_MAX_PROCESSES * 4,) * 2)
