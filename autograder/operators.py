"""What counts as a matrix product, and what only relabels memory: the operator table that the
runner's operator trace, the grader's reading of that trace and the public checks share. ``make dist`` writes this source at
the top of the student notebook's "Checks" cell, so it imports nothing at all.
"""

#: aten operator name -> index of the argument whose last dimension is the contraction size K
#: (``@``, ``matmul``, ``mm``, ``einsum`` and ``F.linear`` all reach one of these)
MATMUL_OPS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "mv": 0, "addmv": 1, "matmul": 0,
              "dot": 0, "vdot": 0, "_addmm_activation": 1}

#: operators that only relabel memory; they never build a new concatenated weight
VIEW_OPS = {"view", "_unsafe_view", "t", "transpose", "permute", "expand", "alias", "unsqueeze",
            "squeeze", "as_strided", "detach", "slice", "select", "reshape", "_reshape_alias",
            "lift_fresh"}


def contraction_size(op: str, args):
    """The contraction size K of the aten operator ``op`` called with ``args`` when it is a matrix
    product (:data:`MATMUL_OPS`), else ``None``."""
    return int(args[MATMUL_OPS[op]].shape[-1]) if op in MATMUL_OPS else None
