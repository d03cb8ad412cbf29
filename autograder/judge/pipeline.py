"""One submission graded, whoever drives it: the Gradescope entry point and the batch worker are
thin drivers around :func:`grade_notebook` (they differ only in how runners start and where the
results go).

A fresh session per submission: the student's runners come from ``start_runner`` (a user runner
on Gradescope, a sandboxed one in batch), the reference runner is forked from the judge on the
core the judge times on, and everything is closed before the results are returned.
"""

from ..config import NOTEBOOK_TIME_LIMIT_S
from . import references
from .grade import check_records, grade, gradescope_dict
from .runners import ReferenceRunner
from .session import Session
from .submission import ASSIGNMENT


def new_session(text: str, start_runner, core: int, notebook_limit: float = NOTEBOOK_TIME_LIMIT_S) -> Session:
    """A grading session for a notebook's text: the student's runners from ``start_runner``, the
    reference runner forked from this (the judge's) process, pinned to ``core``."""
    return Session(start_runner, text, f"{ASSIGNMENT}.ipynb", notebook_limit=notebook_limit,
                   start_reference=lambda: ReferenceRunner(references.timed_functions(), core))


def grade_notebook(text: str, start_runner, core: int, tests_dir: str, config,
                   notebook_limit: float = NOTEBOOK_TIME_LIMIT_S, cleanup=None) -> tuple:
    """``(results, session)``: Otter's results.json dict for the hidden tests in ``tests_dir`` and
    the closed session (its output, fatal error, undecided checks, leftover processes, and
    ``checks``: one record per hidden check, :func:`autograder.judge.grade.check_records`).
    ``config`` is Otter's autograder config (a dict or an ``AutograderConfig``); ``cleanup`` runs
    after the session is closed, whatever happened."""
    from otter.run.run_autograder.autograder_config import AutograderConfig
    session = new_session(text, start_runner, core, notebook_limit)
    try:
        results = grade(session, tests_dir)
    finally:
        session.close()
        if cleanup is not None:
            cleanup()
    config = AutograderConfig(config) if isinstance(config, dict) else config
    session.checks = check_records(results, session)
    return gradescope_dict(results, config), session


def undecided(session) -> str:
    """The checks the grader could not decide, in words ("" when none)."""
    return ", ".join(f"{q} {g}" for q, g, _ in session.undecided)
