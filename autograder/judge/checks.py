"""The hidden check groups, decided in the judge; each is one Otter test case with one message.

Verified groups (the judge checks data it received against references it computed): ``values``
(shapes, dtypes, float64 reference, fresh draws), ``timing`` (:mod:`autograder.judge.timing`) and
q1's ``shapes``. Attested groups (only the runner can see it): ``inputs`` (nothing modified in
place), ``devices`` (``meta`` always, CUDA where the runner has it), ``fused`` (operator trace).
Every call gets fresh inputs; references are computed by the judge after the call returns.
"""

import torch

from ..config import FRESH_DRAWS
from . import fused, timing
from .inputs import fresh_rng, timing_sizes
from .questions import GRADED, CheckFailure
from .verify import call, expect_results, expect_tensor, remember, results_of


def _checked_call(graded, proxy, sizes, dtype, rng, previous=None, device="cpu", label="values", **options):
    args = graded.make_inputs(rng, sizes, dtype)
    reply = call(graded, proxy, args, device=device, **options)
    results = expect_results(graded, reply, args, sizes, str(dtype).removeprefix("torch."), device, previous)
    remember(proxy, graded, sizes, reply, label)
    return results, reply


def check_values(graded, proxy):
    """Shapes, dtype and values on every drawn case, float32 and float64, fresh draws each; then
    once per dtype on sizes drawn across the whole input space."""
    rng = fresh_rng()
    cases = graded.cases(rng)
    for _, sizes in cases:
        for dtype in (torch.float32, torch.float64):
            previous = None
            for _ in range(FRESH_DRAWS):
                previous, _ = _checked_call(graded, proxy, sizes, dtype, rng, previous)
    sweep = graded.sweep(rng)
    for sizes in sweep:
        for dtype in (torch.float32, torch.float64):
            _checked_call(graded, proxy, sizes, dtype, rng)
    return (f"right shapes, dtypes and values for {len(cases)} input sizes, in float32 and float64, each on "
            f"{FRESH_DRAWS} new random inputs, and for {len(sweep)} more sizes drawn across the whole range")


def check_inputs(graded, proxy):
    """Attested: no argument modified in place (values and version counters, seen by the runner)."""
    rng = fresh_rng()
    for label, sizes in graded.cases(rng):
        _, reply = _checked_call(graded, proxy, sizes, torch.float64, rng, label="inputs", check_inputs=True)
        modified = reply.attest.get("modified")
        if modified is None:
            raise CheckFailure("expected your notebook's process to say whether the inputs changed; it did not. "
                               "Likely cause: code that replaces the grader's reply code.", "protocol")
        if modified:
            names = graded.spec.arguments
            name = names[modified[0]] if modified[0] < len(names) else "an input"
            raise CheckFailure(
                f"{graded.function} modified its argument {name} in place ({label}); inputs must stay unchanged. "
                f"Likely cause: an in-place operation such as {name} += ..., {name}.add_(...) or {name}[...] = ...; "
                "write to a new tensor instead.", "inplace_update")
    return ("no argument changed: every input has the same values after each call, and PyTorch saw no "
            "in-place write to any of them")


def check_devices(graded, proxy):
    """Attested: the ``meta`` device always; CUDA where the runner has it (float32; no host syncs
    where the spec says ``host_sync=False``)."""
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
                          forbid_sync=not graded.spec.host_sync)
        done.append("cuda")
    calls = proxy.session.traces.get(graded.spec.name, [])
    for sizes, attest, label in calls:
        if attest.get("outside") is None:
            raise CheckFailure("expected your notebook's process to say how the results were computed; it did not. "
                               "Likely cause: code that replaces the grader's reply code.", "protocol")
        fused.refuse_own_kernels(graded, attest, f" (on a {label} call, {graded.describe(sizes)})")
        if attest["outside"]:
            raise CheckFailure(
                f"{graded.function} returned a result that torch did not compute (on a {label} call, "
                f"{graded.describe(sizes)}). Likely cause: a round trip through numpy (.numpy(), np.*, "
                "torch.from_numpy) or a tensor built from Python numbers: keep the computation in torch, on the "
                "inputs' device.", "outside_torch")
    return ("works on PyTorch's `meta` device (tensors with shapes but no data), which catches .cpu(), .numpy() "
            "and tensors created without device="
            + ("; and on CUDA (a GPU)" if "cuda" in done else "")
            + f"; every result of {len(calls)} calls computed by torch operations, not numpy or Python numbers")


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
    return f"{note}{_every(count)} so far"


def _every(count: int) -> str:
    return (f"; the same on all {count} traced calls (the grader records which torch operators run in every call "
            "it makes, the timed ones included)")


def recheck_fused(session, question: str) -> None:
    """After the question's last group: ``fused``, if it passed, must hold on every traced call,
    the timed ones included (they came after it)."""
    if session.outcomes.get((question, "fused"), (False,))[0]:
        graded = GRADED[question]
        try:
            count = fused.judge_every(graded, session.traces.get(question, []))
        except CheckFailure as failure:
            session.record(question, "fused", False, str(failure), cause=failure.cause)
        else:
            session.record(question, "fused", True, session.outcomes[(question, "fused")][1]
                           .split("; the same on all")[0] + _every(count))


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
