"""q1: shapes of the two concatenations in the worked example (X (3,1), W_xh (1,4), H (3,4), W_hh (4,4)).

The runner describes each value as plain data (:func:`autograder.serving.serve.describe_value`);
only a tuple, list or ``torch.Size`` of ints comes as ``{"kind": "ints", "items": [...]}``.
"""

from .questions import CheckFailure

EXPECTED = {"shape_XH": ((3, 5), "cat((X, H), dim=1): n = 3 rows, d + h = 1 + 4 = 5 columns"),
            "shape_W": ((5, 4), "cat((W_xh, W_hh), dim=0): d + h = 5 rows, h = 4 columns")}


def _as_shape(value: dict):
    items = value.get("items")
    if value.get("kind") == "ints" and type(items) is list and all(type(v) is int for v in items):
        return tuple(items)
    return None


def check_worked_example_shapes(shape_XH: dict, shape_W: dict) -> None:
    for name, value in (("shape_XH", shape_XH), ("shape_W", shape_W)):
        expected, why = EXPECTED[name]
        got = _as_shape(value)
        if got is None:
            shown = str(value.get("repr", value.get("items")))[:100]
            raise CheckFailure(f"{name} should be a tuple of two ints such as (2, 7), got {shown} "
                               f"of type {str(value.get('type'))[:60]}.", "not_a_shape")
        if got != expected:
            swapped = got == expected[::-1]
            hint = " (rows and columns swapped?)" if swapped else ""
            raise CheckFailure(f"{name}: expected {expected} = {why}; got {got}{hint}.",
                               "rows_columns_swapped" if swapped else "wrong_shape")
