"""Control groups for a submission's processes: count, freeze, account and kill them atomically.

A process a submission starts stays in its parent's cgroup, and only root can move it out, so
the kernel knows every process of a submission however fast it forks and exits:

- ``freeze()`` stops them all at once (a frozen process cannot fork), and ``thaw()`` resumes them;
- ``cpu_ns()`` is the processor time every process of the group ever consumed, exited ones
  included (the timing check compares it, not wall time, so load and neighbours cannot move it);
- ``kill()`` freezes, SIGKILLs every process but the listed infrastructure, thaws, and waits;
- ``pids.max`` caps how many there may be at once, and the memory controller how much memory
  they may hold together (a submission cannot starve the machine with many processes);
- the cpuset controller keeps every process of the group on the worker's own core (no process of a
  submission can move to a neighbour's core and crowd it), and the cpu controller schedules the
  group as one: however many processes it starts, together they get one share of that core;
- ``memory_bytes()`` is what the group still holds: memory charged to it that outlives its
  processes (SysV shared memory, files in its tmpfs) shows there, and the sandbox is replaced.

cgroup v1 (a hierarchy per controller: ``pids``, ``freezer``, ``cpuacct``) and v2 (one unified
hierarchy: ``cgroup.freeze``, ``cpu.stat``) are both supported; :func:`create` returns None
where the grader is not root or the controllers are missing, and callers fall back.
"""

import os
import signal
import time

ROOT = "/sys/fs/cgroup"
V1 = {"pids": "pids", "freezer": "freezer", "cpuacct": "cpuacct", "memory": "memory", "cpu": "cpu",
      "cpuset": "cpuset"}


class Cgroup:
    def __init__(self, paths: dict, v2: bool):
        self.paths, self.v2 = paths, v2  # controller -> folder ({"": folder} for v2)

    def _path(self, controller: str, name: str) -> str:
        return os.path.join(self.paths["" if self.v2 else controller], name)

    def _write(self, controller: str, name: str, value: str) -> None:
        with open(self._path(controller, name), "w") as f:
            f.write(value)

    def _read(self, controller: str, name: str) -> str:
        with open(self._path(controller, name)) as f:
            return f.read()

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (the caller by default: usable as a ``preexec_fn``) into every hierarchy."""
        for path in set(self.paths.values()):
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(pid or os.getpid()))

    def pids(self) -> list:
        try:
            return [int(p) for p in self._read("pids" if not self.v2 else "", "cgroup.procs").split()]
        except OSError:
            return []

    def cpu_ns(self) -> int:
        """Processor time of every process that was ever in the group, in nanoseconds."""
        if self.v2:
            stat = dict(line.split() for line in self._read("", "cpu.stat").splitlines())
            return int(stat["usage_usec"]) * 1000
        return int(self._read("cpuacct", "cpuacct.usage"))

    def memory_bytes(self) -> int:
        """Memory charged to the group now (its processes', and what outlives them)."""
        return int(self._read("memory", "memory.current" if self.v2 else "memory.usage_in_bytes"))

    def freeze(self, timeout: float = 2.0) -> bool:
        """Freeze every process of the group; True once the kernel says all are frozen."""
        self._write("freezer", "cgroup.freeze" if self.v2 else "freezer.state", "1" if self.v2 else "FROZEN")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.frozen():
                return True
            time.sleep(0.0005)
        return False

    def frozen(self) -> bool:
        if self.v2:
            return "frozen 1" in self._read("", "cgroup.events")
        return self._read("freezer", "freezer.state").strip() == "FROZEN"

    def thaw(self) -> None:
        self._write("freezer", "cgroup.freeze" if self.v2 else "freezer.state", "0" if self.v2 else "THAWED")

    def kill(self, keep=(), timeout: float = 2.0) -> list:
        """SIGKILL every process but ``keep`` while the group is frozen (none can fork away),
        then wait for them to go. Returns the pids still there (a non-empty list: do not reuse)."""
        try:
            self.freeze()
            for pid in self.pids():
                if pid not in keep:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        finally:
            self.thaw()
        deadline = time.monotonic() + timeout
        while True:
            left = [p for p in self.pids() if p not in keep]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill everything left, then remove the group's folders (again: nothing to do)."""
        if not os.path.isdir(next(iter(self.paths.values()))):
            return
        try:
            self.kill()
        except OSError:
            pass
        for path in set(self.paths.values()):
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def create(name: str, max_pids: int, max_memory_mb: int = None, cpus=None) -> "Cgroup | None":
    """A fresh group named ``name`` with its process cap (and memory cap: every process of it
    together; and the only cores its processes may run on), or None where none can be made."""
    if os.getuid() != 0:
        return None
    made = []
    try:
        if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):  # v2
            for controller in ("pids", "cpu", "memory", "cpuset"):
                with open(os.path.join(ROOT, "cgroup.subtree_control"), "w") as f:
                    f.write(f"+{controller}")
            path = os.path.join(ROOT, name)
            os.makedirs(path)
            made.append(path)
            group = Cgroup({"": path}, v2=True)
        else:
            paths = {}
            for controller, folder in V1.items():
                path = os.path.join(ROOT, folder, name)
                os.makedirs(path)
                made.append(path)
                paths[controller] = path
            group = Cgroup(paths, v2=False)
        if cpus is not None:  # v1 wants the memory nodes too before a process may join
            if not group.v2:
                with open(os.path.join(ROOT, V1["cpuset"], "cpuset.mems")) as f:
                    group._write("cpuset", "cpuset.mems", f.read().strip())
            group._write("cpuset", "cpuset.cpus", ",".join(str(c) for c in sorted(cpus)))
        group._write("pids", "pids.max", str(max_pids))
        if max_memory_mb:
            group._write("memory", "memory.max" if group.v2 else "memory.limit_in_bytes", str(max_memory_mb << 20))
        group.cpu_ns()
        group.frozen()
        group.memory_bytes()
        return group
    except (OSError, KeyError, ValueError):
        for path in made:
            try:
                os.rmdir(path)
            except OSError:
                pass
        return None
