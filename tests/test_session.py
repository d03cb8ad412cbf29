"""Unit tests of :class:`autograder.judge.session.Session`'s verdict on a call that ran out of
time: starved by the machine (undecided, graded again) or slow by itself (a failure)."""

import time

import pytest

from autograder.config import ANSWER_SHARE, QUEUED_SHARE, STARVED_SHARE
from autograder.judge import checks
from autograder.judge import session as session_module
from autograder.judge.local import run_group
from autograder.judge.questions import UndecidedFailure
from autograder.judge.session import Session


class Clocked:
    """A runner whose kernel figures the test sets: run-queue wait and processor time (seconds)."""

    def __init__(self, cpu=True):
        self.queued, self.ran, self.cpu = 0.0, 0.0, cpu
        self.channel = type("Channel", (), {"waited": 0.0})()

    def schedstat(self):
        return self.ran, self.queued

    def cpu_time(self):
        return self.ran if self.cpu else None


def after(runner, seconds, queued, ran, answered=None):
    """The verdict on a call that began ``seconds`` ago, the judge having waited ``answered`` of
    them (all, unless told) on the function's answers."""
    mark = Session.mark(runner)
    mark = (mark[0] - seconds, *mark[1:])  # as if the call began ``seconds`` ago
    runner.queued += queued
    runner.ran += ran
    runner.channel.waited += seconds if answered is None else answered
    return Session.starved(runner, mark)


@pytest.mark.parametrize("queued, ran, starved", [
    (0.0, 0.0, False),     # a sleep: waits on no run queue
    (0.1, 19.8, False),    # a loop on an idle machine: it had the processor
    (16.0, STARVED_SHARE * 20 + 1, False),  # its own processes crowd its core: together they ran
    (QUEUED_SHARE * 20 + 1, 1.5, True),     # the machine's load: waited most of the time, ran little
])
def test_a_timeout_is_undecided_only_when_the_machine_starved_the_runner(queued, ran, starved):
    assert bool(after(Clocked(), 20.0, queued, ran)) is starved


def test_without_processor_accounting_the_run_queue_decides():
    assert after(Clocked(cpu=False), 20.0, 18.0, 0.0)
    assert not after(Clocked(cpu=False), 20.0, 1.0, 0.0)


def test_without_processor_accounting_processes_that_ran_are_not_starved():  # red team, round 10
    assert not after(Clocked(cpu=False), 20.0, 128.0, 19.0)


def test_without_run_queue_figures_a_timeout_is_the_functions_own():
    runner = Clocked()
    runner.schedstat = lambda: None
    assert after(runner, 20.0, 0.0, 0.0) == ""


@pytest.mark.parametrize("answered, queued, ran, starved", [
    (20.0, 0.0, 0.0, False),                      # a sleep: the judge waited on it the whole time
    (ANSWER_SHARE * 20 + 0.5, 0.0, 0.0, False),   # most of the time was the function's
    (ANSWER_SHARE * 20 - 0.5, 0.0, 0.0, True),    # the judge's own work took most of it
    (0.2, 0.0, STARVED_SHARE * 20 + 1, False),    # its processes ran meanwhile (crowding the judge?)
])
def test_a_timeout_is_undecided_when_the_judge_itself_took_the_time(answered, queued, ran, starved):
    assert bool(after(Clocked(), 20.0, queued, ran, answered)) is starved


@pytest.mark.parametrize("cap", [30.0, 3.0])
def test_a_fast_function_graded_by_a_starved_judge_is_never_hanging(monkeypatch, cap):
    """The judge's own checking slowed (as on a machine too busy for it) far past the group's 2 s
    while the function answers at once: the judge's time is not the function's, so the check goes
    on to its verdict; past the group's wall cap it is undecided, never "the function hangs"."""
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", 2.0)
    monkeypatch.setattr(session_module, "CHECK_WALL_CAP_S", cap, raising=False)
    slow = checks.expect_results

    def starved_judge(*args, **kwargs):
        time.sleep(0.1)
        return slow(*args, **kwargs)

    monkeypatch.setattr(checks, "expect_results", starved_judge)
    separate = lambda X, W_xh, H, W_hh: X @ W_xh + H @ W_hh  # noqa: E731
    t0 = time.monotonic()
    if cap > 10:
        assert "right shapes" in run_group("q2_separate", "values", separate)
        assert time.monotonic() - t0 > 4.0, "the judge was not slowed past the group's limit: the test tests nothing"
    else:
        with pytest.raises(UndecidedFailure, match="waited only"):
            run_group("q2_separate", "values", separate)


