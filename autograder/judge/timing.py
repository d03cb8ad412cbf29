"""The timing threshold of ``hidden_state_fused``, measured by the judge from outside.

Each round draws a shape in ``TIMING_BAND`` and times ``TIMING_CALLS`` calls of the student's
function in its runner and as many of the reference fused step in the reference runner (a fork
of the judge that never ran submission code), each call on fresh inputs and timed from the first
byte sent to the last byte received, round trip included for both. While the reference runs,
every process of the student's runner is stopped (SIGSTOP), so nothing the submission left
running can slow the yardstick. Both runners use one thread on the same core. The reference's
blocks have their own deadline, and a reference that fails is retired (the check is then
undecided); the reference runner is fresh for every submission. The round's ratio
is the ratio of the per-call lower quartiles; the verdict is the median of the rounds, which stop as
soon as its side of ``FUSED_SLOWDOWN_LIMIT`` is certain. Every timed result is verified.
"""

import time

import torch

from .. import wire
from ..config import (
    CHECK_TIME_LIMIT_S,
    FUSED_SLOWDOWN_LIMIT,
    MAX_STARVED_ROUNDS,
    REFERENCE_BLOCK_LIMIT_S,
    STARVED_FACTOR,
    TIMING_CALLS,
    TIMING_ROUNDS,
    WALL_GUARD,
)
from . import replies
from .fused import refuse_own_kernels
from .inputs import fresh_rng, step_inputs, timing_sizes
from .questions import CheckFailure, UndecidedFailure
from .runners import RunnerFailure
from .verify import call_error, expect_results, remember


def _quantile(values, fraction: float):
    """The value at ``fraction`` of the sorted values (the element at that index, no interpolation)."""
    values = sorted(values)
    return values[int(fraction * len(values))]


def _block(graded, proxy, runner, shapes, rng, deadline, verify, cpu: bool) -> tuple:
    """``(costs, wall seconds)`` of ``TIMING_CALLS`` calls on ``runner``, each on fresh inputs: a
    call's cost is the processor time the runner's processes consumed during it (``cpu``), or its
    wall time. Raises ``wire.WireError`` (timeout, broken protocol) or CheckFailure (a wrong result)."""
    seconds, walls = [], []
    for sizes in shapes:
        args = step_inputs(rng, sizes["n"], sizes["d"], sizes["h"], torch.float32)
        header, blobs = proxy.encode(args, "cuda" if proxy.session.cuda else "cpu", check_inputs=False,
                                     forbid_sync=False)  # the same request as any other call
        left = deadline - time.monotonic()
        if left <= 0:
            raise wire.WireTimeout("the timed calls ran out of time")
        before = runner.cpu_time() if cpu else None
        reply, reply_blobs, took = runner.channel.timed_request(header, blobs, left)
        after = runner.cpu_time() if cpu else None
        if cpu and (before is None or after is None):
            raise UndecidedFailure("the grader lost the processor-time accounting of a runner")
        if verify:
            decoded = replies.call_reply(reply, reply_blobs)
            if not decoded.ok:
                raise call_error(graded, decoded)
            try:
                expect_results(graded, decoded, args, sizes, "float32")
            except CheckFailure as failure:
                raise CheckFailure(f"at a timed size: {failure}", failure.cause) from None
            remember(proxy, graded, sizes, decoded, "timed")
        seconds.append(after - before if cpu else took)
        walls.append(took)
    return seconds, walls


def _student_block(graded, proxy, shapes, rng, deadline, cpu, mark) -> tuple:
    """The student's calls, within the group's deadline; any failure retires the runner. ``mark``
    (:meth:`Session.mark`, taken when the timed calls began) tells a function that took the time
    from a machine too busy for the judge."""
    session = proxy.session
    runner = session.ensure()
    try:
        return _block(graded, proxy, runner, shapes, rng, deadline, verify=True, cpu=cpu)
    except wire.WireTimeout:  # out of time: the function's own slowness, or a machine too busy to run it?
        starved = session.starved(runner, mark)
        session.stop()
        if starved:
            raise UndecidedFailure(f"the machine was too busy to time {graded.function} ({starved}); the timing "
                                   "check is undecided: it pays nothing now and is graded again", "machine_busy") from None
        raise RunnerFailure(f"no answer within {CHECK_TIME_LIMIT_S:.0f} s while being timed", "hangs") from None
    except (wire.WireError, OSError) as error:
        session.stop()
        raise RunnerFailure(f"your notebook's process failed while being timed: {error}",
                            "runner_died" if isinstance(error, wire.WireClosed) else "protocol") from None


def _reference_block(graded, proxy, shapes, rng, cpu) -> tuple:
    """The reference's calls, with the student's runner stopped, within the reference's own
    deadline (the student's slowness can never expire it mid-conversation). Any failure retires
    the reference runner and leaves the check undecided: the grader's problem, never the student's.
    The student's side is frozen first (atomically where the kernel allows: a cgroup freezer in
    batch, ``kill(-1)`` as the runner's user on Gradescope), so nothing of it runs meanwhile."""
    session = proxy.session
    student = session.ensure()
    try:
        student.pause()
        return _block(graded, proxy, session.reference(), shapes, rng,
                      time.monotonic() + REFERENCE_BLOCK_LIMIT_S, verify=False, cpu=cpu)
    except Exception as error:  # noqa: BLE001 - whatever it is, the yardstick failed
        session.drop_reference()
        raise UndecidedFailure(f"the grader's reference failed while being timed ({type(error).__name__}: {str(error)[:120]}); "
                               "the timing check is undecided: it pays nothing now and is graded again") from None
    finally:
        student.resume()


