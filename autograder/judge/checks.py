"""The hidden check groups, decided in the judge; each is one Otter test case with one message.

Verified groups (the judge checks data it received against references it computed): ``values``
(shapes, dtypes, float64 reference, fresh draws), ``timing`` (:mod:`autograder.judge.timing`) and
q1's ``shapes``. Attested groups (only the runner can see it): ``inputs`` (nothing modified in
place), ``devices`` (``meta`` always, CUDA where the runner has it), ``fused`` (operator trace).
Every call gets fresh inputs; references are computed by the judge after the call returns.
"""

import torch

from ..config import FLOAT32_ERROR_MARGIN, FLOAT32_MAX_GAP, FRESH_DRAWS, TOLERANCES
from . import fused, timing
from .inputs import fresh_rng, timing_sizes
from .questions import GRADED, CheckFailure, UndecidedFailure

_EXCEPTION_HINTS = (
    ("must match the size of tensor", "an elementwise * where a matrix product (@) is needed, or tensors that do not line up"),
    ("cannot be multiplied", "a transposed weight or the wrong concatenation axis: (n, d+h) @ (d+h, h) needs X and H joined along dim 1 and W_xh, W_hh along dim 0"),
    ("size mismatch", "a transposed weight or the wrong concatenation axis"),
    ("Sizes of tensors must match", "the wrong concatenation axis: X (n, d) and H (n, h) join along dim 1; W_xh (d, h) and W_hh (h, h) along dim 0"),
    ("meta", "a tensor moved off the inputs' device (.cpu(), .numpy(), torch.tensor(...)) or created without device="),
    ("Expected all tensors to be on the same device", "a tensor created without device=...: use the inputs' device (X.device) or *_like functions"),
    ("numpy", "a round trip through numpy: stay in torch"),
    ("synchroniz", "a host synchronization in the fused step (.item(), .cpu(), .tolist(), printing a tensor): keep everything on the GPU"),
)


def call_error(graded, reply) -> CheckFailure:
    """The failure for a call that raised in the student's code, with the likely cause."""
    hint = next((h for key, h in _EXCEPTION_HINTS if key in reply.error), None)
    where = f"\n{_whole_lines(reply.where.rstrip(), 800)}" if reply.where else ""
    return CheckFailure(f"{graded.function} raised {reply.error}{where}" + (f"\nLikely cause: {hint}." if hint else ""))


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
                           + (" (did you forget `return`?)" if returned.type == "builtins.NoneType" else ""))
    return list(returned.items)


def expect_tensor(graded, value, name, shape, label, dtype: str, device: str, sizes):
    """A plain ``torch.Tensor`` of the expected shape, dtype and device type."""
    where = f"{name} of {graded.function} ({graded.describe(sizes)})"
    if value.kind == "subclass":
        raise CheckFailure(f"{where} is {value.describe()}; return a plain torch.Tensor.")
    if value.kind != "tensor":
        if value.type.startswith("numpy"):
            raise CheckFailure(f"{where} is a numpy {value.type.split('.')[-1]}; return a torch.Tensor: "
                               "keep the computation in torch (no .numpy()).")
        raise CheckFailure(f"{where} should be a torch.Tensor, got {value.describe()}." + _type_hint(value.type))
    if value.device != device:
        raise CheckFailure(f"{where} is on device '{value.device}', expected the inputs' device '{device}'; "
                           "likely cause: .cpu(), .numpy() or a tensor created without device=.")
    if value.shape != shape:
        raise CheckFailure(f"{where}: expected shape {shape} = {label}, got {value.shape}. " + _shape_hint(value.shape, sizes))
    if value.dtype != dtype:
        raise CheckFailure(f"{where}: expected dtype torch.{dtype} (the inputs' dtype), got torch.{value.dtype}; "
                           "likely cause: .float(), .double() or a tensor created with another dtype.")
    if device != "meta" and value.tensor is None:
        raise CheckFailure(f"{where}: the grader received no values for it.")


def _type_hint(type_name: str) -> str:
    if type_name == "builtins.NoneType":
        return " Did you forget `return`?"
    if type_name in ("builtins.list", "builtins.tuple"):
        return " Stack the tensors into one: torch.stack(outputs) is (T, n, h)."
    return ""


