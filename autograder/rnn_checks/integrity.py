"""Detect replaced library functions: torch, numpy, clocks, comparisons.

A snapshot records which object every public callable of the watched namespaces is; after each
call of a student function the checker compares again. Any replacement fails the check group with
a message that names it: the grade never depends on what a student's code did to the libraries.
"""

import builtins
import math
import os
import time
import timeit

import torch
import torch.nn.functional
import torch.testing

try:  # numpy is optional on the GPU check machine
    import numpy
    import numpy.testing
except ImportError:  # pragma: no cover
    numpy = None


def _namespaces() -> dict:
    spaces = {
        "torch": torch,
        "torch.Tensor": torch.Tensor,
        "torch.testing": torch.testing,
        "torch.nn.functional": torch.nn.functional,
        "torch.linalg": torch.linalg,
        "time": time,
        "timeit": timeit,
        "math": math,
        "builtins": builtins,
    }
    if numpy is not None:
        spaces.update({"numpy": numpy, "numpy.ndarray": numpy.ndarray, "numpy.testing": numpy.testing})
    return spaces


def _watched(space, obj) -> bool:
    """Everything in a class; in a module, functions, classes and descriptors (not plain data)."""
    return isinstance(space, type) or callable(obj) or hasattr(type(obj), "__get__")


def snapshot() -> dict:
    """``{(namespace, name): object}`` for what :func:`_watched` selects in the watched namespaces."""
    snap = {}
    for label, space in _namespaces().items():
        for name, obj in list(vars(space).items()):
            if _watched(space, obj):
                snap[(label, name)] = obj
    return snap


def replaced(before: dict) -> list:
    """Names (``"torch.testing.assert_close"``) whose object differs from the snapshot ``before``,
    and names newly set on a watched class (``torch.Tensor.shape = property(...)`` would shadow the
    inherited attribute without replacing anything)."""
    spaces = _namespaces()
    changed = []
    for (label, name), obj in before.items():
        current = vars(spaces[label]).get(name, _MISSING)
        if current is not obj:
            changed.append(f"{label}.{name}")
    for label, space in spaces.items():
        if isinstance(space, type):
            changed += [f"{label}.{name}" for name in vars(space) if (label, name) not in before]
    return changed


_MISSING = object()


def _describe(obj) -> str:
    obj = _unwrap_torch(obj)
    code = getattr(obj, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else ""
    return ":".join([type(obj).__name__, str(getattr(obj, "__qualname__", "")),
                     str(getattr(obj, "__module__", "")), where])


def fingerprint(cache: dict = None) -> dict:
    """``{"torch.mm": "builtin_function_or_method:mm:torch", ...}``, comparable across processes.

    The parent (the student's notebook process) compares its own fingerprint with the one of the
    freshly started checker: a function replaced at the top of a notebook shows up as a mismatch.
    ``cache`` (``{key: (object, description)}``, filled in place) skips objects already described.
    """
    prints = {}
    for (label, name), obj in snapshot().items():
        key = f"{label}.{name}"
        if cache is not None and key in cache and cache[key][0] is obj:
            prints[key] = cache[key][1]
            continue
        prints[key] = _describe(obj)
        if cache is not None:
            cache[key] = (obj, prints[key])
    return prints


_TORCH_DIR = os.path.dirname(torch.__file__)


def _unwrap_torch(obj):
    """Undo wrappers torch adds itself on lazy imports (``torch._dynamo`` wraps ``manual_seed``)."""
    while hasattr(obj, "__wrapped__"):
        code = getattr(obj, "__code__", None)
        if code is None or not code.co_filename.startswith(_TORCH_DIR):
            break
        obj = obj.__wrapped__
    return obj


def mismatches(mine: dict, fresh: dict) -> list:
    """Names present in both fingerprints whose entries differ."""
    return sorted(k for k, v in mine.items() if k in fresh and fresh[k] != v)
