"""References to torch, numpy and clock functions, bound before any student code runs.

The isolated checker imports this module first; student code only ever runs later, inside a call.
Whatever a student's function replaces afterwards (``torch.testing.assert_close``,
``time.perf_counter``, ``torch.Tensor.__eq__`` ...), the checks keep using these originals, and
:mod:`rnn_checks.integrity` reports the replacement.
"""

import builtins
import time

import torch
import torch.nn.functional  # noqa: F401  (snapshotted by integrity)
import torch.testing

Tensor = torch.Tensor
float32 = torch.float32
float64 = torch.float64

assert_close = torch.testing.assert_close
perf_counter = time.perf_counter
type_of = builtins.type
isinstance_ = builtins.isinstance
sort = builtins.sorted

clone = torch.Tensor.clone
detach = torch.Tensor.detach
to = torch.Tensor.to
equal = torch.equal
allclose = torch.allclose
stack = torch.stack
cat = torch.cat
mm = torch.mm
tanh = torch.tanh
randn = torch.randn
empty = torch.empty
Generator = torch.Generator
nn_RNN = torch.nn.RNN
no_grad = torch.no_grad


def version(t: torch.Tensor) -> int:
    """The tensor's version counter: it grows with every in-place update."""
    return t._version
