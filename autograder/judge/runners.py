"""The judge's handles on runners: start them, talk to them, stop them, kill them.

A runner is reached only through the two pipes the judge created for it (:class:`Channel`).
Three ways to start one, all behind :class:`Runner`:

- :class:`UserRunner`: a fresh ``python -m autograder.runner`` as an unprivileged user, through
  ``setpriv`` (Gradescope: the user ``setup.sh`` created; ``--unsafe`` batch grading: no switch);
- :class:`SandboxRunner`: a runner forked by a zygote inside a bubblewrap sandbox (batch grading),
  see :class:`Sandbox`;
- :class:`ReferenceRunner`: a fork of the judge itself serving the reference functions; no
  submission code ever runs in it. The timing check times it exactly like the student's runner.
"""

import itertools
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time

try:
    import psutil
except ImportError:  # make gpu-check runs with torch alone; its local runners never need it
    psutil = None

from .. import wire
from ..config import MAX_LOG_BYTES, RUNNER_FILE_MB
from ..serving.limits import limit, limit_processes

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RunnerFailure(Exception):
    """The runner did not answer properly: it timed out, died or broke the protocol; ``cause`` is
    the likely cause's code (:data:`autograder.judge.causes.CAUSES`)."""

    def __init__(self, message: str = "", cause: str = "runner_died"):
        super().__init__(message)
        self.cause = cause


class Channel:
    """The judge's ends of a runner's two pipes; every exchange has a deadline."""

    _ids = itertools.count(1)

    def __init__(self, requests_w: int, replies_r: int):
        os.set_blocking(requests_w, False)
        self.requests_w, self.replies_r = requests_w, replies_r
        self._waited, self._since = 0.0, None

    @property
    def waited(self) -> float:
        """Seconds the judge has waited on this runner's requests, timed out ones and the one in
        progress too."""
        return self._waited + (time.perf_counter() - self._since if self._since is not None else 0.0)

    def send(self, header: dict, blobs=(), timeout: float = 30.0) -> None:
        wire.send(self.requests_w, header, blobs, time.monotonic() + timeout)

    def recv(self, timeout: float) -> tuple:
        return wire.recv(self.replies_r, time.monotonic() + timeout)

    def request(self, header: dict, blobs=(), timeout: float = 30.0, extend=None) -> tuple:
        """Send a request and return the reply that carries its id, within ``timeout`` in all;
        ``extend`` (optional) is asked for more seconds whenever the time is up, and the exchange
        goes on while it grants some (:class:`autograder.wire.Deadline`)."""
        reply, reply_blobs, _ = self.timed_request(header, blobs, timeout, extend)
        return reply, reply_blobs

    def timed_request(self, header: dict, blobs=(), timeout: float = 30.0, extend=None) -> tuple:
        """``(reply, blobs, seconds)``: the seconds from the first byte sent to the last received.

        The message is encoded before the clock starts and decoded after it stops.
        """
        deadline = wire.Deadline(time.monotonic() + timeout, extend)
        header = {**header, "id": next(self._ids)}
        data = wire.encode(header, blobs)
        t0 = self._since = time.perf_counter()
        try:
            wire.send_encoded(self.requests_w, data, deadline)
            reply, reply_blobs = wire.recv(self.replies_r, deadline)
        finally:
            self._waited, self._since = self._waited + time.perf_counter() - t0, None
        seconds = time.perf_counter() - t0
        if reply.get("id") != header["id"]:
            raise wire.WireError("a reply that does not answer the request")
        return reply, reply_blobs, seconds

    def close(self) -> None:
        for fd in (self.requests_w, self.replies_r):
            try:
                os.close(fd)
            except OSError:
                pass


def _pipes():
    """(runner's requests_r, judge's requests_w, judge's replies_r, runner's replies_w)."""
    requests_r, requests_w = os.pipe()  # not inheritable: a runner gets only what pass_fds names
    replies_r, replies_w = os.pipe()
    wire.widen(requests_w, replies_r)
    return requests_r, requests_w, replies_r, replies_w


def signal_all(processes, sig) -> list:
    """Send ``sig`` to every process, again and again until no new one appears (a stopped or
    killed process cannot fork). ``processes`` is a callable listing them. Returns those seen."""
    seen = {}
    for _ in range(100):
        try:
            listed = processes()
        except (psutil.Error, OSError):
            listed = []
        fresh = [p for p in listed if p.pid not in seen or sig == signal.SIGKILL]
        if not fresh:
            break
        for p in fresh:
            seen[p.pid] = p
            try:
                p.send_signal(sig)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        if sig == signal.SIGKILL:
            psutil.wait_procs(fresh, timeout=0.5)
    return list(seen.values())


