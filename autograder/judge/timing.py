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
from ..config import CHECK_TIME_LIMIT_S, FUSED_SLOWDOWN_LIMIT, REFERENCE_BLOCK_LIMIT_S, TIMING_CALLS, TIMING_ROUNDS
from . import replies
from .inputs import fresh_rng, step_inputs, timing_sizes
from .questions import CheckFailure, UndecidedFailure
from .runners import RunnerFailure


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def _quartile(values):
    """The lower quartile of a block's call times: a call the scheduler interrupted only ever
    gets slower, so the low end is what the function itself costs."""
    values = sorted(values)
    return values[len(values) // 4]


def _block(graded, proxy, runner, sizes, rng, deadline, verify) -> list:
    """Seconds of ``TIMING_CALLS`` calls on ``runner``, each on fresh inputs; raises
    ``wire.WireError`` (timeout, broken protocol) or CheckFailure (a wrong timed result)."""
    from .checks import call_error, expect_results, remember
    seconds = []
    for _ in range(TIMING_CALLS):
        args = step_inputs(rng, sizes["n"], sizes["d"], sizes["h"], torch.float32)
        header, blobs = proxy.encode(args, "cuda" if proxy.session.cuda else "cpu", check_inputs=False,
                                     forbid_sync=False)  # the same request as any other call
        left = deadline - time.monotonic()
        if left <= 0:
            raise wire.WireTimeout("the timed calls ran out of time")
        reply, reply_blobs, took = runner.channel.timed_request(header, blobs, left)
        if verify:
            decoded = replies.call_reply(reply, reply_blobs)
            if not decoded.ok:
                raise call_error(graded, decoded)
            try:
                expect_results(graded, decoded, args, sizes, "float32")
            except CheckFailure as failure:
                raise CheckFailure(f"at a timed size: {failure}") from None
            remember(proxy, graded, sizes, decoded, "timed")
        seconds.append(took)
    return seconds


def _student_block(graded, proxy, sizes, rng, deadline) -> list:
    """The student's calls, within the group's deadline; any failure retires the runner."""
    session = proxy.session
    try:
        return _block(graded, proxy, session.ensure(), sizes, rng, deadline, verify=True)
    except wire.WireTimeout:
        session.stop()
        raise RunnerFailure(f"no answer within {CHECK_TIME_LIMIT_S:.0f} s while being timed") from None
    except (wire.WireError, OSError) as error:
        session.stop()
        raise RunnerFailure(f"the runner failed while being timed: {error}") from None


def _reference_block(graded, proxy, sizes, rng) -> list:
    """The reference's calls, with the student's runner stopped, within the reference's own
    deadline (the student's slowness can never expire it mid-conversation). Any failure retires
    the reference runner and leaves the check undecided: the grader's problem, never the student's."""
    session = proxy.session
    student = session.ensure()
    try:
        student.pause()
        return _block(graded, proxy, session.reference(), sizes, rng,
                      time.monotonic() + REFERENCE_BLOCK_LIMIT_S, verify=False)
    except Exception as error:  # noqa: BLE001 - whatever it is, the yardstick failed
        session.drop_reference()
        raise UndecidedFailure(f"the grader's reference failed while being timed ({type(error).__name__}); "
                               "the timing check is undecided: it pays nothing now and is graded again") from None
    finally:
        student.resume()


def measure(graded, proxy) -> list:
    """Per-round ratios student / reference, stopping once the median's side is decided."""
    rng = fresh_rng()
    deadline = time.monotonic() + CHECK_TIME_LIMIT_S
    ratios, needed = [], TIMING_ROUNDS // 2 + 1
    for r in range(TIMING_ROUNDS):
        sizes = timing_sizes(rng)
        times = {}
        for who in (("student", "reference") if r % 2 == 0 else ("reference", "student")):
            if who == "student":
                times[who] = _student_block(graded, proxy, sizes, rng, deadline)
            else:
                times[who] = _reference_block(graded, proxy, sizes, rng)
        ratios.append(_quartile(times["student"]) / max(_quartile(times["reference"]), 1e-9))
        above = sum(x > FUSED_SLOWDOWN_LIMIT for x in ratios)
        if above >= needed or len(ratios) - above >= needed:
            break
    return ratios


def judge(graded, proxy) -> str:
    """Pass or raise with the measured median ratio."""
    try:
        ratios = measure(graded, proxy)
    except RunnerFailure as failure:
        raise CheckFailure(f"{graded.function} failed while being timed: {failure}") from None
    median = _median(ratios)
    verdict = (f"{median:.2f}x the reference fused step (median of {len(ratios)} rounds of {TIMING_CALLS} calls, "
               f"limit {FUSED_SLOWDOWN_LIMIT}x)")
    if sum(x > FUSED_SLOWDOWN_LIMIT for x in ratios) > len(ratios) // 2:
        raise CheckFailure(
            f"{graded.function} took {verdict}. Likely cause: a Python loop over rows, a host round trip "
            "(.cpu(), .numpy(), .item(), .tolist()) or extra work at every call; concatenate and multiply once.")
    return f"took {verdict}"
