"""Grade one submission in the judge: Otter's hidden test files, run against stand-ins.

The test files (built from the master notebook's ``# BEGIN TESTS`` cells, points in each
``TEST CONFIG``) are loaded with Otter's own API; only their hidden cases run here (public cases
run in the student's kernel and carry no points). Each hidden case calls
:func:`autograder.judge.check`, which runs one check group and records its outcome. Attested
groups then pay only when their gate passed (:meth:`autograder.spec.Question.gate`), and the
results become Otter's ``GradingResults``, from which ``results.json`` is written.
"""

import ast
import dataclasses
import glob
import os

from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from .. import spec, wire
from . import checks
from .questions import GRADED, CheckFailure, UndecidedFailure
from .runners import RunnerFailure
from .stand_ins import FunctionProxy, ValueStandIn


def _session_of(stand_ins):
    if not stand_ins or not all(isinstance(s, (FunctionProxy, ValueStandIn)) for s in stand_ins):
        raise CheckFailure("the graded names are missing from the grading environment.")
    return stand_ins[0].session


class GraderError(Exception):
    """The grader itself failed on a check: the check is undecided (no points, graded again)."""


def _failed_gate(outcomes: dict, question: str, group: str) -> list:
    """The groups of ``group``'s gate that have no recorded pass."""
    return [g for g in spec.QUESTIONS[question].gate(group) if not outcomes.get((question, g), (False,))[0]]


def _decide(question: str, group: str, stand_ins) -> str:
    """Run one check group: its note, or raise (CheckFailure, RunnerFailure, WireError, anything)."""
    session = _session_of(stand_ins)
    session.start_group()
    failed_gate = _failed_gate(session.outcomes, question, group)
    if "values" in failed_gate:
        raise CheckFailure(f"not run: the {group} check counts only once the values are right, and the values check "
                           "failed.", "values_failed")
    if group == "shapes":
        return checks.check_shapes(stand_ins)
    return checks.GROUPS[group](GRADED[question], stand_ins[0])


def run_check(question: str, group: str, stand_ins) -> None:
    """Run one check group and record its outcome in the session, whatever happens.

    Fail closed: only a check that returned normally passes. A failure the student's code caused
    (a wrong answer, a runner that hangs, dies or breaks the protocol) fails the group; any other
    exception is the grader's own failure and leaves the group undecided: no points, graded again.
    """
    session = _session_of(stand_ins)
    undecided = False
    try:
        note = _decide(question, group, stand_ins)
    except CheckFailure as failure:
        message, cause = str(failure), failure.cause
        undecided = isinstance(failure, UndecidedFailure)
    except RunnerFailure as failure:
        message, cause = f"{spec.QUESTIONS[question].function or 'the notebook'}: {failure}", failure.cause
    except wire.WireError as error:
        session.stop()
        message, cause = (f"expected an answer in the grader's format from your notebook's process, got one it cannot "
                          f"read ({error}); nothing in it counts. Likely cause: code that writes to the grader's "
                          "pipes or replaces its reply code."), "protocol"
    except Exception as error:  # noqa: BLE001 - the grader's own failure: undecided, never points
        session.stop()
        undecided, cause = True, "grader_error"
        message = (f"grader error: this check could not be decided ({type(error).__name__}: {str(error)[:200]}); "
                   "it pays nothing now and is graded again (on Gradescope: ask for a regrade).")
    else:
        session.record(question, group, True, note)
        return
    session.record(question, group, False, message, undecided=undecided, cause=cause)
    raise CheckFailure(message, cause)


def environment(session) -> dict:
    env = {}
    for q in spec.QUESTIONS.values():
        if q.function:
            env[q.function] = FunctionProxy(session, GRADED[q.name])
        for name in q.values:
            env[name] = ValueStandIn(session, name)
    return env


