"""One submission's grading, as the judge sees it: its runner, its graded names, its outcomes.

The runner is started lazily, runs the notebook once, then answers calls. A call that runs past
its limit, a runner that dies or breaks the protocol: the runner is killed (with everything it
started) and the next call starts a fresh one, so one hanging function costs only its own check.
A notebook that cannot run at all is a *fatal* condition: every check then fails with its reason.
"""

import time

from .. import spec, wire
from ..config import (
    ANSWER_SHARE,
    CHECK_TIME_LIMIT_S,
    CHECK_WALL_CAP_S,
    NOTEBOOK_TIME_LIMIT_S,
    QUEUED_SHARE,
    STARVED_SHARE,
)
from . import replies
from .questions import CheckFailure, UndecidedFailure
from .runners import RunnerFailure


def _judge_queued() -> float:
    """Seconds this thread of the judge has waited on a run queue so far (0 where unknown)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class Session:
    def __init__(self, start_runner, notebook: str, filename: str, notebook_limit: float = NOTEBOOK_TIME_LIMIT_S,
                 start_reference=None):
        self.start_runner = start_runner  # () -> Runner
        self.start_reference = start_reference  # () -> a fresh reference runner (never ran submission code)
        self._reference = None
        self.notebook_limit = notebook_limit
        self.notebook, self.filename = notebook, filename
        self.runner = None
        self.names = {}
        self.fatal = None
        self.group_deadline = None  # set by start_group: all calls of a check group share its time
        self.group_cap = None       # and the wall time it may take at most, however busy the machine
        self.group_credited = 0.0
        self._steal_mark = None     # Session.mark at the last look at how long the function was kept waiting
        self._mark = None           # (runner, Session.mark) taken at the group's first request to it
        self.grader_fault = False  # the fatal condition is the grader's (a runner that could not start)
        self.outputs = []
        self.outcomes = {}      # (question, group) -> (passed, message)
        self.causes = {}        # (question, group) -> cause code of a failed check (autograder.judge.causes)
        self.undecided = []     # [(question, group, why)]: checks the grader could not decide
        self.traces = {}        # question -> [(sizes, attestation, label)] of calls with right results
        self.leftover = 0       # processes of the runner that outlived a kill (Gradescope)
        self.checks = []        # one record per hidden check once graded (autograder.judge.grade.check_records)
        self.starts = 0
        self.env_note = ""
        self.cuda = False

    # --- lifecycle ---------------------------------------------------------------------------
    def ensure(self):
        """The running runner, started (and the notebook run) if needed; raises CheckFailure."""
        if self.fatal:
            raise UndecidedFailure(self.fatal) if self.grader_fault else CheckFailure(self.fatal, "notebook_failed")
        if self.runner is not None:
            return self.runner
        self.starts += 1
        try:
            runner = self.start_runner()
        except (OSError, RunnerFailure) as error:
            self.fatal = f"the grader could not start a runner ({error}); grade this submission again"
            self.grader_fault = True
            raise UndecidedFailure(self.fatal) from None
        self.runner = runner
        try:
            hello, _ = runner.channel.recv(self.notebook_limit)
        except (wire.WireError, OSError) as error:  # no student code has run yet: the grader's problem
            self.stop()
            if self.starts < 3:  # a sandbox an earlier submission broke is replaced: try again
                return self.ensure()
            self.fatal = ("the grader could not start its runner (can the runner's user read the Python "
                          f"environment? see setup.sh): {error}. Please tell your instructor; grade it again.")
            self.grader_fault = True
            raise UndecidedFailure(self.fatal) from None
        try:
            hello = replies.convert(hello, replies.Hello)
            self.env_note = f"runner: Python {hello.python[:20]}, torch {hello.torch[:40]}"
            self.cuda = hello.cuda
            runner.channel.send({"op": "notebook", "filename": self.filename}, [self.notebook.encode("utf-8")])
            ready, _ = runner.channel.recv(self.notebook_limit)
            ready = replies.convert(ready, replies.Ready)
        except wire.WireTimeout:
            self._fail_start(f"timeout: the notebook did not finish running within {self.notebook_limit:.0f} s "
                             "(an endless loop or a long computation at the top level?)")
        except (wire.WireError, OSError) as error:
            self._fail_start("the notebook could not run: " + self._death(error))
        if ready.error is not None or ready.names is None:
            self._fail_start(f"the submission is not a notebook that can run: {(ready.error or '?')[:300]}")
        if set(ready.names) != set(spec.GRADED_NAMES):
            self._fail_start("your notebook's process answered the grader's question about its names in a way the "
                             "grader does not accept (code that replaces the grader's reply code?)")
        self.names = ready.names
        if self.group_deadline is not None:  # the notebook had its own limit: the group's calls
            self.start_group()               # get their whole time
        return runner

    def _death(self, error) -> str:
        if isinstance(error, wire.WireClosed):
            return "the notebook ended its own process (sys.exit, os._exit, a crash, or out of memory?)"
        return f"{type(error).__name__}: {error}"

    def _fail_start(self, message: str):
        self.fatal = message
        self.stop()
        raise CheckFailure(message, "notebook_failed")

    def stop(self):
        """Kill the runner and everything it started; keep what it printed."""
        if self.runner is not None:
            self.outputs.append(self.runner.output())
            self.runner.kill()
            self.leftover += getattr(self.runner, "left", 0)
            self.runner = None

    def reference(self):
        """This submission's reference runner, started on first use (fresh for every submission)."""
        if self._reference is None:
            self._reference = self.start_reference()
        return self._reference

    def drop_reference(self) -> None:
        """Retire the reference runner (after any failure with it: its channel is never reused)."""
        if self._reference is not None:
            self._reference.kill()
            self._reference = None

    def close(self) -> None:
        """The submission is done: no runner of it, and no reference runner, survives."""
        self.stop()
        self.drop_reference()

    def output(self) -> str:
        return "\n".join(o for o in self.outputs if o)

    # --- requests ----------------------------------------------------------------------------
    def start_group(self) -> None:
        """A check group begins: all its calls together get ``CHECK_TIME_LIMIT_S`` of the function's
        own time (:meth:`_stolen`), and ``CHECK_WALL_CAP_S`` of wall time at most."""
        now = time.monotonic()
        self.group_deadline, self.group_cap = now + CHECK_TIME_LIMIT_S, now + CHECK_WALL_CAP_S
        self.group_credited = 0.0  # seconds of the runner's trace cost credited to the group (credit)
        self._mark = self._steal_mark = None

    def _stolen(self, runner) -> float:
        """Seconds to add to the group's deadline, now that it passed: since the last look, the
        judge's own work (references, checking results: never the function's time), the time the
        judge itself waited for a processor while it waited on the answers, and the time
        the function's processes waited on a run queue while its side did not use its processor
        (others held it); up to the wall cap. A loop, or processes of its own crowding its core,
        use the processor and earn nothing; a sleep waits on no queue."""
        mark = self.mark(runner)
        last, self._steal_mark = self._steal_mark or self._mark[1], mark
        elapsed, answering = mark[0] - last[0], mark[3] - last[3]
        judge_queued = mark[4] - last[4]  # the judge kept from reading the answers, as it "waited" on them
        stolen = max(elapsed - answering, 0.0) + min(max(judge_queued, 0.0), answering)
        answering -= min(max(judge_queued, 0.0), answering)
        if last[1] is not None and mark[1] is not None:
            ran = (mark[2] - last[2]) if mark[2] is not None and last[2] is not None else mark[1][0] - last[1][0]
            stolen += min(mark[1][1] - last[1][1], max(answering - ran, 0.0))
        stolen = min(stolen, self.group_cap - time.monotonic())
        if stolen < 0.05:
            return 0.0
        self.group_deadline += stolen
        return stolen

    def credit(self, seconds: float) -> None:
        """The group's deadline moves on by what the runner's operator trace took on a call (the
        grader's bookkeeping, not the function's work: a correct row loop once spent most of its
        values group's time in the trace), up to the wall cap. The runner reports it; a false
        report can only buy time up to the cap, never a point."""
        if self.group_deadline is not None and seconds > 0:
            moved = min(self.group_deadline + seconds, self.group_cap) - self.group_deadline
            self.group_deadline += max(moved, 0.0)
            self.group_credited += max(moved, 0.0)

    @staticmethod
    def _side_ran(runner, mark):
        """Processor seconds the function's side ran since ``mark``; None where unknown."""
        if mark[2] is not None:
            now = runner.cpu_time()
            return None if now is None else now - mark[2]
        now = runner.schedstat()
        return None if mark[1] is None or now is None else now[0] - mark[1][0]

    def request(self, header: dict, blobs=(), timeout: float = CHECK_TIME_LIMIT_S, runner=None) -> tuple:
        runner = runner or self.ensure()
        if self._mark is None or self._mark[0] is not runner:
            self._mark, self._steal_mark = (runner, self.mark(runner)), None
        if self.group_deadline is not None:
            if self.group_deadline <= time.monotonic():  # the machine may have taken it between calls
                self._stolen(runner)
            timeout = min(timeout, self.group_deadline - time.monotonic())
        try:
            if timeout <= 0:
                raise wire.WireTimeout("the group's time is up")
            extend = (lambda: self._stolen(runner)) if self.group_deadline is not None else None
            return runner.channel.request(header, blobs, timeout, extend)
        except wire.WireTimeout:
            starved = self.starved(runner, self._mark[1])
            if not starved and self.group_cap is not None and self.group_deadline >= self.group_cap - 0.05:
                # the deadline moved on to the cap: unless the function itself ran its whole time
                # (its trace's cost apart), the machine or the grader's own work took the time
                ran = self._side_ran(runner, self._mark[1])
                if ran is None or ran - self.group_credited < CHECK_TIME_LIMIT_S:
                    starved = (f"the grader's own work and the machine's load took {CHECK_WALL_CAP_S:.0f} s "
                               "before your function had its time")
            self.stop()
            if starved:
                raise UndecidedFailure(f"the machine was too busy to run the check ({starved}): it is undecided, pays "
                                       "nothing now and is graded again", "machine_busy") from None
            raise RunnerFailure(f"the check did not finish within {CHECK_TIME_LIMIT_S:.0f} s: the function hangs "
                                "or is far too slow (an endless loop, a sleep, a huge allocation?)", "hangs") from None
        except (wire.WireError, OSError) as error:
            self.stop()
            if isinstance(error, wire.WireClosed):
                raise RunnerFailure(self._death(error), "runner_died") from None
            raise RunnerFailure(f"your notebook's process answered in a way the grader does not accept ({error}); "
                                "likely cause: code that writes to the grader's pipes", "protocol") from None

    @staticmethod
    def mark(runner) -> tuple:
        """What :meth:`starved` compares against: (time, schedstat, processor time, seconds the judge
        has waited on the runner's answers, seconds the judge itself waited on a run queue) now."""
        return time.monotonic(), runner.schedstat(), runner.cpu_time(), runner.channel.waited, _judge_queued()

    @staticmethod
    def starved(runner, mark: tuple) -> str:
        """Why a call that ran out of time since ``mark`` was starved by the machine, or "" when
        it was the function's own doing. Starved: all the function's processes together got less
        than ``STARVED_SHARE`` of a processor (the whole side's processor time where the kernel
        accounts for it, exited processes included; otherwise what its live processes ran), and
        either the judge waited on the function's answers for less than ``ANSWER_SHARE`` of the
        time (the judge's own work, slowed by the machine, took the rest) or the function's
        processes waited on a run queue for more than ``QUEUED_SHARE`` of it. A function that
        hangs keeps the judge waiting; one that loops, or whose processes crowd the judge's core,
        uses the processor: both are the function's own doing."""
        started, before, used, waited, judge_queued = mark
        elapsed = time.monotonic() - started
        now = runner.schedstat()
        if used is not None:
            ran = (runner.cpu_time() or 0.0) - used
        elif before is not None and now is not None:
            ran = now[0] - before[0]
        else:
            return ""
        if ran >= STARVED_SHARE * elapsed:
            return ""
        # the judge kept from a processor while it waited was not waiting on the function
        answering = runner.channel.waited - waited - max(_judge_queued() - judge_queued, 0.0)
        if answering < ANSWER_SHARE * elapsed:
            return (f"in {elapsed:.1f} s the grader waited only {answering:.1f} s for your function's answers "
                    f"(which ran {ran:.1f} s): its own work took the rest")
        if before is not None and now is not None and now[1] - before[1] > QUEUED_SHARE * elapsed:
            return f"in {elapsed:.1f} s your code waited {now[1] - before[1]:.1f} s for a processor and ran {ran:.1f} s"
        return ""

    def value(self, name: str) -> dict:
        self.ensure()
        if self.names.get(name) == "missing":
            raise CheckFailure(f"{name} is not defined: run its cell, and keep its name.", "not_defined")
        reply, _ = self.request({"op": "value", "name": name})
        return replies.value_reply(reply)

    def record(self, question: str, group: str, passed: bool, message: str, undecided: bool = False,
               cause: str = "") -> None:
        """The one outcome of a check group; an undecided one never pays."""
        self.outcomes[(question, group)] = (passed and not undecided, message)
        self.causes[(question, group)] = "" if passed and not undecided else cause
        if undecided:
            self.undecided.append((question, group, message))