def _shape_hint(got, sizes) -> str:
    n, d, h = sizes["n"], sizes["d"], sizes["h"]
    if got[-2:] == (n, d + h):
        return "That is the shape of cat((X, H), 1): multiply it by the concatenated weights."
    if got[-2:] in ((d + h, h), (n + d, h)):
        return "Concatenate X and H along dim 1 (columns), the weights along dim 0 (rows)."
    return "X @ W_xh is (n, d) @ (d, h) -> (n, h); H @ W_hh is (n, h) @ (h, h) -> (n, h)."


def tolerance(dtype: str, reference, reference32=None) -> dict:
    """The tolerance of a result: its dtype's, widened for float32 to ``FLOAT32_ERROR_MARGIN``
    times the float32 reference's own largest error on these inputs (large shapes accumulate more)."""
    tol = dict(TOLERANCES[dtype])
    if reference32 is not None:
        gap = (reference32.to(torch.float64) - reference).abs().max().item() if reference.numel() else 0.0
        if not gap <= FLOAT32_MAX_GAP:  # an ill-conditioned draw: no tolerance tells right from wrong
            raise UndecidedFailure(f"the float32 reference itself is off by {gap:.2g} on these inputs; this check "
                                   "is undecided and graded again")
        tol["atol"] = max(tol["atol"], float(f"{FLOAT32_ERROR_MARGIN * gap:.2g}"))
    return tol


def expect_close(graded, value, reference, name, sizes, mistakes=None, reference32=None):
    """``value`` equals the float64 ``reference`` within the tolerance of its dtype."""
    tol = tolerance(value.dtype, reference, reference32)
    got = value.tensor.to(torch.float64)
    try:
        torch.testing.assert_close(got, reference, **tol)
    except AssertionError as error:
        cause = ""
        for label, wrong in (mistakes() if mistakes else {}).items():
            if torch.allclose(got, wrong, **tol):
                cause = f"\nLikely cause: {label}."
                break
        detail = "\n".join(line for line in str(error).splitlines()[:4] if line.strip())
        raise CheckFailure(
            f"{name} of {graded.function} ({graded.describe(sizes)}, torch.{value.dtype}) differs from "
            f"the float64 reference beyond rtol={tol['rtol']}, atol={tol['atol']}:\n{detail}{cause}") from None


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
                    "do not cache or reuse an earlier result.") from None
            raise
    return [v.tensor for v in results]


def remember(proxy, graded, sizes, reply, label) -> None:
    """Keep the attestation of a call whose results were right: ``fused`` and ``devices`` read
    every traced call of the function, whichever group made it."""
    proxy.session.traces.setdefault(graded.spec.name, []).append((dict(sizes), reply.attest, label))


def _checked_call(graded, proxy, sizes, dtype, rng, previous=None, device="cpu", label="values", **options):
    args = graded.make_inputs(rng, sizes, dtype)
    reply = call(graded, proxy, args, device=device, **options)
    results = expect_results(graded, reply, args, sizes, str(dtype).removeprefix("torch."), device, previous)
    remember(proxy, graded, sizes, reply, label)
    return results, reply


def check_values(graded, proxy):
    """Shapes, dtype and values on every drawn case, float32 and float64, fresh draws each."""
    rng = fresh_rng()
    cases = graded.cases(rng)
    for _, sizes in cases:
        for dtype in (torch.float32, torch.float64):
            previous = None
            for _ in range(FRESH_DRAWS):
                previous, _ = _checked_call(graded, proxy, sizes, dtype, rng, previous)
    return f"correct shapes, dtypes and values on {len(cases)} shape cases x 2 dtypes x {FRESH_DRAWS} fresh draws"


