"""Grade one submission in the judge: Otter's hidden test files, run against stand-ins.

The test files (built from the master notebook's ``# BEGIN TESTS`` cells, points in each
``TEST CONFIG``) are loaded with Otter's own API; only their hidden cases run here (public cases
run in the student's kernel and carry no points). Each hidden case calls
:func:`autograder.judge.check`, which runs one check group and records its outcome. Attested
groups then pay only when their gate passed (:meth:`autograder.spec.Question.gate`), and the
results become Otter's ``GradingResults``, from which ``results.json`` is written.
"""

import dataclasses
import glob
import os

from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from .. import spec, wire
from . import checks
from .questions import GRADED, CheckFailure
from .runners import RunnerFailure
from .stand_ins import FunctionProxy, ValueStandIn


def _session_of(stand_ins):
    if not stand_ins or not all(isinstance(s, (FunctionProxy, ValueStandIn)) for s in stand_ins):
        raise CheckFailure("the graded names are missing from the grading environment.")
    return stand_ins[0].session


def run_check(question: str, group: str, stand_ins) -> None:
    session = _session_of(stand_ins)
    q = spec.QUESTIONS[question]
    session.start_group()
    try:
        failed_gate = [g for g in q.gate(group) if session.outcomes.get((question, g), (True,))[0] is False]
        if "values" in failed_gate:
            raise CheckFailure(f"not checked: the {group} group counts only once the values check passes.")
        if group == "shapes":
            note = checks.check_shapes(stand_ins)
        else:
            note = checks.GROUPS[group](GRADED[question], stand_ins[0])
    except CheckFailure as failure:
        session.record(question, group, False, str(failure))
        raise
    except RunnerFailure as failure:
        message = f"{q.function or 'the notebook'}: {failure}"
        session.record(question, group, False, message)
        raise CheckFailure(message) from None
    except wire.WireError as error:
        session.stop()
        message = f"the runner's answer was malformed ({error}); nothing it said counts."
        session.record(question, group, False, message)
        raise CheckFailure(message) from None
    session.record(question, group, True, note)


def environment(session) -> dict:
    env = {}
    for q in spec.QUESTIONS.values():
        if q.function:
            env[q.function] = FunctionProxy(session, GRADED[q.name])
        for name in q.values:
            env[name] = ValueStandIn(session, name)
    return env


def _rewrite(tf, outcomes) -> None:
    """Each hidden case's message becomes its check's own words (no test-file plumbing)."""
    if len(outcomes) != len(tf.test_case_results):
        return
    results = []
    for result, (_, group, passed, message) in zip(tf.test_case_results, outcomes):
        tc = result.test_case
        if passed and not result.passed:  # the case failed outside its check: keep Otter's words
            passed, message = False, result.message
        if passed:
            tc = dataclasses.replace(tc, success_message=f"{group}: {message}")
        results.append(TestCaseResult(test_case=tc, message=f"{'✅' if passed else '❌'} {group}: {message}", passed=passed))
    tf.test_case_results = results
    tf.outcomes = outcomes


def _apply_gates(tf) -> None:
    """An attested group that passed pays only if every group of its gate passed too."""
    passed = {group: ok for _, group, ok, _ in getattr(tf, "outcomes", [])}
    for i, (result, (question, group, _, message)) in enumerate(zip(tf.test_case_results, getattr(tf, "outcomes", []))):
        missing = [g for g in spec.QUESTIONS[question].gate(group) if not passed.get(g)]
        if result.passed and missing:
            tf.test_case_results[i] = TestCaseResult(
                test_case=result.test_case, passed=False,
                message=f"❌ {group}: {message}; but this group counts only once "
                        f"{' and '.join(missing)} passed, which did not.")


def grade(session, tests_dir: str) -> GradingResults:
    env = environment(session)
    files = []
    for path in sorted(glob.glob(os.path.join(tests_dir, "*.py"))):
        tf = ExceptionTestFile.from_file(path)
        tf.test_cases = [tc for tc in tf.test_cases if tc.hidden]
        session.log = []
        tf.run(env)
        _rewrite(tf, session.log)
        _apply_gates(tf)
        files.append(tf)
    return GradingResults(files)


def gradescope_dict(results: GradingResults, config) -> dict:
    """Otter's results.json, without its "Public Tests" summary: public checks run in the
    student's kernel, not in the judge, so the judge has nothing to say about them."""
    out = results.to_gradescope_dict(config)
    out["tests"] = [t for t in out["tests"] if t.get("name") != "Public Tests"]
    return out
