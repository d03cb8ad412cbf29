"""What counts as a matrix product, and what only relabels memory: the operator table that the
runner's operator trace, the grader's reading of that trace and the public checks share. ``make dist`` writes this source at
the top of the student notebook's "Checks" cell, so it imports nothing at all.
"""

#: aten operator name -> index of the argument whose last dimension is the contraction size K
#: (``@``, ``matmul``, ``mm``, ``einsum`` and ``F.linear`` all reach one of these)
MATMUL_OPS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "addbmm": 1, "mv": 0, "addmv": 1, "matmul": 0,
              "dot": 0, "vdot": 0, "_addmm_activation": 1, "addr": 1}
#: products of vectors whose contraction size is 1 (an outer product), whatever their lengths
OUTER_OPS = {"addr"}
#: products that add an input of their own (``self``, their first argument) to the product
BIASED_OPS = {op for op, first in MATMUL_OPS.items() if first == 1}

#: operators that only relabel memory; they never build a new concatenated weight
VIEW_OPS = {"view", "_unsafe_view", "t", "transpose", "permute", "expand", "alias", "unsqueeze",
            "squeeze", "as_strided", "detach", "slice", "select", "reshape", "_reshape_alias",
            "lift_fresh"}


def contraction_size(op: str, args):
    """The contraction size K of the aten operator ``op`` called with ``args`` when it is a matrix
    product (:data:`MATMUL_OPS`), else ``None``."""
    if op not in MATMUL_OPS:
        return None
    return 1 if op in OUTER_OPS else int(args[MATMUL_OPS[op]].shape[-1])


#: the most operators one call of a fused step may run (every valid style runs 3-14: cat, cat, the
#: product, views), and one step of a fused RNN forward pass on average (7-9): a loop of operators
#: beside or instead of the one product runs one or more per iteration
MAX_FUSED_OPS = 40
MAX_FUSED_OPS_PER_STEP = 40


def excess_work(family: str, count: int, shapes, n: int, d: int, h: int, T: int = 1):
    """``(cause code, words)`` when a traced call did work beside its one product (``family`` is
    "step" or "sequence"; ``shapes`` the output shapes of its operators), else ``None``: more
    operators than the fused form runs, or a tensor larger than every input, concatenation and
    result (a product computed by broadcasting and summing materialises n x d x h elements)."""
    most = MAX_FUSED_OPS_PER_STEP * T if family == "sequence" else MAX_FUSED_OPS
    if count > most:
        return "loop_of_operators", (f"ran {count} torch operators; the fused form runs a handful (two concatenations, "
                                     f"one product{' per step' if family == 'sequence' else ''}). Likely cause: a Python "
                                     "loop over columns or rows, around or instead of the one product")
    largest = max([n * (d + h), (d + h) * h, n * h] + ([T * n * d, T * n * h] if family == "sequence" else []))
    made = 0
    for shape in shapes:
        if shape is not None:
            size = 1
            for dim in shape:
                size *= dim
            made = max(made, size)
    if made > largest:
        return "broadcast_product", (f"made a tensor of {made} elements, more than any input, concatenation or result "
                                     f"({largest}). Likely cause: a product computed by broadcasting and summing (such "
                                     "as (X[:, :, None] * W[None]).sum(1)); a matrix product (@) never builds that")
    return None