def check_inputs(graded, proxy):
    """Attested: no argument modified in place (values and version counters, seen by the runner)."""
    rng = fresh_rng()
    for label, sizes in graded.cases(rng):
        _, reply = _checked_call(graded, proxy, sizes, torch.float64, rng, label="inputs", check_inputs=True)
        modified = reply.attest.get("modified")
        if modified is None:
            raise CheckFailure("the runner did not report on the inputs.")
        if modified:
            names = graded.spec.arguments
            name = names[modified[0]] if modified[0] < len(names) else "an input"
            raise CheckFailure(
                f"{graded.function} modified its argument {name} in place ({label}); inputs must stay unchanged. "
                f"Likely cause: an in-place operation such as {name} += ..., {name}.add_(...) or {name}[...] = ...; "
                "write to a new tensor instead.")
    return "inputs unchanged (values and version counters)"


def check_devices(graded, proxy):
    """Attested: the ``meta`` device always; CUDA where the runner has it (float32, no host syncs for q3)."""
    rng = fresh_rng()
    _, sizes = graded.cases(rng)[1]
    args = graded.make_inputs(rng, sizes, torch.float32)
    reply = call(graded, proxy, args, device="meta")
    for value, name, (shape, label) in zip(results_of(graded, reply.result, sizes), graded.spec.results,
                                           graded.result_shapes(sizes), strict=True):
        expect_tensor(graded, value, name, shape, label, "float32", "meta", sizes)
    remember(proxy, graded, sizes, reply, "meta-device")
    done = ["meta"]
    if proxy.session.cuda:
        for _, sizes in graded.cases(rng):
            _checked_call(graded, proxy, sizes, torch.float32, rng, device="cuda", label="cuda",
                          forbid_sync=graded.spec.name == "q3_fused")
        done.append("cuda")
    calls = proxy.session.traces.get(graded.spec.name, [])
    for sizes, attest, label in calls:
        if attest.get("outside") is None:
            raise CheckFailure("the runner did not report where the results were computed.")
        if attest["outside"]:
            raise CheckFailure(
                f"{graded.function} returned a result that torch did not compute (on a {label} call, "
                f"{graded.describe(sizes)}). Likely cause: a round trip through numpy (.numpy(), np.*, "
                "torch.from_numpy) or a tensor built from Python numbers: keep the computation in torch, on the "
                "inputs' device.")
    return "works on " + " and ".join(done) + f"; every result of {len(calls)} calls computed by torch"


def check_fused(graded, proxy):
    """Attested: the operator trace shows the fused form (:mod:`autograder.judge.fused`)."""
    rng = fresh_rng()
    _, sizes = graded.cases(rng)[1]
    if sizes["n"] == sizes["d"] + sizes["h"]:  # keep (n, h) apart from the weights' (d + h, h)
        sizes["n"] += 1
    traces = []
    for n in (sizes["n"], timing_sizes(rng)["n"]) if graded.spec.family == "step" else (sizes["n"],):
        case = dict(sizes, n=n)
        _, reply = _checked_call(graded, proxy, case, torch.float32, rng, label="fused")
        traces.append((case, reply.attest))
    note = fused.judge(graded, traces)
    count = fused.judge_every(graded, proxy.session.traces.get(graded.spec.name, []))
    return f"{note}; the same on all {count} traced calls so far"


def recheck_fused(session, question: str) -> None:
    """After the question's last group: ``fused``, if it passed, must hold on every traced call,
    the timed ones included (they came after it)."""
    if session.outcomes.get((question, "fused"), (False,))[0]:
        graded = GRADED[question]
        try:
            count = fused.judge_every(graded, session.traces.get(question, []))
        except CheckFailure as failure:
            session.record(question, "fused", False, str(failure))
        else:
            session.record(question, "fused", True, session.outcomes[(question, "fused")][1]
                           .split("; the same on all")[0] + f"; the same on all {count} traced calls")


def check_timing(graded, proxy):
    """Verified: about as fast as one matrix product, timed by the judge (:mod:`autograder.judge.timing`)."""
    return timing.judge(graded, proxy)


def check_shapes(stand_ins):
    """q1: the shapes of the two concatenations in the worked example."""
    from .shapes import check_worked_example_shapes
    check_worked_example_shapes(*(s.get() for s in stand_ins))
    return "both shapes right"


GROUPS = {"values": check_values, "inputs": check_inputs, "devices": check_devices,
          "fused": check_fused, "timing": check_timing}
