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


def test_a_fast_function_graded_by_a_starved_judge_is_undecided_not_hanging(monkeypatch):
    """The judge's own checking slowed (as on a machine too busy for it) until the group's time runs
    out while the function answers at once: undecided, never "the function hangs"."""
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", 3.0)
    slow = checks.expect_results

    def starved_judge(*args, **kwargs):
        time.sleep(0.4)
        return slow(*args, **kwargs)

    monkeypatch.setattr(checks, "expect_results", starved_judge)
    with pytest.raises(UndecidedFailure, match="waited only"):
        run_group("q2_separate", "values", lambda X, W_xh, H, W_hh: X @ W_xh + H @ W_hh)
