"""Every tunable number of the hidden checks and of grading, in one place.

Change a number here, run ``make dist`` and ``make test``; nothing else holds a copy. This module
imports nothing, so every part of the grader (judge, runner, batch) reads it without torch.
The numbers that decide whether a value is right (``TOLERANCES``, ``FLOAT32_ERROR_MARGIN``,
``FLOAT32_MAX_GAP``) live with the rule that uses them in :mod:`autograder.rules`, which the
public checks in the student notebook share.
"""

#: The fused function may be at most this many times slower than the reference fused step, by
#: what the judge measures: the processor time every process of each side consumed (batch, where
#: the judge makes a cgroup per sandbox), or the wall time of each call seen from outside the
#: runners, round trip included (Gradescope, ``--unsafe``, CUDA). A round's ratio is the upper
#: quartile of its paired per-call ratios; the verdict is the median of rounds. Where processor
#: time is compared, a round also fails when the lower quartile of its wall-time ratios exceeds
#: ``WALL_GUARD`` (a function that sleeps or waits on another process costs little processor time).
#: Every call is traced on both sides, which makes a Python loop's many operators costly.
#: Calibrated by ``make bench-timing`` (docs/figures.md, "Timing threshold"): the processor-time limit sits
#: well above a loop over the h columns (8x idle, 3x with every core oversubscribed, where memory
#: contention inflates the one product more than interpreted loops), so that loop's verdict never
#: depends on the load: it always fails ``fused`` (h products), and row loops always fail here.
FUSED_SLOWDOWN_LIMIT = {"processor time": 15.0, "wall time": 25.0}
WALL_GUARD = 10.0

#: Timing rounds: the median of up to ``TIMING_ROUNDS`` student/reference ratios decides; the check
#: stops as soon as more than half of the rounds fall on one side of the limit.
TIMING_ROUNDS = 9

#: A timing block whose wall time exceeds this many times the processor time its side consumed
#: waited mostly for a processor: the round is discarded and redrawn, at most
#: ``MAX_STARVED_ROUNDS`` times; a verdict that cannot be reached is undecided, never a failure.
STARVED_FACTOR = 40.0
MAX_STARVED_ROUNDS = 9
#: A check that runs out of its group's time while its runner's processes waited on a run queue
#: for more than ``QUEUED_SHARE`` of that time, and (where the kernel accounts for the whole side)
#: all its processes together got less than ``STARVED_SHARE`` of a processor, was starved by the
#: machine, not slow: undecided (graded again), never a failure. A function that sleeps waits on
#: no queue; a loop, or processes of its own crowding its core, use the processor it got.
QUEUED_SHARE = 0.5
STARVED_SHARE = 0.35
#: A check that runs out of its group's time while the judge waited on the function's answers for
#: less than ``ANSWER_SHARE`` of that time spent the rest on its own work (references, checking
#: results, the reference's timed calls): a machine too busy for the judge, undecided, never a failure.
ANSWER_SHARE = 0.5

#: Calls of each function per timing round (fresh inputs for every call).
TIMING_CALLS = 15

#: The band the timed shapes are drawn from at every round, (low, high) for n, d and h: many rows
#: and small feature sizes make a Python loop over rows stand out against one matrix product. n is
#: drawn log-uniformly, so most rounds fall well below the top: a function that switches to one
#: product only above some n still loses most rounds.
TIMING_BAND = {"n": (128, 1536), "d": (8, 24), "h": (16, 40)}

#: Wall-time limit of one check group (seconds). A hanging or very slow student function fails
#: that check group only; grading goes on with the next one.
CHECK_TIME_LIMIT_S = 20.0

#: A check group's limit is the function's time, not the machine's: while its processes wait on a
#: run queue for a processor that other processes hold, its deadline moves on by that time, up to
#: this much wall time in all (beyond it, a check the machine kept starving is undecided, never a
#: failure). A correct loop on a busy machine once lost its values group as "hangs".
CHECK_WALL_CAP_S = 3 * CHECK_TIME_LIMIT_S

#: Wall-time limit of one block of reference calls in the timing check (seconds), apart from the
#: group's limit: a slow student can never expire the reference's deadline mid-conversation.
REFERENCE_BLOCK_LIMIT_S = 10.0

#: Seconds one call of a student's function may take in the public checks (the notebook's own
#: kernel) before they give up on it; ``make dist`` writes it into the "Checks" cell.
PUBLIC_CALL_LIMIT_S = 10

#: Seconds a runner may take to start and to run the submission's notebook top to bottom.
NOTEBOOK_TIME_LIMIT_S = 120.0

#: How many fresh random draws each value check makes (same shape, new values).
FRESH_DRAWS = 3
#: The values group also calls the function once per dtype on ``SWEEP_CASES`` sizes drawn
#: log-uniformly across the whole space (n 1-2048, d 2-100, h 1-100; for sequences n 1-512 and
#: T 1-40), so code wrong only on some band of sizes between the small and the large case meets
#: it: a bug for 20 <= n <= 120 (red team, round 13) escapes 32 such calls with probability 2e-4.
SWEEP_CASES = 16
SWEEP_RANGES = {"n": (1, 2048), "d": (2, 100), "h": (1, 100), "T": (1, 40)}
SWEEP_SEQUENCE_N = (1, 512)

#: Ranges of the fresh shapes drawn at every run: n rows, d inputs, h hidden units, T steps.
SHAPE_RANGES = {"n": (2, 9), "d": (2, 7), "h": (2, 8), "T": (2, 6)}

#: Ranges of the large case every value check adds (n log-uniformly), so that code right only on
#: small shapes (chunking that drops a tail, a loop cut short, a branch on the size) fails. The
#: sequence family draws n from ``LARGE_SEQUENCE_N`` to keep X (T, n, d) within a message. n, d and h
#: are then rounded down to a prime (``inputs.large_sizes``), so any block size leaves a partial block.
LARGE_RANGES = {"n": (128, 2048), "d": (8, 100), "h": (16, 100), "T": (8, 40)}  # covers TIMING_BAND
LARGE_SEQUENCE_N = (32, 512)

#: Limits of one runner: memory (address space) in MB, bytes it may write to one file, processes.
RUNNER_MEMORY_MB = 6000
RUNNER_FILE_MB = 64
RUNNER_MAX_PROCESSES = 64

#: What the judge accepts from a runner: header bytes, tensor bytes per message, log bytes kept.
MAX_HEADER_BYTES = 1 << 18
MAX_MESSAGE_BYTES = 64 << 20
MAX_LOG_BYTES = 2 << 20