def case_keys(path: str) -> dict:
    """``{test function name: (question, group)}`` read from a hidden test file's source with
    ``ast``: each hidden case calls ``check('<question>', '<group>', ...)`` with literal names."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    keys = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for call in ast.walk(node):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
                    and len(call.args) >= 2 and all(isinstance(a, ast.Constant) and type(a.value) is str
                                                    for a in call.args[:2])):
                keys[node.name] = (call.args[0].value, call.args[1].value)
    return keys


def settle(tf, keys: dict, outcomes: dict) -> None:
    """Each hidden case's result, decided from the recorded outcomes by (question, group).

    A case passes only when Otter saw it pass, its own outcome was recorded as passed, and every
    group of its gate was recorded as passed too. A case without a recorded outcome fails; a
    case that is not a known check is the grader's error, said loudly.
    """
    results = []
    for result in tf.test_case_results:
        tc = result.test_case
        key = keys.get(getattr(getattr(tc.body, "test_func", None), "__name__", ""))
        if key is None or key[0] not in spec.QUESTIONS or key[1] not in spec.QUESTIONS[key[0]].groups:
            raise GraderError(f"hidden test {tc.name!r} of {tf.name} is not one of the spec's check groups")
        question, group = key
        passed, message = outcomes.get(key, (False, "no verdict: the grader recorded no result for this check, so it "
                                                 "pays nothing"))
        if passed and not result.passed:  # the case failed outside its check: keep Otter's words
            passed, message = False, result.message
        missing = _failed_gate(outcomes, question, group)
        if passed and missing:
            passed, message = False, (f"{message}; but this check counts only once {' and '.join(missing)} "
                                      f"passed too, and {' and '.join(missing)} failed")
        if passed:
            tc = dataclasses.replace(tc, success_message=f"{group}: {message}")
        results.append(TestCaseResult(test_case=tc, message=f"{'✅' if passed else '❌'} {group}: {message}",
                                      passed=passed))
    tf.test_case_results = results


def grade(session, tests_dir: str) -> GradingResults:
    env = environment(session)
    files = []
    for path in sorted(glob.glob(os.path.join(tests_dir, "*.py"))):
        tf = ExceptionTestFile.from_file(path)
        tf.test_cases = [tc for tc in tf.test_cases if tc.hidden]
        tf.run(env)
        keys = case_keys(path)
        for question in {q for q, _ in keys.values()}:
            checks.recheck_fused(session, question)
        settle(tf, keys, session.outcomes)
        files.append(tf)
    return GradingResults(files)


def verdict(result) -> tuple:
    """``(mark, group, message)`` of a settled case, whose message :func:`settle` wrote as
    ``"✅ group: message"``."""
    mark, _, rest = result.message.partition(" ")
    group, _, message = rest.partition(": ")
    return mark, group, message


def _cause_of_loss(question: str, group: str, session) -> str:
    """The likely cause of a failed check, decided in the order the groups run: a check that lost
    with a group before it in its gate (q3's timing after fused) reads ``gate_failed`` whether or
    not it also failed on its own, so its cause follows that earlier, deterministic verdict and
    never a measurement near its limit (a loop at 15.6x or 14.9x the reference loses timing with
    fused either way)."""
    groups = spec.QUESTIONS[question].groups
    own = session.causes.get((question, group))
    earlier = [g for g in _failed_gate(session.outcomes, question, group)
               if g != "values" and groups.index(g) < groups.index(group)]
    if session.outcomes.get((question, group), (False,))[0] or (earlier and own != "values_failed"):
        return "gate_failed"
    return own or "wrong_answer"


def check_records(results: GradingResults, session) -> list:
    """One plain record per hidden check, as settled: ``{"question", "group", "points",
    "max_points", "status" ("passed", "failed" or "undecided"), "cause", "message"}``; ``cause`` is
    the code of the likely cause of a lost point (:data:`autograder.judge.causes.CAUSES`), "" when
    the check paid."""
    undecided = {(q, g) for q, g, _ in session.undecided}
    records = []
    for question, tf in results.results.items():
        for result in tf.test_case_results:
            _, group, message = verdict(result)
            key = (question, group)
            passed, _ = session.outcomes.get(key, (False, ""))
            if result.passed:
                status, cause = "passed", ""
            elif key in undecided:
                status, cause = "undecided", session.causes.get(key) or "grader_undecided"
            else:
                status, cause = "failed", _cause_of_loss(question, group, session)
            points = result.test_case.points
            records.append({"question": question, "group": group, "points": points if result.passed else 0,
                            "max_points": points, "status": status, "cause": cause, "message": message})
    return records


#: how the line of the checks that did not run starts (one line for all of them)
NOT_RUN = "–"


def check_lines(tf, not_run=()) -> str:
    """A question's output as a student reads it: one line per check group, with its points,
    in the order the groups ran (no test-file numbering, nothing said twice). The groups in
    ``not_run`` (not run because the values failed) share one line, where the first of them was:
    ``– inputs, devices, fused, timing 0/5: not run, because values failed (...)``."""
    lines, skipped, at = [], [], None
    for result in tf.test_case_results:
        mark, group, message = verdict(result)
        points = result.test_case.points
        if group in not_run and not result.passed:
            skipped.append((group, points))
            at = len(lines) if at is None else at
            continue
        lines.append(f"{mark} {group} {points if result.passed else 0:g}/{points:g}: {message}")
    if skipped:
        total = sum(p for _, p in skipped)
        lines.insert(at, f"{NOT_RUN} {', '.join(g for g, _ in skipped)} 0/{total:g}: not run, because values failed "
                         "(these checks count only once the values are right)")
    return "\n".join(lines)


def not_run(session, question: str) -> set:
    """The groups of ``question`` that did not run because its values check failed."""
    return {g for (q, g), cause in session.causes.items() if q == question and cause == "values_failed"}


def gradescope_dict(results: GradingResults, config, session=None) -> dict:
    """Otter's results.json with each question's output rewritten as :func:`check_lines` (the
    checks the session did not run for failed values on one line), and without its "Public
    Tests" summary: public checks run in the student's kernel, not in the judge, so the judge has
    nothing to say about them."""
    out = results.to_gradescope_dict(config)
    out["tests"] = [t for t in out["tests"] if t.get("name") != "Public Tests"]
    for test in out["tests"]:
        tf = results.results.get(test.get("name"))
        if tf is not None:
            test["output"] = check_lines(tf, not_run(session, test["name"]) if session is not None else ())
    return out