class Runner:
    """One runner process (and whatever it started): channel, pause, resume, kill, output."""

    channel: Channel
    log_path: str = None

    def processes(self) -> list:  # every process the submission may control
        raise NotImplementedError

    def cpu_time(self):
        """Seconds of processor time all its processes consumed so far, or None where the kernel
        cannot account for all of them (the timing check then compares wall time)."""
        return None

    def schedstat(self):
        """``(seconds run, seconds waited on a run queue)`` of the runner's live processes, every
        thread, from ``/proc/<pid>/task/<tid>/schedstat``; None when none could be read."""
        run, wait, read = 0, 0, False
        for process in self.processes():
            try:
                tasks = os.listdir(f"/proc/{process.pid}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    with open(f"/proc/{process.pid}/task/{task}/schedstat") as f:
                        fields = f.read().split()
                    run, wait, read = run + int(fields[0]), wait + int(fields[1]), True
                except (OSError, ValueError, IndexError):
                    pass
        return (run / 1e9, wait / 1e9) if read else None

    def pause(self) -> None:
        """Stop every process of the runner, and wait (up to a second) until each is really
        stopped: a process inside a long system call takes the signal only when it returns.
        Raises RunnerFailure when they could not all be stopped (the caller's check is undecided)."""
        self._paused = signal_all(self.processes, signal.SIGSTOP)
        self._wait_stopped(self._paused)

    def _wait_stopped(self, processes) -> None:
        deadline = time.monotonic() + 1.0
        while True:
            running = []
            for p in processes:
                try:
                    if p.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                        running.append(p)
                except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                    pass
            if not running:
                return
            if time.monotonic() > deadline:
                shown = []
                for p in running[:3]:
                    try:
                        shown.append(f"{p.pid} {p.name()} {p.status()}")
                    except (psutil.Error, OSError):
                        pass
                raise RunnerFailure(f"{len(running)} process(es) of the runner could not be stopped ({'; '.join(shown)})")
            time.sleep(0.002)

    def resume(self) -> None:
        for p in getattr(self, "_paused", []):
            try:
                p.send_signal(signal.SIGCONT)
            except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                pass
        self._paused = []

    def kill(self) -> None:
        signal_all(self.processes, signal.SIGSTOP)
        signal_all(self.processes, signal.SIGKILL)
        self.channel.close()

    def output(self) -> str:
        """What the runner printed (its first ``MAX_LOG_BYTES``), as text; read, never run."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read(MAX_LOG_BYTES + 1)
        except OSError:
            return ""
        text = data[:MAX_LOG_BYTES].decode("utf-8", "replace")
        return text + ("\n[output truncated]\n" if len(data) > MAX_LOG_BYTES else "")


def runner_env(home: str, code_dir: str) -> dict:
    """A small, explicit environment: nothing of the judge's leaks into a runner."""
    return {"PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin", "HOME": home,
            "TMPDIR": home, "MPLCONFIGDIR": home, "IPYTHONDIR": home, "MPLBACKEND": "Agg",
            "PYTHONPATH": code_dir, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1"}


class UserRunner(Runner):
    """A fresh runner process, as ``user`` (through setpriv) when given, in ``home``.

    ``code_dir`` holds the ``autograder`` package the runner imports (on Gradescope a copy of the
    runner's own modules only). Its processes are all those of ``user``; without a user, those
    in the runner's process tree (the unsafe mode's best effort).
    """

    def __init__(self, home: str, code_dir: str, user: str = None, memory_mb: int = None, core: int = None):
        requests_r, requests_w, replies_r, replies_w = _pipes()
        self.log_path = os.path.join(os.path.dirname(home), "runner-output.log")
        log = open(self.log_path, "ab")
        prefix = []
        self.uid = self.gid = None
        self.left = 0
        if user:
            import pwd
            entry = pwd.getpwnam(user)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
            prefix = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
                      "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
        cmd = [*prefix, sys.executable, "-s", "-m", "autograder.runner",
               "--requests", str(requests_r), "--replies", str(replies_w)]

        def before_exec():
            limit(memory_mb) if memory_mb else limit()
            if user:
                limit_processes()
            if core is not None:
                os.sched_setaffinity(0, {core})

        self.proc = subprocess.Popen(cmd, cwd=home, env=runner_env(home, code_dir), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, pass_fds=(requests_r, replies_w),
                                     start_new_session=True, preexec_fn=before_exec)
        log.close()
        os.close(requests_r)
        os.close(replies_w)
        self.channel = Channel(requests_w, replies_r)

    def processes(self) -> list:
        if self.uid is not None:
            return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and self.uid in p.info["uids"]]
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def signal_user(self, name: str) -> None:
        """``kill(-1, SIG<name>)`` from a fresh process running as the runner's user: the kernel
        signals every process of that user at once, none can fork away from it."""
        done = subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                               "--no-new-privs", sys.executable, "-S", "-I", "-c",
                               f"import os, signal; os.kill(-1, signal.SIG{name})"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)
        if done.returncode:
            raise RunnerFailure(f"kill(-1, SIG{name}) as the runner's user failed: {done.stderr[-200:]!r}")

    def pause(self) -> None:
        if self.uid is None:
            return super().pause()
        self.signal_user("STOP")
        self._paused = self.processes()
        self._wait_stopped(self._paused)

    def resume(self) -> None:
        if self.uid is None:
            return super().resume()
        self.signal_user("CONT")
        self._paused = []

    def _alive(self) -> list:
        alive = []
        for p in self.processes():
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                pass
        return alive

    def kill(self) -> None:
        if self.uid is not None:
            for _ in range(3):
                try:
                    self.signal_user("KILL")
                except (RunnerFailure, OSError, subprocess.TimeoutExpired):
                    pass
                try:
                    self.proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
                if not self._alive():
                    break
            self.left = len(self._alive())
        super().kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class ReferenceRunner(Runner):
    """A fork of the judge that serves ``functions`` (reference code only), on ``core``.

    The judge warms the trace once (:func:`autograder.serving.serve.warm_up`, grader code only)
    before its first fork, so each fresh reference runner starts as warm as a runner forked by
    the sandbox's zygote, instead of paying over a second on its first timed call."""

    _warm = False

    @classmethod
    def warm(cls) -> None:
        """Pay the trace's first use in this (the judge's) process, once."""
        if not cls._warm:
            from ..serving.serve import warm_up
            warm_up()
            cls._warm = True

    def __init__(self, functions: dict, core: int = None):
        self.warm()
        requests_r, requests_w, replies_r, replies_w = _pipes()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(requests_w)
                os.close(replies_r)
                import torch
                torch.set_num_threads(1)
                if core is not None:
                    os.sched_setaffinity(0, {core})
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                from ..serving.serve import serve
                serve(requests_r, replies_w, functions)
            finally:
                os._exit(0)
        os.close(requests_r)
        os.close(replies_w)
        self.pid = pid
        self.channel = Channel(requests_w, replies_r)

    def processes(self) -> list:
        return []

    def schedstat(self):
        """``(seconds run, seconds waited on a run queue)`` of its one process (it starts none)."""
        try:
            with open(f"/proc/{self.pid}/schedstat") as f:
                run, wait = f.read().split()[:2]
            return int(run) / 1e9, int(wait) / 1e9
        except (OSError, ValueError):
            return None

    def cpu_time(self):
        """Its processor time: ``/proc/<pid>/schedstat``."""
        stat = self.schedstat()
        return None if stat is None else stat[0]

    def kill(self) -> None:
        self.channel.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class Sandbox:
    """A bubblewrap sandbox holding a warm zygote that forks one runner per submission.

    The sandbox binds read-only only what Python needs (the interpreter, its packages, system
    libraries) and a copy of the runner's own modules; its one writable place is a size-capped
    tmpfs. It has its own user (65534, no capabilities), pid, network, IPC and UTS namespaces.

    The process that starts it need not be the one that uses it: the batch grader starts each
    worker's sandbox before forking the workers (their zygotes boot while it imports), so its
    liveness is read from a pidfd, which works in any process that inherited it.
    """

    def __init__(self, bwrap_cmd: list, scratch: str, core: int = None, cgroup=None,
                 scratch_inside: str = "/scratch"):
        self.scratch, self.core, self.cgroup = scratch, core, cgroup
        self.tainted = False  # a runner's process outlived its kill: never reuse this sandbox

        def preexec_fn():
            if cgroup:
                cgroup.join()
            log = RUNNER_FILE_MB << 20  # sandbox.log, however the sandbox's own processes write to it
            resource.setrlimit(resource.RLIMIT_FSIZE, (log, log))

        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.control = parent
        cmd = [*bwrap_cmd, sys.executable, "-s", "-m", "autograder.runner", "--zygote",
               "--control", str(child.fileno()), "--scratch", scratch_inside]
        self.log = open(os.path.join(scratch, "sandbox.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     pass_fds=(child.fileno(),), start_new_session=True, preexec_fn=preexec_fn)
        child.close()
        try:
            self.pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):  # before Linux 5.3: only the starting process can tell
            self.pidfd = None
        self.infrastructure = set()
        self.jobs = itertools.count(1)

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.control.settimeout(timeout)
        try:
            ready = self.control.recv(1)
        except (TimeoutError, OSError):
            ready = b""
        self.control.settimeout(None)
        if ready != b"R":
            self.close()
            with open(self.log.name, "rb") as f:
                tail = f.read()[-2000:].decode(errors="replace")
            raise RunnerFailure(f"the grading sandbox did not start:\n{tail}")
        self.infrastructure = {self.proc.pid, *(p.pid for p in self.tree())}
        self.commands = self._commands()

    def _commands(self) -> dict:
        """pid -> (executable, command line, resource limits, nice, processor affinity, scheduling
        policy and priority) of the sandbox's own processes: a runner runs as the zygote's user and
        can lower its limits or its priority (``prlimit``, ``setpriority``, ``sched_setscheduler``:
        red team, round 23, ``SCHED_IDLE``), which every later runner would inherit."""
        out = {}
        for pid in self.infrastructure:
            try:
                p = psutil.Process(pid)
                with open(f"/proc/{pid}/limits", encoding="ascii", errors="replace") as f:
                    limits = f.read()
                out[pid] = (p.exe(), tuple(p.cmdline()), limits, p.nice(), tuple(p.cpu_affinity()),
                            os.sched_getscheduler(pid), os.sched_getparam(pid).sched_priority)
            except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                out[pid] = None
        return out

    def tree(self) -> list:
        """Every process in the sandbox (bubblewrap's descendants). With a cgroup, its members but
        bubblewrap: the same processes (only bubblewrap joined it, and none can leave it), read
        from one small file; psutil would read every process of the machine, at each check."""
        if self.cgroup is not None:
            listed = []
            for pid in self.cgroup.pids():
                if pid != self.proc.pid:
                    try:
                        listed.append(psutil.Process(pid))
                    except psutil.NoSuchProcess:
                        pass
            return listed
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> bool:
        """The sandbox and its zygote run (a zygote a submission stopped or killed does not count)."""
        alive = set()
        for p in self.tree():
            try:
                if p.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_STOPPED, psutil.STATUS_DEAD):
                    alive.add(p.pid)
            except psutil.NoSuchProcess:
                pass
        others = [p for p in self.tree() if p.pid not in self.infrastructure]
        # a process of the sandbox's own that now runs another program, or under other limits, priority
        # or cores, was taken over or tampered with: never reuse it
        return (self.running() and not self.tainted and not others
                and self.infrastructure - {self.proc.pid} <= alive and self._commands() == self.commands)

    def running(self) -> bool:
        """bubblewrap has not exited (read from its pidfd: from any process that holds it)."""
        if self.pidfd is None:
            return self.proc.poll() is None
        return not select.select([self.pidfd], [], [], 0)[0]

    def start_runner(self, memory_mb: int) -> "SandboxRunner":
        return SandboxRunner(self, memory_mb)

    def release(self) -> None:
        """This process lets go of its handles; the sandbox runs on for the process that uses it."""
        for closing in (self.control, self.log):
            closing.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.pidfd is not None:  # in a process that did not start it, wait() returns at once
            select.select([self.pidfd], [], [], 5.0)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for closing in (self.control, self.log):
            closing.close()
        if self.pidfd is not None:
            try:
                os.close(self.pidfd)
            except OSError:
                pass
            self.pidfd = None


