"""What each graded function takes and returns, for the judge: inputs, shapes, references.

Built on :mod:`autograder.spec` (names and groups); this adds what needs torch.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import rules, spec
from . import inputs


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student, ``cause`` is a short stable code of
    the likely cause (:data:`autograder.judge.causes.CAUSES`) that the class report counts."""

    def __init__(self, message: str = "", cause: str = "wrong_answer"):
        super().__init__(message)
        self.cause = cause


class UndecidedFailure(CheckFailure):
    """The grader could not decide a check (its own reference failed, overload): no points, and
    the submission is graded again; the message says so and never blames the student."""

    def __init__(self, message: str = "", cause: str = "grader_undecided"):
        super().__init__(message, cause)


@dataclass(frozen=True)
class Graded:
    spec: spec.Question
    cases: Callable            # rng -> [(label, sizes)]
    sweep: Callable            # rng -> [sizes] across the whole input space (the values group)
    make_inputs: Callable      # (rng, sizes, dtype) -> tuple of CPU tensors
    reference: Callable        # (inputs, dtype=float64) -> tuple of tensors computed in dtype
    result_shapes: Callable    # sizes -> tuple of (shape, "(n, h)") per result
    mistakes: Callable = None  # inputs -> [(cause code, likely cause, float64 tensor)] for the first result

    @property
    def function(self) -> str:
        return self.spec.function

    @staticmethod
    def describe(sizes: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in sizes.items())


#: What a question of each ``spec.Question.family`` is called with and compared against.
FAMILIES = {
    "step": dict(  # f(X (n, d), W_xh (d, h), H (n, h), W_hh (h, h)) -> (n, h)
        cases=inputs.step_shapes,
        sweep=inputs.step_sweep,
        make_inputs=lambda rng, s, dtype: inputs.step_inputs(rng, s["n"], s["d"], s["h"], dtype),
        reference=lambda X, W_xh, H, W_hh, dtype=torch.float64: (rules.reference_step(X, W_xh, H, W_hh, dtype),),
        result_shapes=lambda s: (((s["n"], s["h"]), "(n, h)"),),
        mistakes=rules.likely_step_mistakes,
    ),
    "sequence": dict(  # f(X (T, n, d), H0 (n, h), W_xh, W_hh, b_h (h,)) -> ((T, n, h), (n, h))
        cases=inputs.sequence_shapes,
        sweep=inputs.sequence_sweep,
        make_inputs=lambda rng, s, dtype: inputs.sequence_inputs(rng, s["T"], s["n"], s["d"], s["h"], dtype),
        reference=rules.reference_rnn,
        result_shapes=lambda s: (((s["T"], s["n"], s["h"]), "(T, n, h)"), ((s["n"], s["h"]), "(n, h)")),
        mistakes=rules.likely_sequence_mistakes,
    ),
}

GRADED = {q.name: Graded(spec=q, **FAMILIES[q.family]) for q in spec.QUESTIONS.values() if q.function}
