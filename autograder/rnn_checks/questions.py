"""What each graded function takes and returns: shapes, inputs, references, result structure.

A :class:`Question` turns drawn sizes into inputs, checks the structure of what came back and
gives the float64 reference, so the checks in :mod:`rnn_checks.checks` are written once for all.
"""

from dataclasses import dataclass
from typing import Callable

from . import inputs, references, trusted


class CheckFailure(AssertionError):
    """A check failed; the message is written for the student."""


@dataclass(frozen=True)
class Question:
    name: str
    function: str
    argument_names: tuple
    cases: Callable            # rng -> [(label, sizes)]
    make_inputs: Callable      # (rng, sizes, dtype, device) -> tuple of tensors
    reference: Callable        # inputs -> tuple of float64 tensors
    result_names: tuple        # names of the returned tensors, e.g. ("outputs", "H_T")
    result_shapes: Callable    # sizes -> tuple of (shape, "(n, h)") per result
    mistakes: Callable = None  # inputs -> {cause: float64 tensor} for the first result

    def describe(self, sizes: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in sizes.items())

    def results(self, out, sizes) -> tuple:
        """The returned tensors as a tuple, after checking the container itself."""
        if len(self.result_names) == 1:
            return (out,)
        if trusted.type_of(out) not in (tuple, list) or len(out) != len(self.result_names):
            raise CheckFailure(
                f"{self.function} must return a tuple ({', '.join(self.result_names)}), "
                f"got {_kind(out)}. End with: return {', '.join(self.result_names)}"
            )
        return tuple(out)


def _kind(obj) -> str:
    t = trusted.type_of(obj)
    if t in (tuple, list):
        return f"a {t.__name__} of length {len(obj)}"
    return f"an object of type {t.__module__}.{t.__qualname__}"


STEP = dict(
    argument_names=("X", "W_xh", "H", "W_hh"),
    cases=inputs.step_shapes,
    make_inputs=lambda rng, s, dtype, device: inputs.step_inputs(rng, s["n"], s["d"], s["h"], dtype, device),
    reference=lambda X, W_xh, H, W_hh: (references.separate(X, W_xh, H, W_hh),),
    result_names=("the result",),
    result_shapes=lambda s: (((s["n"], s["h"]), "(n, h)"),),
    mistakes=references.likely_step_mistakes,
)

QUESTIONS = {
    "q2_separate": Question(name="q2_separate", function="hidden_state_separate", **STEP),
    "q3_fused": Question(name="q3_fused", function="hidden_state_fused", **STEP),
    "q4_rnn_forward": Question(
        name="q4_rnn_forward",
        function="rnn_forward",
        argument_names=("X", "H0", "W_xh", "W_hh", "b_h"),
        cases=inputs.sequence_shapes,
        make_inputs=lambda rng, s, dtype, device: inputs.sequence_inputs(
            rng, s["T"], s["n"], s["d"], s["h"], dtype, device),
        reference=references.rnn_forward,
        result_names=("outputs", "H_T"),
        result_shapes=lambda s: (((s["T"], s["n"], s["h"]), "(T, n, h)"), ((s["n"], s["h"]), "(n, h)")),
    ),
}
