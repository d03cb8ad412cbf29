"""A reply checked against the references: its container, each result's type, shape, dtype and
device, and its values within a tolerance derived per call; the likely cause of a failure. Used by
every check group and by the timed calls, so a timed result is verified like any other.
"""

import torch

from ..rules import IllConditioned, mismatch, raised_cause, shape_cause
from ..rules import tolerance as _tolerance
from .questions import CheckFailure, UndecidedFailure


def call_error(graded, reply) -> CheckFailure:
    """The failure for a call that raised in the student's code, with the likely cause."""
    cause, hint = raised_cause(reply.error)
    where = f"\n{_whole_lines(reply.where.rstrip(), 800)}" if reply.where else ""
    return CheckFailure(f"{graded.function} raised {reply.error}{where}" + (f"\nLikely cause: {hint}." if hint else ""),
                        cause)


def _whole_lines(text: str, limit: int) -> str:
    """The last lines of ``text`` that fit in ``limit`` characters (never a line cut in half)."""
    lines, size = [], 0
    for line in reversed(text.splitlines()):
        if size + len(line) + 1 > limit:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(reversed(lines))


def call(graded, proxy, args, **options):
    """One call through the runner; an exception in the student's code becomes a CheckFailure."""
    reply = proxy.call(args, **options)
    if not reply.ok:
        raise call_error(graded, reply)
    return reply


def results_of(graded, returned, sizes) -> list:
    """The returned values as a list, after checking the container itself."""
    names = graded.spec.results
    if len(names) == 1:
        return [returned]
    if returned.kind not in ("tuple", "list") or not returned.length == len(returned.items) == len(names):
        raise CheckFailure(f"{graded.function} must return a tuple ({', '.join(names)}), got {returned.describe()}. "
                           f"End with: return {', '.join(names)}"
                           + (" (did you forget `return`?)" if returned.type == "builtins.NoneType" else ""),
                           "missing_return" if returned.type == "builtins.NoneType" else "not_a_tuple")
    return list(returned.items)


def expect_tensor(graded, value, name, shape, label, dtype: str, device: str, sizes):
    """A plain ``torch.Tensor`` of the expected shape, dtype and device type."""
    where = f"{name} of {graded.function} ({graded.describe(sizes)})"
    if value.kind == "subclass":
        raise CheckFailure(f"{where} is {value.describe()}; return a plain torch.Tensor.", "tensor_subclass")
    if value.kind != "tensor":
        if value.type.startswith("numpy"):
            raise CheckFailure(f"{where} is a numpy {value.type.split('.')[-1]}; return a torch.Tensor: "
                               "keep the computation in torch (no .numpy()).", "numpy_result")
        raise CheckFailure(f"{where} should be a torch.Tensor, got {value.describe()}." + _type_hint(value.type),
                           _TYPE_CAUSES.get(value.type, "not_a_tensor"))
    if value.device != device:
        raise CheckFailure(f"{where} is on device '{value.device}', expected the inputs' device '{device}'; "
                           "likely cause: .cpu(), .numpy() or a tensor created without device=.", "wrong_device")
    if value.shape != shape:
        cause, hint = shape_cause(value.shape, sizes["n"], sizes["d"], sizes["h"])
        raise CheckFailure(f"{where}: expected shape {shape} = {label}, got {value.shape}. " + hint, cause)
    if value.dtype != dtype:
        raise CheckFailure(f"{where}: expected dtype torch.{dtype} (the inputs' dtype), got torch.{value.dtype}; "
                           "likely cause: .float(), .double() or a tensor created with another dtype.", "changed_dtype")
    if device != "meta" and value.tensor is None:
        raise CheckFailure(f"{where}: the grader received no values for it.", "protocol")


_TYPE_CAUSES = {"builtins.NoneType": "missing_return", "builtins.list": "list_not_stacked",
                "builtins.tuple": "list_not_stacked"}


def _type_hint(type_name: str) -> str:
    if type_name == "builtins.NoneType":
        return " Did you forget `return`?"
    if type_name in ("builtins.list", "builtins.tuple"):
        return " Stack the tensors into one: torch.stack(outputs) is (T, n, h)."
    return ""


def tolerance(dtype: str, reference, reference32=None) -> dict:
    """The tolerance of a result (:func:`autograder.rules.tolerance`); an ill-conditioned draw
    makes the check undecided, never a failure."""
    try:
        return _tolerance(dtype, reference, reference32)
    except IllConditioned as error:
        raise UndecidedFailure(f"{error}; this check is undecided and graded again") from None


def expect_close(graded, value, reference, name, sizes, mistakes=None, reference32=None):
    """``value`` equals the float64 ``reference`` within the tolerance of its dtype."""
    tol = tolerance(value.dtype, reference, reference32)
    wrong = mismatch(value.tensor.to(torch.float64), reference, tol, mistakes)
    if wrong is not None:
        detail, code, likely = wrong
        raise CheckFailure(
            f"{name} of {graded.function} ({graded.describe(sizes)}, torch.{value.dtype}) differs from "
            f"the float64 reference beyond rtol={tol['rtol']}, atol={tol['atol']}:\n{detail}"
            + (f"\nLikely cause: {likely}." if likely else ""), code)


def expect_results(graded, reply, args, sizes, dtype, device="cpu", previous=None) -> list:
    """Structure, dtype, device and values of a reply for ``args``; returns the result tensors."""
    results = results_of(graded, reply.result, sizes)
    for value, name, (shape, label) in zip(results, graded.spec.results, graded.result_shapes(sizes), strict=True):
        expect_tensor(graded, value, name, shape, label, dtype, device, sizes)
    refs = graded.reference(*args)
    refs32 = graded.reference(*args, dtype=torch.float32) if dtype == "float32" else [None] * len(refs)
    mistakes = (lambda: graded.mistakes(*args)) if graded.mistakes else None
    for i, (value, ref, ref32, name) in enumerate(zip(results, refs, refs32, graded.spec.results, strict=True)):
        try:
            expect_close(graded, value, ref, name, sizes, mistakes if i == 0 else None, ref32)
        except CheckFailure:
            if previous is not None and torch.equal(value.tensor, previous[i]):
                raise CheckFailure(
                    f"{graded.function} returned the same {name} for new inputs of the same shape "
                    f"({graded.describe(sizes)}): compute the result from the arguments at every call; "
                    "do not cache or reuse an earlier result.", "cached_result") from None
            raise
    return [v.tensor for v in results]


def remember(proxy, graded, sizes, reply, label) -> None:
    """Keep the attestation of a call whose results were right: ``fused`` and ``devices`` read
    every traced call of the function, whichever group made it."""
    proxy.session.traces.setdefault(graded.spec.name, []).append((dict(sizes), reply.attest, label))
