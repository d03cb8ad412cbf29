"""The judge: decides every point. No submission code ever runs in it.

It draws inputs, computes references, times, and runs Otter's hidden test files against stand-ins
for the notebook's names (:mod:`autograder.judge.stand_ins`); it reads only plain data from
runners (:mod:`autograder.wire`) and never unpickles, imports or executes what they produce.
The hidden tests call :func:`check`.
"""

__all__ = ["check"]


def check(question: str, group: str, *stand_ins) -> None:
    """Run one hidden check group; raise ``AssertionError`` with the student's message on failure."""
    from .grade import run_check
    run_check(question, group, stand_ins)