def _starved(costs, walls) -> bool:
    """A block that mostly waited for a processor: its processor times say little; redraw."""
    return sum(walls) > STARVED_FACTOR * sum(costs) + 0.005


def measure(graded, proxy) -> tuple:
    """``(ratios, unit)``: per-round ratios student / reference, stopping once the median's side is
    decided. On the CPU, where the kernel accounts for every process of both sides, a call costs
    the processor time its side consumed; otherwise (CUDA, no cgroups) its wall time."""
    rng = fresh_rng()
    session = proxy.session
    cpu = (not session.cuda and session.ensure().cpu_time() is not None
           and session.reference().cpu_time() is not None)
    # the timed calls get the group's whole time: starting a runner (the notebook has its own limit)
    # or the reference runner (the judge's warm-up) is not the function's time
    deadline = time.monotonic() + CHECK_TIME_LIMIT_S
    mark = session.mark(session.ensure())
    ratios, needed, discarded = [], TIMING_ROUNDS // 2 + 1, 0
    unit = "processor time" if cpu else "wall time"
    limit = FUSED_SLOWDOWN_LIMIT[unit]
    for r in range(TIMING_ROUNDS + MAX_STARVED_ROUNDS):
        shapes = timed_shapes(rng)
        costs = {}
        for who in (("student", "reference") if r % 2 == 0 else ("reference", "student")):
            if who == "student":
                costs[who] = _student_block(graded, proxy, shapes, rng, deadline, cpu, mark)
            else:
                costs[who] = _reference_block(graded, proxy, shapes, rng, cpu)
        if cpu and any(_starved(*costs[who]) for who in costs):
            discarded += 1
            continue
        paired = [s / max(ref, 1e-9) for s, ref in zip(costs["student"][0], costs["reference"][0], strict=True)]
        walls = [s / max(ref, 1e-9) for s, ref in zip(costs["student"][1], costs["reference"][1], strict=True)]
        # the upper quartile of processor-time ratios: a function slow on a quarter of the calls is
        # slow; the lower quartile of wall-time ratios guards against waiting instead of computing
        ratios.append(max(_quantile(paired, 0.75), _quantile(walls, 0.25) * limit / WALL_GUARD)
                      if cpu else _quantile(paired, 0.75))
        above = sum(x > limit for x in ratios)
        if above >= needed or len(ratios) - above >= needed:
            return ratios, unit
    if len(ratios) < needed:
        raise UndecidedFailure(f"the machine was too busy to time {graded.function} ({discarded} starved rounds); "
                               "the timing check is undecided: it pays nothing now and is graded again", "machine_busy")
    return ratios, unit


def timed_shapes(rng) -> list:
    """The shapes of one block's calls, drawn in the band, the same for both sides: each call
    keeps the previous call's shape or draws a new one, at random, so that neither a run of equal
    shapes nor a change of shape tells a timed call from any other."""
    shapes = [timing_sizes(rng)]
    while len(shapes) < TIMING_CALLS:
        shapes.append(dict(shapes[-1]) if rng.random() < 0.5 else timing_sizes(rng))
    return shapes


def judge(graded, proxy) -> str:
    """Pass or raise with the measured median ratio. A fast function whose timed results torch did
    not compute (numpy, another thread or process: a round trip out of torch) fails too, whatever
    its speed: its ratio would measure untraced work, and its verdict would follow the load."""
    try:
        ratios, unit = measure(graded, proxy)
    except RunnerFailure as failure:
        raise CheckFailure(f"{graded.function} failed while being timed: {failure}", failure.cause) from None
    median, limit = _quantile(ratios, 0.5), FUSED_SLOWDOWN_LIMIT[unit]
    verdict = (f"{median:.2f}x the reference fused step ({unit}, median of {len(ratios)} rounds of "
               f"{TIMING_CALLS} calls, limit {limit}x)")
    timed = [attest for _, attest, label in proxy.session.traces.get(graded.spec.name, []) if label == "timed"]
    for attest in timed:
        refuse_own_kernels(graded, attest, " on the timed calls")
    if not timed or any(attest.get("outside") != [] for attest in timed):  # first: its speed follows the load
        raise CheckFailure(
            f"{graded.function} took {verdict}, but torch did not compute its results on the timed calls "
            "(numpy, another thread or process): a round trip out of torch is not a fused step, whatever its speed.",
            "outside_torch")
    if sum(x > limit for x in ratios) > len(ratios) // 2:
        raise CheckFailure(
            f"{graded.function} took {verdict}. Likely cause: a Python loop over rows, a host round trip "
            "(.cpu(), .numpy(), .item(), .tolist()) or extra work at every call; concatenate and multiply once.",
            "too_slow")
    return f"took {verdict}"
