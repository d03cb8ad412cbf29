"""The timing threshold of ``hidden_state_fused``.

The student's function and the reference fused step (:func:`references.fused`) run on the same
inputs, in interleaved rounds of about ``TIMING_TARGET_S`` each. The median of the per-round
ratios decides against ``FUSED_SLOWDOWN_LIMIT``; the rounds stop as soon as the median's side is
certain. CPU: one thread (the checker pins it), calls alternated and timed one by one with the
clock bound before student code ran, ratio of per-call medians. CUDA: batches timed with events.
"""

import torch

from . import references, trusted
from .config import FUSED_SLOWDOWN_LIMIT, TIMING_ROUNDS, TIMING_SHAPE, TIMING_TARGET_S, TOLERANCES
from .inputs import fresh_rng, step_inputs
from .questions import CheckFailure

_Event = torch.cuda.Event
_synchronize = torch.cuda.synchronize


def _round_cuda(student, reference, k):
    """One round on CUDA: k calls of each, timed as a batch with CUDA events (kernels are async)."""
    times = []
    for fn in (student, reference):
        start, end = _Event(enable_timing=True), _Event(enable_timing=True)
        _synchronize()
        start.record()
        for _ in range(k):
            fn()
        end.record()
        _synchronize()
        times.append(start.elapsed_time(end) / 1000.0)
    return times[0] / max(times[1], 1e-9)


def _round_cpu(student, reference, k):
    """One round on the CPU: k calls of each, alternating, each timed alone; ratio of the medians.

    Alternating puts both functions under the same load; the per-call medians drop the calls that
    the scheduler interrupted, which a batch total would keep.
    """
    clock = trusted.perf_counter
    s_times, r_times = [], []
    for _ in range(k):
        t0 = clock()
        student()
        t1 = clock()
        reference()
        t2 = clock()
        s_times.append(t1 - t0)
        r_times.append(t2 - t1)
    s_times, r_times = trusted.sort(s_times), trusted.sort(r_times)
    return s_times[k // 2] / max(r_times[k // 2], 1e-9)


def measure(student, reference, device: str) -> list:
    """Per-round ratios student/reference, stopping once the median's side is decided."""
    one_round = _round_cuda if device == "cuda" else _round_cpu
    student(), reference()  # warm-up: allocator, kernels, caches
    t0 = trusted.perf_counter()
    reference()
    if device == "cuda":
        _synchronize()
    k = max(3, int(TIMING_TARGET_S / max(trusted.perf_counter() - t0, 1e-7)))
    ratios, needed = [], TIMING_ROUNDS // 2 + 1
    while len(ratios) < TIMING_ROUNDS:
        ratios.append(one_round(student, reference, k))
        above = sum(r > FUSED_SLOWDOWN_LIMIT for r in ratios)
        if above >= needed or len(ratios) - above >= needed:
            break
    return ratios


def judge(question, func, call_student) -> str:
    """Pass or raise with the measured median ratio.

    ``call_student`` is the checked call (exceptions and tampering become failures), used once
    for correctness; the timed calls use ``func`` directly so that the checking costs nothing.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    n, d, h = TIMING_SHAPE
    args = step_inputs(fresh_rng(), n, d, h, trusted.float32, device)
    out = call_student(args)
    ref = references.separate(*args)
    if trusted.type_of(out) is not trusted.Tensor or tuple(out.shape) != (n, h) or not trusted.allclose(
            trusted.to(trusted.detach(out), device="cpu", dtype=trusted.float64), ref, **TOLERANCES["float32"]):
        raise CheckFailure(
            f"{question.function} gave a wrong result at the timing size (n, d, h) = {TIMING_SHAPE}; "
            "it must be correct at every size before its speed counts.")
    try:
        ratios = measure(lambda: func(*args), lambda: references.fused(*args), device)
    except BaseException as error:
        raise CheckFailure(f"{question.function} failed while being timed: {type(error).__name__}: {error}"[:500]) from None
    ratios_sorted = trusted.sort(ratios)
    median = ratios_sorted[len(ratios_sorted) // 2]
    above = sum(r > FUSED_SLOWDOWN_LIMIT for r in ratios)
    verdict = f"{median:.2f}x the reference fused step on {device} (median of {len(ratios)} rounds, limit {FUSED_SLOWDOWN_LIMIT}x)"
    if above > len(ratios) - above:
        raise CheckFailure(
            f"{question.function} took {verdict}. Likely cause: a Python loop over rows, a host round trip "
            "(.cpu(), .numpy(), .item(), .tolist()) or extra work at every call; concatenate and multiply once.")
    return f"took {verdict}"
