"""q1: shapes of the two concatenations in the worked example (X (3,1), W_xh (1,4), H (3,4), W_hh (4,4))."""

EXPECTED = {"shape_XH": ((3, 5), "cat((X, H), dim=1): n = 3 rows, d + h = 1 + 4 = 5 columns"),
            "shape_W": ((5, 4), "cat((W_xh, W_hh), dim=0): d + h = 5 rows, h = 4 columns")}


def _as_shape(value):
    """A tuple of plain ints from a tuple, list or torch.Size of ints, else None."""
    if type(value).__name__ == "Size" or type(value) in (tuple, list):
        items = tuple(value)
        if all(type(v) is int for v in items):
            return items
    return None


def check_worked_example_shapes(shape_XH, shape_W) -> None:
    for name, value in (("shape_XH", shape_XH), ("shape_W", shape_W)):
        expected, why = EXPECTED[name]
        got = _as_shape(value)
        if got is None:
            raise AssertionError(f"{name} should be a tuple of two ints such as (2, 7), got {value!r} of type {type(value).__name__}.")
        if got != expected:
            hint = " (rows and columns swapped?)" if got == expected[::-1] else ""
            raise AssertionError(f"{name}: expected {expected} = {why}; got {got}{hint}.")
