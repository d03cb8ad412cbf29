"""Unit tests of :class:`autograder.judge.session.Session`'s verdict on a call that ran out of
time: starved by the machine (undecided, graded again) or slow by itself (a failure)."""

import pytest

from autograder.config import QUEUED_SHARE, STARVED_SHARE
from autograder.judge.session import Session


class Clocked:
    """A runner whose kernel figures the test sets: run-queue wait and processor time (seconds)."""

    def __init__(self, cpu=True):
        self.queued, self.ran, self.cpu = 0.0, 0.0, cpu

    def schedstat(self):
        return self.ran, self.queued

    def cpu_time(self):
        return self.ran if self.cpu else None


def after(runner, seconds, queued, ran):
    mark = Session.mark(runner)
    mark = (mark[0] - seconds, *mark[1:])  # as if the call began ``seconds`` ago
    runner.queued += queued
    runner.ran += ran
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
