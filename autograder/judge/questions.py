"""What each graded function takes and returns, for the judge: inputs, shapes, references.

Built on :mod:`autograder.spec` (names and groups); this adds what needs torch.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .. import spec
from . import inputs, references


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student."""


@dataclass(frozen=True)
class Graded:
    spec: spec.Question
    cases: Callable            # rng -> [(label, sizes)]
    make_inputs: Callable      # (rng, sizes, dtype) -> tuple of CPU tensors
    reference: Callable        # inputs -> tuple of float64 tensors
    result_shapes: Callable    # sizes -> tuple of (shape, "(n, h)") per result
    mistakes: Callable = None  # inputs -> {cause: float64 tensor} for the first result

    @property
    def function(self) -> str:
        return self.spec.function

    @staticmethod
    def describe(sizes: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _step(name):
    return Graded(
        spec=spec.QUESTIONS[name],
        cases=inputs.step_shapes,
        make_inputs=lambda rng, s, dtype: inputs.step_inputs(rng, s["n"], s["d"], s["h"], dtype),
        reference=lambda X, W_xh, H, W_hh: (references.separate(X, W_xh, H, W_hh),),
        result_shapes=lambda s: (((s["n"], s["h"]), "(n, h)"),),
        mistakes=references.likely_step_mistakes,
    )


GRADED = {
    "q2_separate": _step("q2_separate"),
    "q3_fused": _step("q3_fused"),
    "q4_rnn_forward": Graded(
        spec=spec.QUESTIONS["q4_rnn_forward"],
        cases=inputs.sequence_shapes,
        make_inputs=lambda rng, s, dtype: inputs.sequence_inputs(rng, s["T"], s["n"], s["d"], s["h"], dtype),
        reference=references.rnn_forward,
        result_shapes=lambda s: (((s["T"], s["n"], s["h"]), "(T, n, h)"), ((s["n"], s["h"]), "(n, h)")),
    ),
}
