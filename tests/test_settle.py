"""Unit tests of :func:`autograder.judge.grade.settle`: hidden cases matched to the recorded
outcomes by (question, group), gates applied by name, a mismatch said loudly."""

import os
import tempfile

import pytest
from otter.test_files import ExceptionTestFile
from otter.test_files.abstract_test import TestCaseResult as CaseResult

from autograder.batch.autograder_zip import unpack
from autograder.judge.grade import GraderError, case_keys, check_lines, settle
from autograder.spec import QUESTIONS

from conftest import GROUP_POINTS, ZIP


@pytest.fixture(scope="module")
def tests_dir():
    with tempfile.TemporaryDirectory() as tmp:
        yield unpack(str(ZIP), tmp)[0]


def settled(tests_dir, question, outcomes, otter_passed=True):
    path = os.path.join(tests_dir, f"{question}.py")
    tf = ExceptionTestFile.from_file(path)
    tf.test_case_results = [CaseResult(test_case=tc, message="", passed=otter_passed)
                            for tc in tf.test_cases if tc.hidden]
    settle(tf, case_keys(path), outcomes)
    return {r.message.split(":")[0][2:]: r.passed for r in tf.test_case_results}


def test_every_hidden_case_is_matched_to_its_group(tests_dir):
    for question, q in QUESTIONS.items():
        path = os.path.join(tests_dir, f"{question}.py")
        assert sorted(case_keys(path).values()) == sorted((question, g) for g in q.groups)


def test_all_recorded_passes_pay_every_group(tests_dir):
    outcomes = {("q3_fused", g): (True, "ok") for g in QUESTIONS["q3_fused"].groups}
    assert all(settled(tests_dir, "q3_fused", outcomes).values())


def test_a_gate_that_failed_stops_the_groups_behind_it(tests_dir):
    outcomes = {("q3_fused", g): (True, "ok") for g in QUESTIONS["q3_fused"].groups}
    outcomes[("q3_fused", "timing")] = (False, "slow")
    result = settled(tests_dir, "q3_fused", outcomes)
    assert result == {"values": True, "inputs": True, "devices": True, "fused": False, "timing": False}
    outcomes[("q3_fused", "values")] = (False, "wrong")
    assert not any(settled(tests_dir, "q3_fused", outcomes).values())


def test_a_case_with_no_recorded_outcome_fails(tests_dir):
    outcomes = {("q2_separate", "values"): (True, "ok")}
    assert settled(tests_dir, "q2_separate", outcomes) == {"values": True, "inputs": False, "devices": False}


def test_a_case_otter_saw_fail_fails_whatever_was_recorded(tests_dir):
    outcomes = {("q2_separate", g): (True, "ok") for g in QUESTIONS["q2_separate"].groups}
    assert not any(settled(tests_dir, "q2_separate", outcomes, otter_passed=False).values())


def test_a_case_that_is_not_a_spec_group_is_a_loud_grader_error(tests_dir, tmp_path):
    source = open(os.path.join(tests_dir, "q2_separate.py")).read().replace("'values'", "'speed'")
    path = tmp_path / "q2_separate.py"
    path.write_text(source)
    tf = ExceptionTestFile.from_file(str(path))
    tf.test_case_results = [CaseResult(test_case=tc, message="", passed=True) for tc in tf.test_cases if tc.hidden]
    with pytest.raises(GraderError, match="not one of the spec's check groups"):
        settle(tf, case_keys(str(path)), {})


@pytest.mark.parametrize("timing_passed", [True, False])
def test_the_output_is_one_line_per_check_with_its_points_and_explain_reads_it_back(tests_dir, timing_passed):
    from autograder import explain
    path = os.path.join(tests_dir, "q3_fused.py")
    tf = ExceptionTestFile.from_file(path)
    tf.test_case_results = [CaseResult(test_case=tc, message="", passed=True) for tc in tf.test_cases if tc.hidden]
    outcomes = {("q3_fused", g): (True, f"fine {g}") for g in QUESTIONS["q3_fused"].groups}
    outcomes[("q3_fused", "timing")] = (timing_passed, "took 2.10x the reference fused step (processor time, "
                                        "median of 5 rounds of 15 calls, limit 15.0x)")
    settle(tf, case_keys(path), outcomes)
    output = check_lines(tf)
    assert len(output.splitlines()) == len(QUESTIONS["q3_fused"].groups) and " - " not in output  # no Otter numbering
    values, fused = GROUP_POINTS[("q3_fused", "values")], GROUP_POINTS[("q3_fused", "fused")]
    assert output.splitlines()[0] == f"✅ values {values}/{values}: fine values"
    assert (f"✅ fused {fused}/{fused}: fine fused" if timing_passed
            else f"❌ fused 0/{fused}: fine fused; but this check counts") in output
    found = explain.verdicts(output)
    assert {g: p for g, (p, _) in found.items()} == {"values": True, "inputs": True, "devices": True,
                                                    "fused": timing_passed, "timing": timing_passed}
    assert found["inputs"][1] == "fine inputs"
    assert explain.figures(found["timing"][1]) == [
        "timing: 2.10x the reference fused step by processor time (median of 5 rounds of 15 calls); limit 15.0x"]


@pytest.mark.parametrize("timing_own", [(True, "1.9x", ""), (False, "15.6x", "too_slow")])
def test_a_check_lost_with_an_earlier_gate_reads_gate_failed_whatever_it_measured(timing_own):
    """q3's timing after fused: a loop near the timing limit (15.6x or 14.9x) loses timing with
    fused either way, and its likely cause must not follow the measurement."""
    from types import SimpleNamespace

    from autograder.judge.grade import _cause_of_loss
    passed, message, cause = timing_own
    session = SimpleNamespace(outcomes={("q3_fused", "values"): (True, ""), ("q3_fused", "fused"): (False, "loop"),
                                        ("q3_fused", "timing"): (passed, message)},
                              causes={("q3_fused", "fused"): "loop_over_rows", ("q3_fused", "timing"): cause})
    assert _cause_of_loss("q3_fused", "fused", session) == "loop_over_rows"
    assert _cause_of_loss("q3_fused", "timing", session) == "gate_failed"
    # fused passed on its own: timing's own cause stands, and fused is lost with the later timing
    session.outcomes[("q3_fused", "fused")] = (True, "one product")
    assert _cause_of_loss("q3_fused", "timing", session) == ("gate_failed" if passed else "too_slow")
    if not passed:
        assert _cause_of_loss("q3_fused", "fused", session) == "gate_failed"
    # values failed: the groups behind them keep "values_failed"
    session.outcomes[("q3_fused", "values")] = (False, "wrong")
    session.causes[("q3_fused", "timing")] = "values_failed"
    session.outcomes[("q3_fused", "timing")] = (False, "not run")
    assert _cause_of_loss("q3_fused", "timing", session) == "values_failed"
