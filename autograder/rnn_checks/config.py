"""Every tunable number of the hidden tests, in one place.

Change a threshold here, run ``make dist`` and ``make test``; nothing else holds a copy.
"""

#: The fused function may be at most this many times slower than the reference fused step
#: (median of interleaved rounds). Calibrated by ``make bench-timing``: the correct solution
#: measured around 1.0x and the row loop far above 10x (README, "Timing threshold").
FUSED_SLOWDOWN_LIMIT = 3.0

#: Timing rounds: the median of ``TIMING_ROUNDS`` student/reference ratios decides; the check stops
#: as soon as more than half of the rounds fall on one side of the limit.
TIMING_ROUNDS = 11

#: Shapes of the timed step, (n, d, h): small feature sizes and many rows make a Python loop over
#: rows stand out against one matrix product while keeping one reference call well under 1 ms.
TIMING_SHAPE = (1024, 16, 32)

#: Seconds one reference measurement should take; sets the number of calls per measurement.
TIMING_TARGET_S = 0.002

#: Wall-time limit of one check group (seconds). A hanging or very slow student function fails
#: that check group only; grading goes on with the next one.
CHECK_TIME_LIMIT_S = 20.0

#: Seconds the isolated checker process may take to start (it imports torch once).
CHECKER_START_LIMIT_S = 60.0

#: Tolerances for ``torch.testing.assert_close`` against the float64 reference, by result dtype
#: (this module imports nothing, so the batch grader reads its limits without loading torch).
TOLERANCES = {
    "float32": {"rtol": 1e-5, "atol": 1e-4},
    "float64": {"rtol": 1e-9, "atol": 1e-9},
}

#: How many fresh random draws each value check makes (same shape, new values).
FRESH_DRAWS = 3

#: Ranges of the fresh shapes drawn at every run: n rows, d inputs, h hidden units, T steps.
SHAPE_RANGES = {"n": (2, 9), "d": (2, 7), "h": (2, 8), "T": (2, 6)}
