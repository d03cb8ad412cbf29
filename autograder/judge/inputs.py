"""Shapes and values drawn fresh at every run: nothing a student could hard-code.

Naming: X (n, d), H (n, h), W_xh (d, h), W_hh (h, h), b_h (h,), sequences X (T, n, d).
"""

import math
import os
import random

import torch

from .. import rules
from ..config import (
    LARGE_RANGES,
    LARGE_SEQUENCE_N,
    SHAPE_RANGES,
    SWEEP_CASES,
    SWEEP_RANGES,
    SWEEP_SEQUENCE_N,
    TIMING_BAND,
)

#: The worked example of the textbook section: X (3, 1), W_xh (1, 4), H (3, 4), W_hh (4, 4).
WORKED_EXAMPLE = {"n": 3, "d": 1, "h": 4}


def fresh_rng() -> random.Random:
    """A generator seeded from the operating system: new shapes and values every run."""
    return random.Random(int.from_bytes(os.urandom(8), "little"))


def _draw(rng: random.Random, key: str) -> int:
    low, high = SHAPE_RANGES[key]
    return rng.randint(low, high)


def step_shapes(rng: random.Random) -> list:
    """Labelled (n, d, h) cases: the worked example, a fresh one with d > 1, n = 1, h = 1, large.

    d > 1 everywhere but the worked example, so an elementwise ``X * W_xh`` cannot pass by luck;
    d, h and d + h always differ, so the contraction size tells the products apart.
    """
    def sizes(**fixed):
        while True:
            n = fixed.get("n", _draw(rng, "n"))
            d = fixed.get("d", _draw(rng, "d"))
            h = fixed.get("h", _draw(rng, "h"))
            if d != h:
                return {"n": n, "d": d, "h": h}

    return [
        ("the worked example", dict(WORKED_EXAMPLE)),
        ("fresh shapes", sizes()),
        ("a single row (n = 1)", sizes(n=1)),
        ("a single hidden unit (h = 1)", sizes(h=1)),
        ("large inputs", large_sizes(rng, LARGE_RANGES["n"])),
    ]


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _is_prime(k: int) -> bool:
    return k > 1 and all(k % p for p in range(2, math.isqrt(k) + 1))


def _prime_at_or_below(k: int) -> int:
    while not _is_prime(k):
        k -= 1
    return k


def large_sizes(rng: random.Random, n_range) -> dict:
    """(n, d, h) of the large case: n log-uniform in ``n_range``, d and h in ``LARGE_RANGES``, d != h.

    n, d and h are primes, so code that works in blocks of any size and drops (or zeroes) the last,
    partial block always meets a partial block here, whichever block size it chose.
    """
    while True:
        d = _prime_at_or_below(rng.randint(*LARGE_RANGES["d"]))
        h = _prime_at_or_below(rng.randint(*LARGE_RANGES["h"]))
        if d != h:
            return {"n": _prime_at_or_below(_log_uniform(rng, *n_range)), "d": d, "h": h}


def sequence_shapes(rng: random.Random) -> list:
    """Labelled (T, n, d, h) cases for the RNN forward pass."""
    cases = []
    for label, s in step_shapes(rng):
        if label == "large inputs":
            s = dict(large_sizes(rng, LARGE_SEQUENCE_N), T=rng.randint(*LARGE_RANGES["T"]))
        cases.append((label, dict(s, T=s.get("T", _draw(rng, "T")))))
    return cases


def step_sweep(rng: random.Random) -> list:
    """``SWEEP_CASES`` (n, d, h) drawn log-uniformly across ``SWEEP_RANGES``, d != h."""
    sizes = []
    while len(sizes) < SWEEP_CASES:
        s = {k: _log_uniform(rng, *SWEEP_RANGES[k]) for k in ("n", "d", "h")}
        if s["d"] != s["h"]:
            sizes.append(s)
    return sizes


def sequence_sweep(rng: random.Random) -> list:
    """``SWEEP_CASES`` (T, n, d, h) for the RNN forward pass, n within ``SWEEP_SEQUENCE_N``."""
    return [dict(s, n=_log_uniform(rng, *SWEEP_SEQUENCE_N), T=_log_uniform(rng, *SWEEP_RANGES["T"]))
            for s in step_sweep(rng)]


def _generator(rng: random.Random) -> torch.Generator:
    """A torch generator seeded from ``rng``: the values of one call's inputs."""
    g = torch.Generator()
    g.manual_seed(rng.getrandbits(62))
    return g


def step_inputs(rng, n, d, h, dtype, device="cpu"):
    """:func:`autograder.rules.step_inputs` drawn from ``rng``: X (n, d), W_xh (d, h), H (n, h), W_hh (h, h)."""
    return rules.step_inputs(_generator(rng), n, d, h, dtype, device)


def sequence_inputs(rng, T, n, d, h, dtype, device="cpu"):
    """:func:`autograder.rules.sequence_inputs` drawn from ``rng`` (weights scaled by 1/sqrt(fan-in))."""
    return rules.sequence_inputs(_generator(rng), T, n, d, h, dtype, device)


def timing_sizes(rng: random.Random) -> dict:
    """(n, d, h) for one timing round, drawn in ``TIMING_BAND`` (n log-uniformly)."""
    return {"n": _log_uniform(rng, *TIMING_BAND["n"]), "d": rng.randint(*TIMING_BAND["d"]),
            "h": rng.randint(*TIMING_BAND["h"])}
