"""The ``fused`` group: read the runner's operator trace (an attestation) of a traced call.

q3: exactly one matrix product, of contraction size K = d + h, and an operator count that does
not grow with n (traced at two n: a loop over rows shows up even if each product is "fused").
q4: one fused product per time step and the (d + h, h) weight built once.
Both, on every traced call that passes those: no more operators than ``MAX_FUSED_OPS`` (per step for q4: a loop of
operators beside the product does the work), and no tensor larger than the largest of the
inputs, the concatenations and the results (a product computed by broadcasting and summing
materialises n x d x h elements).
"""

from ..operators import VIEW_OPS, excess_work
from .questions import CheckFailure


def _ops(attest) -> tuple:
    """``([(op, output shape or None, contraction size or None)], count)``; the attestation was
    checked against the reply schema (:mod:`autograder.judge.replies`) already."""
    ops, count = attest.get("ops"), attest.get("op_count")
    if ops is None or count is None:
        raise CheckFailure("expected your notebook's process to report which torch operators ran; it did not. "
                           "Likely cause: code that replaces the grader's reply code.", "protocol")
    return [(name, tuple(shape) if shape is not None else None, k) for name, shape, k in ops], count


def refuse_own_kernels(graded, attest, where="") -> None:
    """A torch operator that ran a kernel the notebook registered computed nothing the grader can
    count: what runs in it is the notebook's own code, under a torch operator's name."""
    own = attest.get("own_kernels")
    if own is None:
        raise CheckFailure("expected your notebook's process to say which kernels ran; it did not. "
                           "Likely cause: code that replaces the grader's reply code.", "protocol")
    if own:
        raise CheckFailure(
            f"{graded.function} ran torch operators through code of the notebook's own "
            f"({', '.join(own[:4])}){where}: a kernel registered with torch.library, a custom op, a C++ extension "
            "or a tensor subclass's __torch_dispatch__. The grader counts only what torch's own kernels compute on "
            "plain tensors; use torch's operators as they are.", "own_kernel")


def matmuls(ops) -> list:
    return [k for _, _, k in ops if k is not None]


def _shown(ks) -> list:
    return ks if len(ks) <= 8 else ks[:8] + ["..."]


def _loop_kind(ops, sizes) -> str:
    """The cause code of a loop of products: over rows (each product's result holds h, not n
    values) or over the h columns (each holds n, not h)."""
    n, h = sizes["n"], sizes["h"]
    outs = [shape for _, shape, k in ops if k is not None and shape is not None]
    if n != h and outs and all(n in shape and h not in shape for shape in outs):
        return "loop_over_columns"
    return "loop_over_rows"


def _work_rule(graded, sizes, ops, count, where) -> None:
    """No loop of operators and no broadcast product, whatever the products were
    (:func:`autograder.operators.excess_work`, the public checks' rule too)."""
    excess = excess_work(graded.spec.family, count, [shape for _, shape, _ in ops],
                         sizes["n"], sizes["d"], sizes["h"], sizes.get("T", 1))
    if excess:
        cause, words = excess
        raise CheckFailure(f"{graded.function} {words}{where}.", cause)


def _result_is_the_product(graded, attest, where) -> None:
    """The returned tensor holds the one product's output (or what only relabels, copies or scales
    it by a number): the product did the work, not operators beside it (red team, round 14: a
    1x1 convolution computed the answer while the product's output was thrown away)."""
    made = attest.get("from_product")
    if made is None:
        raise CheckFailure("expected your notebook's process to say where the result came from; it did not. "
                           "Likely cause: code that replaces the grader's reply code.", "protocol")
    if made and made[0] is False:
        raise CheckFailure(
            f"{graded.function} returned a tensor that its one matrix product did not compute{where}: other "
            "operators did the work (a convolution, an elementwise loop, a product whose output is thrown away "
            "or multiplied by 0?). Return the product of the two concatenations itself.", "result_not_the_product")
    operands = attest.get("product_inputs")
    if made and made[0] is True:
        if not operands or operands[0] is None:
            raise CheckFailure("expected your notebook's process to say what the product multiplied; it did not. "
                               "Likely cause: code that replaces the grader's reply code.", "protocol")
        names = graded.spec.arguments
        want = {frozenset(names.index(a) for a in ("X", "H")), frozenset(names.index(a) for a in ("W_xh", "W_hh"))}
        got = {frozenset(side) for side in operands[0]}
        if got != want or len(operands[0]) != 2:
            shown = " and ".join("{" + ", ".join(names[i] for i in sorted(side) if i < len(names)) + "}"
                                 for side in operands[0])
            raise CheckFailure(
                f"{graded.function}'s one matrix product multiplied operands computed from {shown}{where}, not "
                "cat((X, H), 1) and cat((W_xh, W_hh), 0): other operators did the work and the product only "
                "passed it on (a product by an identity or zeros?). Multiply the two concatenations.", "wrong_operands")


