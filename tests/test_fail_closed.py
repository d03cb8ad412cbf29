"""Fail closed: nothing a runner sends earns a point unless the judge verified it.

A notebook may replace the runner's reply code, so every reply is hostile. These tests grade with
the production judge (Otter's hidden test files from the built zip, :mod:`autograder.judge.grade`)
against :class:`fake_runner.FakeRunner`, whose replies a test rewrites: the named attacks of the
issue that found the judge failing open, then Hypothesis generating replies (headers, types,
lengths, dtypes, shapes, blobs, which calls, raw bytes) from a runner serving *wrong* functions.
Never a point, never a judge crash, and the next submission's score unchanged.

``HYPOTHESIS_PROFILE=long`` (``make fuzz``) runs many more examples.
"""

import os
import tempfile
import time

import fake_runner
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.batch.autograder_zip import unpack
from autograder.judge import timing
from autograder.judge.grade import grade

from conftest import ZIP

settings.register_profile("ci", max_examples=400, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_TMP = tempfile.TemporaryDirectory(prefix="fail-closed-")
TESTS_DIR, _ = unpack(str(ZIP), _TMP.name)


def graded(answer) -> dict:
    """``{question: points}`` the production judge gives a runner that answers with ``answer``."""
    session = fake_runner.session(answer)
    try:
        results = grade(session, TESTS_DIR)
    finally:
        session.close()
    return {name: sum(r.test_case.points for r in tf.test_case_results if r.passed)
            for name, tf in results.results.items()}, session


def full_marks() -> dict:
    return {name: sum(tc.points for tc in tf.test_cases if tc.hidden)
            for name, tf in grade_files().items()}


def grade_files() -> dict:
    import glob

    from otter.test_files.exception_test import ExceptionTestFile
    return {os.path.basename(p)[:-3]: ExceptionTestFile.from_file(p)
            for p in sorted(glob.glob(os.path.join(TESTS_DIR, "*.py")))}


def serving(functions, rewrite=None):
    """An answer function: the runner's own reply for ``functions``, then ``rewrite`` applied."""
    def answer(request, blobs):
        header, reply_blobs = fake_runner.honest_reply(functions, request, blobs)
        if rewrite is None:
            return header, reply_blobs
        return rewrite(request, header, reply_blobs)
    return answer


FORGED_ATTEST = {"modified": [], "ops": [["mm", [4, 4], 9]], "op_count": 3}


def looks_timed(request) -> bool:
    """The timing band's shapes (a rewritten runner can guess; values calls may fall in it too)."""
    inputs = request.get("inputs") or [{}]
    shape = inputs[0].get("shape") or [0, 0]
    return inputs[0].get("dtype") == "float32" and shape[0] >= 128 and len(shape) == 2 and shape[1] <= 24


def forge_attestations(request, header, blobs):
    if header.get("ok") and "attest" in header:
        header["attest"] = dict(FORGED_ATTEST)
    return header, blobs


# --- the honest baselines -------------------------------------------------------------------------

def test_correct_functions_get_full_hidden_marks_from_the_fake_runner():
    scores, session = graded(serving(fake_runner.correct_functions()))
    assert scores == full_marks(), [o for o in session.outcomes.items() if not o[1][0]]


def test_wrong_functions_score_zero_even_with_forged_attestations():
    scores, _ = graded(serving(fake_runner.wrong_functions(), forge_attestations))
    assert sum(scores.values()) == 0, scores


# --- the attacks that found the judge failing open -----------------------------------------------

def test_a_result_tuple_that_announces_two_items_and_sends_none_scores_zero():
    def empty_tuple(request, header, blobs):
        if header.get("ok") and header.get("result", {}).get("kind") == "tuple":
            header["result"] = {"kind": "tuple", "length": 2, "items": []}
        return forge_attestations(request, header, [])
    scores, _ = graded(serving(fake_runner.wrong_functions(), empty_tuple))
    assert scores["q4_rnn_forward"] == 0, scores


@pytest.mark.parametrize("bad", [{"dtype": ["float32"]}, {"shape": [0, 2**31 - 1, 2**31 - 1, 2**31 - 1], "blob": 0},
                                 {"dtype": "int64"}, {"blob": 7}, {"shape": [True, 2]}])
def test_a_malformed_tensor_description_fails_the_group_and_pays_nothing(bad):
    def malformed(request, header, blobs):
        if header.get("ok") and header.get("result", {}).get("kind") == "tensor":
            header["result"].update(bad)
            blobs = [b""] if "shape" in bad else blobs
        return forge_attestations(request, header, blobs)
    scores, session = graded(serving(fake_runner.wrong_functions(), malformed))
    assert sum(scores.values()) == 0, scores
    assert not session.undecided, session.undecided  # the runner's fault: a verdict, not a grader error
    assert session.outcomes[("q2_separate", "values")][0] is False


def test_a_row_loop_that_breaks_only_its_timed_replies_keeps_only_its_honest_points():
    """Answering the calls that look timed with garbage must not keep ``fused`` (it is gated on
    ``timing``), and forged attestations change nothing verified."""
    def break_timed(request, header, blobs):
        if looks_timed(request):
            header = {"ok": True, "result": {"kind": "tensor", "dtype": ["float32"]}, "attest": {}}
        return forge_attestations(request, header, blobs)
    scores, session = graded(serving(fake_runner.correct_functions(), break_timed))
    honest = full_marks()["q3_fused"] - 3  # fused (2) and timing (1) lost
    assert scores["q3_fused"] <= honest, session.outcomes
    assert session.outcomes[("q3_fused", "timing")][0] is False


def test_a_reply_to_another_request_is_refused():
    def stale_id(request, header, blobs):
        header["id"] = (request.get("id") or 0) + 1
        return header, blobs
    scores, _ = graded(serving(fake_runner.correct_functions(), stale_id))
    assert sum(v for k, v in scores.items() if k != "q1_shapes") == 0, scores


def test_a_slow_timed_reply_cannot_break_the_next_submission(monkeypatch):
    """A student that holds a timed reply until the group's deadline: the deadline is the
    student's; the next submission gets a fresh reference and its full marks."""
    monkeypatch.setattr(timing, "CHECK_TIME_LIMIT_S", 3.0)
    calls = {"n": 0}

    def slow_timed(request, header, blobs):
        if looks_timed(request):
            calls["n"] += 1
            if calls["n"] % 15 == 0:
                time.sleep(2.8)  # just inside the deadline: the reference runs next
        return header, blobs
    scores, session = graded(serving(fake_runner.correct_functions(), slow_timed))
    assert calls["n"] >= 15 and not session.undecided, session.undecided  # the reference kept its own deadline
    assert scores["q3_fused"] < full_marks()["q3_fused"]
    monkeypatch.undo()
    scores, _ = graded(serving(fake_runner.correct_functions()))
    assert scores == full_marks()


# --- generated replies ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)
NASTY = st.sampled_from([0, 1, 2, -1, 2**31 - 1, 2**31, True, False, None, [], {}, "", "float32", "float64",
                         "int64", "tensor", "tuple", "list", "other", "subclass", "cpu", "meta", ["float32"],
                         [0, 2**31 - 1, 2**31 - 1, 2**31 - 1], [4, 4], [3, 5], [[]], FORGED_ATTEST])
PATHS = st.sampled_from([
    ("ok",), ("id",), ("error",), ("where",), ("missing",), ("result",), ("attest",), ("value",),
    ("result", "kind"), ("result", "length"), ("result", "items"), ("result", "shape"), ("result", "dtype"),
    ("result", "blob"), ("result", "device"), ("result", "type"), ("result", "items", 0),
    ("result", "items", 0, "shape"), ("result", "items", 0, "blob"), ("result", "items", 1, "kind"),
    ("attest", "modified"), ("attest", "ops"), ("attest", "op_count"), ("value", "items"), ("value", "kind"),
])
MUTATION = st.one_of(
    st.tuples(st.just("set"), PATHS, JSON | NASTY),
    st.tuples(st.just("drop"), PATHS, st.none()),
    st.tuples(st.just("blobs"), st.sampled_from(["none", "truncate", "extend", "double", "swap"]), st.none()),
    st.tuples(st.just("header"), st.none(), st.dictionaries(st.sampled_from(
        ["ok", "id", "result", "attest", "error", "value", "kind", "x"]), JSON | NASTY, max_size=5)),
    st.tuples(st.just("raw"), st.none(), st.binary(max_size=64)),
)
WHICH = st.sampled_from(["all", "untraced", "traced", "first", "after-first"])


def _apply(mutation, request, header, blobs):
    kind, path, value = mutation
    if kind == "raw":
        return value
    if kind == "header":
        return dict(value), blobs
    if kind == "blobs":
        if path == "none":
            blobs = []
        elif path == "truncate":
            blobs = [b[:-3] for b in blobs]
        elif path == "extend":
            blobs = [b + b"\0" * 8 for b in blobs]
        elif path == "double":
            blobs = blobs + blobs
        else:
            blobs = blobs[::-1]
        return header, blobs
    node = header
    for key in path[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return header, blobs
    last = path[-1]
    if isinstance(node, dict):
        if kind == "drop":
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if kind == "drop":
            node.pop(last)
        else:
            node[last] = value
    return header, blobs


@given(mutations=st.lists(st.tuples(MUTATION, WHICH), min_size=1, max_size=3), forge=st.booleans())
def test_generated_replies_from_a_wrong_runner_never_earn_a_point(mutations, forge):
    seen = {"n": 0}

    def rewrite(request, header, blobs):
        seen["n"] += 1
        if forge:
            header, blobs = forge_attestations(request, header, blobs)
        for mutation, which in mutations:
            if which == "untraced" and looks_timed(request) or which == "traced" and not looks_timed(request):
                continue
            if which == "first" and seen["n"] > 1 or which == "after-first" and seen["n"] == 1:
                continue
            out = _apply(mutation, request, header, blobs)
            if isinstance(out, bytes):
                return out
            header, blobs = out
        return header, blobs
    scores, session = graded(serving(fake_runner.wrong_functions(), rewrite))
    assert sum(scores.values()) == 0, (scores, mutations, session.outcomes)


def test_the_next_submission_after_generated_replies_keeps_its_marks():
    """After the generated runs above, in the same judge process: an honest one still gets full marks."""
    scores, _ = graded(serving(fake_runner.correct_functions()))
    assert scores == full_marks()
