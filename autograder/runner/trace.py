"""Operator traces: which aten operators a student function ran, with their shapes.

``TorchDispatchMode`` sees every operator after Python-level dispatch, so ``@``, ``matmul``,
``mm``, ``addmm``, ``einsum`` and ``F.linear`` all show up as the same few matrix-product
operators; the contraction size K tells the fused product (K = d + h) from the separate ones.
The runner only records; the judge reads the record (:mod:`autograder.judge.fused`).
"""

from torch.utils._python_dispatch import TorchDispatchMode

#: aten operator name -> index of the argument whose last dimension is the contraction size K
MATMUL_OPS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "mv": 0, "addmv": 1, "matmul": 0,
              "dot": 0, "vdot": 0, "_addmm_activation": 1}

#: operators recorded at most; a longer trace says so
MAX_OPS = 1000


class OpTrace(TorchDispatchMode):
    """Records ``[op name, output shape or None, contraction size or None]`` per operator."""

    def __init__(self):
        super().__init__()
        self.ops, self.count = [], 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.count += 1
        if len(self.ops) < MAX_OPS:
            name = func.overloadpacket.__name__
            k = int(args[MATMUL_OPS[name]].shape[-1]) if name in MATMUL_OPS else None
            shape = [int(n) for n in out.shape] if hasattr(out, "shape") else None
            self.ops.append([name, shape, k])
        return out
