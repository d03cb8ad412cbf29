"""The hidden-test helpers in-process: verdicts and the words of their messages (fast feedback;
the catalogue grades the same code through the real zip)."""

import pytest
import torch

from rnn_checks import checks, integrity, shapes, zygote
from rnn_checks.questions import QUESTIONS, CheckFailure

zygote.prepare()  # as in the checker process: lazy imports done, threads pinned, snapshot taken


def run(question, group, func):
    return checks.run_group(question, group, func)


def separate(X, W_xh, H, W_hh):
    return X @ W_xh + H @ W_hh


def fused(X, W_xh, H, W_hh):
    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)


def test_correct_functions_pass_every_group():
    for group in ("values", "inputs", "devices"):
        run("q2_separate", group, separate)
    for group in ("values", "inputs", "devices", "fused", "timing"):
        run("q3_fused", group, fused)


def test_a_transposed_weight_is_named():
    with pytest.raises(CheckFailure, match="W_hh is transposed"):
        run("q2_separate", "values", lambda X, W_xh, H, W_hh: X @ W_xh + H @ W_hh.T)


def test_a_shape_error_says_expected_and_got():
    with pytest.raises(CheckFailure, match=r"expected shape \(\d+, \d+\) = \(n, h\), got"):
        run("q2_separate", "values", lambda X, W_xh, H, W_hh: torch.cat((X, H), 1))


def test_the_separate_form_fails_the_fused_trace_with_its_name():
    with pytest.raises(CheckFailure, match="that is the separate form"):
        run("q3_fused", "fused", separate)


def test_a_dtype_change_is_named():
    with pytest.raises(CheckFailure, match="expected dtype torch.float64"):
        run("q2_separate", "values", lambda *a: separate(*a).float())


def test_numpy_results_are_refused():
    with pytest.raises(CheckFailure, match="numpy"):
        run("q2_separate", "values", lambda X, W_xh, H, W_hh: X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy())


def test_meta_device_catches_a_host_round_trip():
    with pytest.raises(CheckFailure, match="meta"):
        run("q2_separate", "devices", lambda *a: separate(*a).cpu())


def test_replacing_a_library_function_is_reported_and_undone():
    original = torch.testing.assert_close

    def tamper(*args):
        torch.testing.assert_close = lambda *a, **k: None
        return separate(*args)

    try:
        with pytest.raises(CheckFailure, match="torch.testing.assert_close"):
            run("q2_separate", "values", tamper)
    finally:
        torch.testing.assert_close = original
    assert not integrity.replaced(checks._SNAPSHOT)


def test_shadowing_an_inherited_tensor_attribute_is_reported():
    def tamper(*args):
        torch.Tensor.shape = property(lambda self: torch.Size((0, 0)))
        return separate(*args)

    try:
        with pytest.raises(CheckFailure, match="torch.Tensor.shape"):
            run("q2_separate", "values", tamper)
    finally:
        del torch.Tensor.shape
    assert not integrity.replaced(checks._SNAPSHOT)


def test_fingerprints_differ_only_where_replaced():
    before = integrity.fingerprint()
    original = torch.allclose
    torch.allclose = lambda *a, **k: True
    try:
        assert integrity.mismatches(integrity.fingerprint(), before) == ["torch.allclose"]
    finally:
        torch.allclose = original


def test_q1_shapes_messages():
    shapes.check_worked_example_shapes((3, 5), (5, 4))
    with pytest.raises(AssertionError, match="swapped"):
        shapes.check_worked_example_shapes((5, 3), (5, 4))
    with pytest.raises(AssertionError, match="tuple of two ints"):
        shapes.check_worked_example_shapes("3, 5", (5, 4))


def test_every_question_has_its_groups():
    assert set(checks.GROUPS) == set(QUESTIONS)
    assert set(checks.GROUPS["q3_fused"]) == {"values", "inputs", "devices", "fused", "timing"}
