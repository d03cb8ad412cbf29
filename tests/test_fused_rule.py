"""Unit tests of :mod:`autograder.judge.fused`: the product rule read from operator traces."""

import pytest

from autograder.judge import fused
from autograder.judge.questions import GRADED, CheckFailure

Q3, Q4 = GRADED["q3_fused"], GRADED["q4_rnn_forward"]
STEP = {"n": 9, "d": 3, "h": 4}


def attest(*ops, count=None, outside=(), from_product=(True,), product_inputs=([[0, 2], [1, 3]],), mixed=()):
    """What a runner's trace reports; by default the one product multiplied cat((X, H)) (inputs 0
    and 2) by cat((W_xh, W_hh)) (inputs 1 and 3), with torch's own kernels, and no other operator
    combined the two."""
    return {"ops": [list(op) for op in ops], "op_count": len(ops) if count is None else count, "outside": list(outside),
            "from_product": list(from_product), "own_kernels": [], "product_inputs": list(product_inputs),
            "mixed": list(mixed)}


ONE = attest(("cat", [9, 7], None), ("cat", [7, 4], None), ("mm", [9, 4], 7))


def test_one_product_of_inner_size_d_plus_h_passes_at_two_n():
    note = fused.judge(Q3, [(STEP, ONE), (dict(STEP, n=300), ONE)])
    assert "one matrix product with inner size d + h = 7" in note


@pytest.mark.parametrize("ops, words, cause", [
    ([("mm", [9, 4], 3), ("mm", [9, 4], 4), ("add", [9, 4], None)], "separate form", "separate_form"),
    ([("cat", [9, 7], None)], "no matrix product", "no_product"),
    ([("mm", [1, 4], 7)] * 9, r"a loop \(over rows or columns\) runs one per iteration", "loop_over_rows"),
    ([("mv", [4], 7)] * 9, r"a loop \(over rows or columns\) runs one per iteration", "loop_over_rows"),
    ([("mv", [9], 7)] * 4, r"a loop \(over rows or columns\) runs one per iteration", "loop_over_columns"),
    ([("mm", [9, 1], 7)] * 4, r"a loop \(over rows or columns\) runs one per iteration", "loop_over_columns"),
    ([("mm", [9, 4], 7), ("mm", [9, 4], 4)], "expected exactly one", "wrong_products"),
])
def test_every_other_product_pattern_fails_with_its_cause(ops, words, cause):
    with pytest.raises(CheckFailure, match=words) as failure:
        fused.judge(Q3, [(STEP, attest(*ops))])
    assert failure.value.cause == cause


def test_an_operator_count_that_grows_with_n_fails():
    with pytest.raises(CheckFailure, match="grows with the number of rows"):
        fused.judge(Q3, [(STEP, ONE), (dict(STEP, n=300), attest(*ONE["ops"], ("clone", [300, 4], None)))])


def test_a_result_computed_outside_the_trace_fails_whatever_the_products():
    with pytest.raises(CheckFailure, match="did not compute"):
        fused.judge(Q3, [(STEP, attest(*ONE["ops"], outside=[0]))])


def test_a_missing_trace_fails():
    with pytest.raises(CheckFailure, match="report which torch operators ran; it did not"):
        fused.judge(Q3, [(STEP, {"outside": []})])


def test_the_sequence_rule_wants_one_fused_product_per_step_and_the_weight_built_once():
    sizes = {"n": 5, "d": 3, "h": 4, "T": 3}
    weight = ("cat", [7, 4], None)
    step = [("cat", [5, 7], None), ("mm", [5, 4], 7), ("tanh", [5, 4], None)]
    assert "3 fused products" in fused.judge(Q4, [(sizes, attest(weight, *step * 3))])
    with pytest.raises(CheckFailure, match="built the concatenated weight .* 3 times"):
        fused.judge(Q4, [(sizes, attest(*(op for _ in range(3) for op in (weight, *step))))])
    with pytest.raises(CheckFailure, match="one fused product per step"):
        fused.judge(Q4, [(sizes, attest(weight, *step * 2))])


def test_judge_every_names_the_call_that_broke_the_rule():
    calls = [(STEP, ONE, "values"), (dict(STEP, n=40), attest(("mm", [40, 4], 3), ("mm", [40, 4], 4)), "timed")]
    with pytest.raises(CheckFailure, match="on a timed call"):
        fused.judge_every(Q3, calls)
    assert fused.judge_every(Q3, calls[:1]) == 1


def test_a_result_the_product_did_not_compute_fails_after_the_other_rules():
    """Red team, round 14: a convolution did the work, the product's output was thrown away."""
    conv = attest(("cat", [9, 7], None), ("cat", [7, 4], None), ("mm", [9, 4], 7), ("convolution", [9, 4, 1], None),
                  from_product=(False,))
    with pytest.raises(CheckFailure, match="did not compute") as failure:
        fused.judge_every(Q3, [(STEP, conv, "values")])
    assert failure.value.cause == "result_not_the_product"
    assert fused.judge_every(Q3, [(STEP, attest(*ONE["ops"], from_product=(None,)), "meta-device")]) == 1


@pytest.mark.parametrize("ops, count, cause", [
    ([("cat", [9, 7], None), ("cat", [7, 4], None), ("mm", [9, 4], 7)], 41, "loop_of_operators"),
    ([("mul", [9, 3, 4], None), ("sum", [9, 4], None), ("mm", [9, 4], 7)], None, "broadcast_product"),
])
def test_work_beside_the_one_product_fails(ops, count, cause):
    with pytest.raises(CheckFailure) as failure:
        fused.judge_every(Q3, [(STEP, attest(*ops, count=count), "values")])
    assert failure.value.cause == cause


@pytest.mark.parametrize("operands", [[[0, 1, 2, 3], []], [[0, 2], [1]], [[0], [1, 3]], [[0, 1], [2, 3]]])
def test_a_product_that_does_not_multiply_the_two_concatenations_fails(operands):
    """Red team, round 21: a convolution computed the answer and a product by an identity passed
    it on; the one product's operands must come from X and H, and from W_xh and W_hh."""
    with pytest.raises(CheckFailure, match="not cat") as failure:
        fused.judge_every(Q3, [(STEP, attest(*ONE["ops"], product_inputs=(operands,)), "values")])
    assert failure.value.cause == "wrong_operands"


def test_the_two_concatenations_pass_in_either_order():
    assert fused.judge_every(Q3, [(STEP, attest(*ONE["ops"], product_inputs=([[1, 3], [0, 2]],)), "values")]) == 1


@pytest.mark.parametrize("question, sizes", [(Q3, STEP), (Q4, dict(STEP, T=3))])
def test_an_operator_beside_the_product_that_combines_inputs_and_weights_fails(question, sizes):
    """Red team, round 23: F.bilinear did each step of q4; the trace names such operators."""
    weight = ("cat", [7, 4], None)
    step = [("cat", [9, 7], None), ("mm", [9, 4], 7), ("tanh", [9, 4], None)]
    ops = [weight, *step * 3] if question is Q4 else ONE["ops"]
    assert fused.judge_every(question, [(sizes, attest(*ops), "values")]) == 1
    with pytest.raises(CheckFailure, match=r"other than the matrix product \(_trilinear\)") as failure:
        fused.judge_every(question, [(sizes, attest(*ops, mixed=("_trilinear",)), "values")])
    assert failure.value.cause == "work_beside_the_product"
    with pytest.raises(CheckFailure, match="did not") as failure:
        fused.judge_every(question, [(sizes, dict(attest(*ops), mixed=None), "values")])
    assert failure.value.cause == "protocol"
