"""What the reference runner serves: the reference fused step under each timed name.

The references themselves (float64, on the judge's own inputs) and the named likely mistakes are
shared with the public checks: :mod:`autograder.rules`.
"""

from ..rules import reference_fused_step


def timed_functions() -> dict:
    """What the reference runner serves: the reference fused step under each timed name."""
    from ..spec import TIMED
    return {name: reference_fused_step for name in TIMED}