def _only_the_product_mixes(graded, attest, where) -> None:
    """No operator but a matrix product brought data of the activations (X, H) and of the weights
    (W_xh, W_hh) together (red team, rounds 14 and 23: a convolution, or ``F.bilinear``, computed
    each step while a one-row product multiplied by 0 stood for it)."""
    mixed = attest.get("mixed")
    if mixed is None:
        raise CheckFailure("expected your notebook's process to say which operators combined the inputs; it did "
                           "not. Likely cause: code that replaces the grader's reply code.", "protocol")
    if mixed:
        raise CheckFailure(
            f"{graded.function} combined the activations with the weights in operators other than the matrix product "
            f"({', '.join(mixed[:4])}){where}: they did the product's work. Let the one product "
            "cat((X, H), 1) @ cat((W_xh, W_hh), 0) combine them (each step's, in a loop over time).",
            "work_beside_the_product")


def _one(graded, sizes, attest, where="") -> tuple:
    """The product rule on one traced call: ``(ops, count)``, or raise with the likely cause."""
    name = graded.function
    ops, count = _ops(attest)
    refuse_own_kernels(graded, attest, where)
    if attest.get("outside"):
        raise CheckFailure(f"{name} returned a result that the torch operators it ran did not compute{where}. "
                           "Likely cause: numpy, another thread or process, or memory written behind torch's back; "
                           "the grader can only count the products torch computes.", "outside_torch")
    d, h = sizes["d"], sizes["h"]
    ks, fused_k = matmuls(ops), d + h
    if graded.spec.family == "step":
        if ks == [fused_k]:
            _work_rule(graded, sizes, ops, count, where)
            return ops, count
        if sorted(ks) == sorted([d, h]):
            raise CheckFailure(
                f"{name} ran two matrix products (inner sizes d={d} and h={h}) and a sum{where}: that is the "
                "separate form. Concatenate X and H along dim 1 and W_xh and W_hh along dim 0, then multiply "
                "once: (n, d+h) @ (d+h, h).", "separate_form")
        if not ks:
            raise CheckFailure(f"{name} ran no matrix product (no @, matmul, mm, addmm, einsum or linear){where}; "
                               "multiply the two concatenations with one matrix product (a numpy round trip "
                               "hides it from torch: stay in torch).", "no_product")
        loop = len(ks) > 1 and set(ks) == {fused_k}
        raise CheckFailure(
            f"{name} ran {len(ks)} matrix product(s) with inner sizes {_shown(ks)}{where}; expected exactly one, "
            f"of cat((X, H), 1) (n, {fused_k}) and cat((W_xh, W_hh), 0) ({fused_k}, h), inner size {fused_k}"
            + (": a loop (over rows or columns) runs one per iteration." if loop else "."),
            _loop_kind(ops, sizes) if loop else "wrong_products")
    T = sizes["T"]
    if ks != [fused_k] * T:
        raise CheckFailure(
            f"{name} ran matrix products with inner sizes {_shown(ks)} over T={T} steps{where}; expected one fused "
            f"product per step (inner size d + h = {fused_k}, {T} in all). Use the fused step cat((X_t, H), 1) @ W "
            "inside the loop.", "not_fused_per_step")
    built = [op for op, shape, _ in ops if shape == (fused_k, h) and op not in VIEW_OPS]
    if len(built) != 1 and sizes["n"] != fused_k:  # at n = d + h the states (n, h) look like the weight
        raise CheckFailure(
            f"{name} built the concatenated weight ({fused_k}, {h}) {len(built)} times{where}; concatenate W_xh "
            "and W_hh once, before the loop over time steps, and reuse it.", "weights_in_loop")
    _work_rule(graded, sizes, ops, count, where)
    return ops, count


def judge(graded, traces) -> str:
    """``traces``: [(sizes, attestation)] of the group's own traced calls, all with right results:
    the product rule on each, and (step family) an operator count that does not grow with n."""
    name = graded.function
    (sizes, attest), *more = traces
    # the product rule on every call first, those where n != h before the others: a loop's cause
    # (over rows or over columns) can only be told where the two sizes differ
    for other_sizes, other in sorted(traces, key=lambda t: t[0]["n"] == t[0]["h"]):
        _one(graded, other_sizes, other, "" if other is attest else f" for n={other_sizes['n']}")
    _, count = _one(graded, sizes, attest)
    for other_sizes, other in more:
        _, other_count = _one(graded, other_sizes, other, f" for n={other_sizes['n']}")
        if graded.spec.family == "step" and other_count != count:
            raise CheckFailure(
                f"{name} ran {count} operators for n={sizes['n']} but {other_count} for n={other_sizes['n']}: "
                "the work grows with the number of rows, as in a loop over rows. Concatenate and multiply once.",
                "loop_over_rows")
    if graded.spec.family == "step":
        return (f"one matrix product with inner size d + h = {sizes['d'] + sizes['h']}, and the same {count} torch "
                "operators whatever the number of rows n (no loop over rows)")
    return f"{sizes['T']} fused products, one per time step, weights concatenated once, before the loop"


def judge_every(graded, traces) -> int:
    """The product rule on every traced call the judge made of this function (values, inputs,
    devices, timing: each is traced, so no call looks watched); returns how many were read."""
    calls = [(sizes, attest, f" (on a {label} call, {graded.describe(sizes)})") for sizes, attest, label in traces]
    for sizes, attest, where in calls:
        _one(graded, sizes, attest, where)
    # last: the rules above name a loop or a broadcast more precisely
    for _, attest, where in calls:
        if graded.spec.family == "step":
            _result_is_the_product(graded, attest, where)
        _only_the_product_mixes(graded, attest, where)
    return len(traces)