class SandboxRunner(Runner):
    """One runner forked by the sandbox's zygote, reached through pipes the judge sent it."""

    def __init__(self, sandbox: Sandbox, memory_mb: int):
        self.sandbox = sandbox
        requests_r, requests_w, replies_r, replies_w = _pipes()
        self.log_path = os.path.join(sandbox.scratch, f"runner-{next(sandbox.jobs)}.log")
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            job = json.dumps({"memory_mb": memory_mb, "core": sandbox.core}).encode()
            socket.send_fds(sandbox.control, [job], [requests_r, replies_w, log_fd])
        finally:
            for fd in (requests_r, replies_w, log_fd):
                os.close(fd)
        self.channel = Channel(requests_w, replies_r)

    def processes(self) -> list:
        return [p for p in self.sandbox.tree() if p.pid not in self.sandbox.infrastructure]

    def cpu_time(self):
        """The sandbox cgroup's processor time: every process the submission ever started, exited
        ones included (the zygote idles meanwhile)."""
        if self.sandbox.cgroup is None:
            return None
        try:
            return self.sandbox.cgroup.cpu_ns() / 1e9
        except (OSError, ValueError, KeyError):
            return None

    def pause(self) -> None:
        """Freeze the whole sandbox at once (cgroup freezer): nothing in it can fork away."""
        if self.sandbox.cgroup is None:
            return super().pause()
        if not self.sandbox.cgroup.freeze():
            self.sandbox.cgroup.thaw()
            raise RunnerFailure("the sandbox could not be frozen")

    def resume(self) -> None:
        if self.sandbox.cgroup is None:
            return super().resume()
        self.sandbox.cgroup.thaw()

    def kill(self) -> None:
        if self.sandbox.cgroup is not None:
            if self.sandbox.cgroup.kill(keep=self.sandbox.infrastructure):
                self.sandbox.tainted = True
            self.channel.close()
        else:
            super().kill()
        if self.processes():
            self.sandbox.tainted = True
        try:
            os.remove(self.log_path)
        except OSError:
            pass