def stolen_after(seconds, queued, ran, cap=60.0, answered=None):
    """The seconds a group's deadline moves on after ``seconds``, in which the judge waited
    ``answered`` (all, unless told) on the function's answers, and the function's processes queued
    ``queued`` and its side ran ``ran`` seconds."""
    session, runner = Session(None, "", "x.ipynb"), Clocked()
    session.start_group()
    session.group_cap = time.monotonic() + cap
    mark = Session.mark(runner)
    session._mark = (runner, (mark[0] - seconds, *mark[1:]))
    deadline = session.group_deadline
    runner.queued += queued
    runner.ran += ran
    runner.channel.waited += seconds if answered is None else answered
    granted = session._stolen(runner)
    assert session.group_deadline == pytest.approx(deadline + granted)
    return granted


@pytest.mark.parametrize("queued, ran, granted", [
    (10.0, 10.0, 10.0),   # a busy machine took half of the function's core: that half is given back
    (18.0, 20.0, 0.0),    # its own processes crowd its core: the side used all of it
    (0.0, 0.5, 0.0),      # a sleep waits on no run queue
    (0.0, 20.0, 0.0),     # a loop on an idle machine
])
def test_a_group_deadline_moves_on_by_the_time_the_machine_took(queued, ran, granted):
    assert stolen_after(20.0, queued, ran) == pytest.approx(granted, abs=0.01)


def test_the_judges_own_work_is_never_the_functions_time():
    assert stolen_after(20.0, 0.0, 4.0, answered=4.0) == pytest.approx(16.0, abs=0.01)


def test_the_deadline_never_moves_past_the_groups_wall_cap():
    assert stolen_after(20.0, 15.0, 5.0, cap=4.0) == pytest.approx(4.0, abs=0.05)
    assert stolen_after(20.0, 15.0, 5.0, cap=0.0) == 0.0


@pytest.fixture
def busy_core():
    """A core held by a busy process for the test's duration (the machine's load)."""
    import os
    import subprocess
    import sys
    core = max(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])
    yield core
    busy.kill()
    busy.wait()


def _values_on(core, func):
    """The values group of q2 on ``func``, its runner on ``core``; (note or the exception, seconds)."""
    from autograder.judge.local import LocalSession
    from autograder.judge.questions import GRADED
    from autograder.judge.stand_ins import FunctionProxy
    session = LocalSession({"hidden_state_separate": func}, core=core)
    try:
        session.ensure()  # started (and warmed up) before the group's clock starts, as in grading
        session.start_group()
        t0 = time.monotonic()
        try:
            return checks.GROUPS["values"](GRADED["q2_separate"], FunctionProxy(session, GRADED["q2_separate"])), \
                time.monotonic() - t0
        except Exception as error:  # noqa: BLE001 (the test reads it)
            return error, time.monotonic() - t0
    finally:
        session.close()


def test_a_correct_function_on_a_core_another_process_holds_still_gets_its_time(monkeypatch, busy_core):
    """A runner that shares its core with a busy process runs at half speed: a call that needs 1.2 s
    of processor time takes about 2.4 s, past a 2 s group limit. Its deadline moves on by the time
    the other process took (a correct loop on a busy machine once lost its values as "hangs")."""
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", 2.0)
    monkeypatch.setattr(session_module, "CHECK_WALL_CAP_S", 60.0, raising=False)
    first = [True]

    def slow_once(X, W_xh, H, W_hh):
        if first[0]:
            first[0] = False
            t0 = time.process_time()
            while time.process_time() - t0 < 1.2:
                pass
        return X @ W_xh + H @ W_hh

    note, seconds = _values_on(busy_core, slow_once)
    assert isinstance(note, str), note
    assert seconds > 2.0, "the test did not slow the function past the limit: it tests nothing"


def test_a_function_that_hangs_on_a_busy_core_still_fails_once_it_had_its_time(monkeypatch, busy_core):
    """The deadline moves on by what the busy process took, not for ever: a loop that never ends
    fails as hanging once it ran its own second, well before the cap."""
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", 1.0)
    monkeypatch.setattr(session_module, "CHECK_WALL_CAP_S", 6.0, raising=False)

    def hangs(X, W_xh, H, W_hh):
        while True:
            pass

    error, seconds = _values_on(busy_core, hangs)
    assert getattr(error, "cause", None) == "hangs", error
    assert 1.4 < seconds < 5.5, seconds


def test_what_the_trace_cost_moves_the_deadline_on_up_to_the_cap():
    session = Session(None, "", "x.ipynb")
    session.credit(5.0)  # outside a group: nothing to move
    assert session.group_deadline is None
    session.start_group()
    deadline = session.group_deadline
    session.credit(5.0)
    assert session.group_deadline == pytest.approx(deadline + 5.0)
    session.credit(1e6)  # a runner that claims any cost buys time up to the cap, no more
    assert session.group_deadline == session.group_cap
