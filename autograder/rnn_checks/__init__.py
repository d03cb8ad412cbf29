"""Hidden-test helpers of the RNN hidden-state assignment.

The hidden tests in the master notebook call :func:`check` (function questions) and
:func:`check_shapes` (q1). Checks run in an isolated process (:mod:`rnn_checks.isolation`); this
package needs torch and cloudpickle only, so it also runs on a GPU machine without Otter.
"""

__all__ = ["check", "check_shapes"]


def check(question: str, group: str, func) -> str:
    """Run one hidden check group on ``func``; raise ``AssertionError`` with the student message."""
    from .isolation import checker
    result = checker().run(question, group, func)
    if not result["passed"]:
        raise AssertionError(result["message"])
    return result["message"]


def check_shapes(shape_XH, shape_W) -> None:
    """q1: the shapes of cat((X, H), 1) and cat((W_xh, W_hh), 0) in the worked example."""
    from .shapes import check_worked_example_shapes
    check_worked_example_shapes(shape_XH, shape_W)
