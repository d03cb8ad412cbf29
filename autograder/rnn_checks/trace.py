"""Operator traces: which aten operators a student function ran, with their shapes.

``torch.utils._python_dispatch.TorchDispatchMode`` sees every operator after Python-level
dispatch, so ``@``, ``matmul``, ``mm``, ``addmm``, ``einsum`` and ``F.linear`` all show up as the
same few matrix-product operators, and the contraction size K tells the fused product
(K = d + h) from the separate ones (K = d, K = h).
"""

from torch.utils._python_dispatch import TorchDispatchMode

from . import trusted
from .questions import CheckFailure

#: aten operator name -> index of the argument whose last dimension is the contraction size K
MATMUL_OPS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "mv": 0, "addmv": 1, "matmul": 0,
              "dot": 0, "vdot": 0, "_addmm_activation": 1}

#: operators that only relabel memory; they never build a new concatenated weight
VIEW_OPS = {"view", "_unsafe_view", "t", "transpose", "permute", "expand", "alias", "unsqueeze",
            "squeeze", "as_strided", "detach", "slice", "select", "reshape", "_reshape_alias",
            "lift_fresh"}


class OpTrace(TorchDispatchMode):
    """Records ``(op name, output shape, contraction size or None)`` for each operator."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        k = None
        if name in MATMUL_OPS:
            operand = args[MATMUL_OPS[name]]
            k = operand.shape[-1]
        shape = tuple(out.shape) if trusted.isinstance_(out, trusted.Tensor) else None
        self.ops.append((name, shape, k))
        return out


def matmuls(ops) -> list:
    return [k for name, _, k in ops if k is not None]


def judge(question, ops: OpTrace, sizes: dict) -> str:
    """Pass or raise for ``q3_fused`` (one product, K = d + h) and ``q4_rnn_forward``."""
    d, h = sizes["d"], sizes["h"]
    ks = matmuls(ops.ops)
    fused_k = d + h
    if question.name == "q3_fused":
        if ks == [fused_k]:
            return f"one matrix product with inner size d + h = {fused_k}"
        if sorted(ks) == sorted([d, h]):
            raise CheckFailure(
                f"{question.function} ran two matrix products (inner sizes d={d} and h={h}) and a sum: "
                "that is the separate form. Concatenate X and H along dim 1 and W_xh and W_hh along dim 0, "
                "then multiply once: (n, d+h) @ (d+h, h).")
        if not ks:
            raise CheckFailure(
                f"{question.function} ran no matrix product (no @, matmul, mm, addmm, einsum or linear); "
                "multiply the two concatenations with one matrix product.")
        raise CheckFailure(
            f"{question.function} ran {len(ks)} matrix product(s) with inner sizes {ks}; expected exactly one, "
            f"of cat((X, H), 1) (n, {fused_k}) and cat((W_xh, W_hh), 0) ({fused_k}, h), inner size {fused_k}.")
    T = sizes["T"]
    if ks != [fused_k] * T:
        raise CheckFailure(
            f"{question.function} ran matrix products with inner sizes {ks} over T={T} steps; expected one "
            f"fused product per step (inner size d + h = {fused_k}, {T} in all). Use the fused step "
            "cat((X_t, H), 1) @ W inside the loop.")
    built = [name for name, shape, _ in ops.ops if shape == (fused_k, h) and name not in VIEW_OPS]
    if len(built) != 1:
        raise CheckFailure(
            f"{question.function} built the concatenated weight ({fused_k}, {h}) {len(built)} times; "
            "concatenate W_xh and W_hh once, before the loop over time steps, and reuse it.")
    return f"{T} fused products, weights concatenated once"
