"""Operator traces: which aten operators a student function ran, with their shapes.

``TorchDispatchMode`` sees every operator after Python-level dispatch, so ``@``, ``matmul``,
``mm``, ``addmm``, ``einsum`` and ``F.linear`` all show up as the same few matrix-product
operators; the contraction size K tells the fused product (K = d + h) from the separate ones.
Every call the judge makes is traced (the reference's timed calls too), so a function cannot
tell a traced call from any other. The runner only records; the judge reads the record
(:mod:`autograder.judge.fused`).
"""

import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: aten operator name -> index of the argument whose last dimension is the contraction size K
MATMUL_OPS = {"mm": 0, "addmm": 1, "bmm": 0, "baddbmm": 1, "mv": 0, "addmv": 1, "matmul": 0,
              "dot": 0, "vdot": 0, "_addmm_activation": 1}

#: operators recorded at most; a longer trace says so
MAX_OPS = 1000


#: operators that wrap data made outside torch (``torch.tensor(array)``): not a computation
LIFTS = {"lift", "lift_fresh", "lift_fresh_copy"}


class OpTrace(TorchDispatchMode):
    """Records ``[op name, output shape or None, contraction size or None]`` per operator, and
    the storages its operators produced (to tell a result torch computed from one made outside)."""

    def __init__(self):
        super().__init__()
        self.ops, self.count, self.produced = [], 0, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.count += 1
        name = func.overloadpacket.__name__
        if name not in LIFTS:
            for t in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(t, torch.Tensor) and t.device.type != "meta":
                    self.produced.add(t.untyped_storage().data_ptr())
        if len(self.ops) < MAX_OPS:
            k = int(args[MATMUL_OPS[name]].shape[-1]) if name in MATMUL_OPS else None
            shape = [int(n) for n in out.shape] if hasattr(out, "shape") else None
            self.ops.append([name, shape, k])
        return out

    def outside(self, results) -> list:
        """Indexes of the returned tensors whose data no traced operator produced (a numpy round
        trip, a tensor built from Python numbers): the computation happened outside torch."""
        return [i for i, t in enumerate(results) if type(t) is torch.Tensor and t.device.type != "meta"
                and t.numel() and t.untyped_storage().data_ptr() not in self.produced]
