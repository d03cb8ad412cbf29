"""One submission graded, whoever drives it: the Gradescope entry point and the batch worker are
thin drivers around :func:`grade_notebook` (they differ only in how runners start and where the
results go).

A fresh session per submission: the student's runners come from ``start_runner`` (a user runner
on Gradescope, a sandboxed one in batch), the reference runner is forked from the judge on the
core the judge times on, and everything is closed before the results are returned.
"""

from .. import receipt, spec
from ..config import NOTEBOOK_TIME_LIMIT_S
from . import references
from .grade import check_records, grade, gradescope_dict
from .runners import ReferenceRunner
from .session import Session
from .submission import ASSIGNMENT


def new_session(text: str, start_runner, core: int, notebook_limit: float = NOTEBOOK_TIME_LIMIT_S) -> Session:
    """A grading session for a notebook's text: the student's runners from ``start_runner``, the
    reference runner forked from this (the judge's) process, pinned to ``core``."""
    return Session(start_runner, str(text), f"{ASSIGNMENT}.ipynb", notebook_limit=notebook_limit,
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
    out = gradescope_dict(results, config, session)
    out["tests"].insert(0, received_test(text))
    return out, session


RECEIVED = "Submission received"


def received_test(text: str) -> dict:
    """The 0-point test a student sees at once (visibility "visible", whatever the hidden tests'
    visibility): the notebook file graded and, per question, whether its answer is in it. Decided
    from the text alone (:mod:`autograder.receipt`: JSON and ``ast``, nothing run), so it cannot
    change a score."""
    lines, complete = receipt.question_lines(str(text), receipt.answers_from_spec(spec.QUESTIONS))
    origin = getattr(text, "origin", "") or f"{ASSIGNMENT}.ipynb"
    origin = "".join(c if c.isprintable() else repr(c)[1:-1] for c in origin)[:300]  # a name is the student's
    output = [f"Graded file: {origin}", *lines, ""]
    if not complete:
        output.append("Some answers were not found in this file. If you wrote them, save the notebook, export it "
                      "again and resubmit the new zip. 部分答案不在此文件中：如果你已经写了，请保存笔记本、重新导出并再次提交。")
    output.append("This test is worth no points: it lists what arrived. Your points for each question appear when "
                  "your instructor publishes the grades. 本测试不计分，只列出收到的内容；各题分数在教师发布成绩后显示。")
    return {"name": RECEIVED, "score": 0, "max_score": 0, "visibility": "visible", "output": "\n".join(output)}


def undecided(session) -> str:
    """The checks the grader could not decide, in words ("" when none)."""
    return ", ".join(f"{q} {g}" for q, g, _ in session.undecided)
