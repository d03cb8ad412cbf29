"""The rules the judge and the public checks share: what counts as right, how inputs are drawn,
the float64 references and the named likely mistakes (what counts as a matrix product is in
:mod:`autograder.operators`, which the runner's trace reads too: runners never see this module).

One source for both sides, so a public verdict cannot drift from the hidden one: the judge
(its verify, inputs and questions modules) imports it, and
``make dist`` writes its source at the top of the student notebook's "Checks" cell, ahead of
the public checks (autograder/public_checks.py). So it imports
nothing from ``autograder``: torch and the standard library only. Nothing in it is secret (the
student notebook holds all of it). The judge wraps these pure rules in its own exceptions.

Naming: X (n, d), H (n, h), W_xh (d, h), W_hh (h, h), b_h (h,), sequences X (T, n, d).
"""

import math

import torch

# --- what counts as right -----------------------------------------------------------------

#: Tolerances for ``torch.testing.assert_close`` against the float64 reference, by result dtype.
TOLERANCES = {
    "float32": {"rtol": 1e-5, "atol": 1e-4},
    "float64": {"rtol": 1e-9, "atol": 1e-9},
}

#: float32 results are compared with an absolute tolerance of at least this many times the
#: largest gap between the reference computed in float32 and in float64 on the same inputs:
#: correct float32 code never fails on large shapes, and the base tolerance still holds on small.
FLOAT32_ERROR_MARGIN = 10.0
#: a float32 reference further than this from float64 means ill-conditioned inputs: no tolerance
#: tells right from wrong there (the judge calls the check undecided)
FLOAT32_MAX_GAP = 1e-3


class IllConditioned(ValueError):
    """The float32 reference is off by more than ``FLOAT32_MAX_GAP`` on these inputs."""

    def __init__(self, gap: float):
        super().__init__(f"the float32 reference itself is off by {gap:.2g} on these inputs")
        self.gap = gap


def tolerance(dtype, reference=None, reference32=None) -> dict:
    """``{"rtol", "atol"}`` for a result of ``dtype`` (``torch.float32`` or "float32"), widened for
    float32 to ``FLOAT32_ERROR_MARGIN`` times the largest gap between ``reference32`` (the
    reference computed in float32) and the float64 ``reference``: large shapes accumulate more.
    Raises :class:`IllConditioned` when that gap exceeds ``FLOAT32_MAX_GAP``."""
    tol = dict(TOLERANCES[str(dtype).removeprefix("torch.")])
    if reference32 is not None:
        gap = (reference32.to(torch.float64) - reference).abs().max().item() if reference.numel() else 0.0
        if not gap <= FLOAT32_MAX_GAP:
            raise IllConditioned(gap)
        tol["atol"] = max(tol["atol"], float(f"{FLOAT32_ERROR_MARGIN * gap:.2g}"))
    return tol


def mismatch(got, reference, tol: dict, mistakes=None):
    """``None`` when the float64 tensor ``got`` equals ``reference`` within ``tol``; else
    ``(detail, cause code, likely cause or None)``: ``detail`` is the first lines of
    ``assert_close``'s report; the cause is the first of ``mistakes()`` (a callable returning
    ``[(cause code, likely cause, float64 tensor)]``, called only on a mismatch) that ``got``
    equals within ``tol``, else ``("wrong_answer", None)``."""
    if got.shape == reference.shape and _within(got, reference, tol):
        return None  # assert_close's own criterion, in a fifth of its time: it words the mismatches only
    try:
        torch.testing.assert_close(got, reference, **tol)
        return None
    except AssertionError as error:
        detail = "\n".join(line for line in str(error).splitlines()[:4] if line.strip())
    for code, words, wrong in (mistakes() if mistakes else ()):
        try:
            if torch.allclose(got, wrong, **tol):
                return detail, code, words
        except RuntimeError:  # a named mistake of another shape cannot be this answer
            continue
    return detail, "wrong_answer", None


def _within(got, reference, tol: dict) -> bool:
    """Every element of the float64 ``got`` within ``atol + rtol * |reference|`` of ``reference``
    (``torch.isclose``'s test; a NaN or an infinity is never within)."""
    gap = (got - reference).abs_()
    return bool(gap.le_(reference.abs().mul_(tol["rtol"]).add_(tol["atol"])).all())


# --- inputs -----------------------------------------------------------------------------------

def normal(g: torch.Generator, shapes, dtype, device="cpu") -> tuple:
    """Standard normal tensors of the given shapes, drawn from ``g`` in ``dtype`` (float32 draws
    cost a fifth of float64 ones), on ``device``."""
    return tuple(torch.randn(*shape, generator=g, dtype=dtype).to(device=device) for shape in shapes)


def step_inputs(g: torch.Generator, n, d, h, dtype, device="cpu") -> tuple:
    """(X (n, d), W_xh (d, h), H (n, h), W_hh (h, h)) with standard normal entries."""
    return normal(g, ((n, d), (d, h), (n, h), (h, h)), dtype, device)


def sequence_inputs(g: torch.Generator, T, n, d, h, dtype, device="cpu") -> tuple:
    """(X (T, n, d), H0 (n, h), W_xh (d, h), W_hh (h, h), b_h (h,)) for ``rnn_forward``.

    The weights are scaled by 1/sqrt(fan-in), as an RNN is initialised: with standard normal
    weights the recurrence is chaotic (over 40 steps float64 round-off alone grows to 1e-2), and
    no tolerance could tell a right answer from a wrong one."""
    X, H0, W_xh, W_hh, b_h = normal(g, ((T, n, d), (n, h), (d, h), (h, h), (h,)), dtype)
    scaled = (X, H0, W_xh / math.sqrt(d), W_hh / math.sqrt(h), b_h)
    return tuple(t.to(device=device) for t in scaled)


# --- references -------------------------------------------------------------------------------

def _on_cpu(*tensors, dtype=torch.float64):
    return tuple(t.detach().to(device="cpu", dtype=dtype) for t in tensors)


def reference_step(X, W_xh, H, W_hh, dtype=torch.float64):
    """(n, d) @ (d, h) + (n, h) @ (h, h) -> (n, h), on the CPU in float64 (or ``dtype``)."""
    X, W_xh, H, W_hh = _on_cpu(X, W_xh, H, W_hh, dtype=dtype)
    two_products = X @ W_xh + H @ W_hh  # not q2's solution line: the student notebook holds this source
    return two_products


def reference_fused_step(X, W_xh, H, W_hh):
    """cat((X, H), 1) (n, d+h) @ cat((W_xh, W_hh), 0) (d+h, h) -> (n, h), in the inputs' dtype
    and on their device: the timing yardstick, the same work as a correct answer."""
    return torch.mm(torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0))


def reference_rnn(X, H0, W_xh, W_hh, b_h, dtype=torch.float64):
    """``torch.nn.RNN`` (tanh, one layer, time-major) with copied weights, on the CPU in float64
    (or ``dtype``): X (T, n, d), H0 (n, h) -> outputs (T, n, h), H_T (n, h)."""
    X, H0, W_xh, W_hh, b_h = _on_cpu(X, H0, W_xh, W_hh, b_h, dtype=dtype)
    d, h = W_xh.shape
    rnn = torch.nn.RNN(d, h, nonlinearity="tanh", batch_first=False).to(dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(W_xh.T)
        rnn.weight_hh_l0.copy_(W_hh.T)
        rnn.bias_ih_l0.copy_(b_h)
        rnn.bias_hh_l0.zero_()
        outputs, h_n = rnn(X, H0.unsqueeze(0))
    return outputs, h_n[0]


# --- named likely mistakes: (cause code, likely cause) ------------------------------------------

def likely_step_mistakes(X, W_xh, H, W_hh) -> list:
    """Named wrong answers of shape (n, h), used only to word a failure message:
    ``[(cause code, likely cause, float64 tensor)]``."""
    X, W_xh, H, W_hh = _on_cpu(X, W_xh, H, W_hh)
    return [
        ("transposed_weight", "W_hh is transposed (H @ W_hh.T)", X @ W_xh + H @ W_hh.T),
        ("missing_term", "the X @ W_xh term is missing", H @ W_hh),
        ("missing_term", "the H @ W_hh term is missing", X @ W_xh),
        ("wrong_order", "X and H concatenated in the wrong order: cat((H, X), 1) against cat((W_xh, W_hh), 0); "
                        "X goes first in both", torch.cat((H, X), 1) @ torch.cat((W_xh, W_hh), 0)),
    ]


def likely_sequence_mistakes(X, H0, W_xh, W_hh, b_h) -> list:
    """Named wrong outputs (T, n, h) of an RNN forward pass, used only to word a failure message:
    ``[(cause code, likely cause, float64 tensor)]``."""
    X, H0, W_xh, W_hh, b_h = _on_cpu(X, H0, W_xh, W_hh, b_h)

    def forward(activation, bias):
        H, outs = H0, []
        for X_t in X:
            H = activation(X_t @ W_xh + H @ W_hh + bias)
            outs.append(H)
        return torch.stack(outs) if outs else X.new_zeros((0, *H0.shape))

    return [
        ("missing_tanh", "no tanh: H_t = tanh(cat((X_t, H), 1) @ W + b_h)", forward(lambda z: z, b_h)),
        ("missing_bias", "the bias b_h is missing: H_t = tanh(cat((X_t, H), 1) @ W + b_h)",
         forward(torch.tanh, torch.zeros_like(b_h))),
    ]


#: (words in the error a call raised, cause code, likely cause), the first match wins
RAISED_CAUSES = (
    ("must match the size of tensor", "elementwise_product", "an elementwise * where a matrix product (@) is needed, or tensors that do not line up"),
    ("cannot be multiplied", "wrong_axis", "a transposed weight or the wrong concatenation axis: (n, d+h) @ (d+h, h) needs X and H joined along dim 1 and W_xh, W_hh along dim 0"),
    ("size mismatch", "wrong_axis", "a transposed weight or the wrong concatenation axis"),
    ("Sizes of tensors must match", "wrong_axis", "the wrong concatenation axis: X (n, d) and H (n, h) join along dim 1; W_xh (d, h) and W_hh (h, h) along dim 0"),
    ("meta", "off_device", "a tensor moved off the inputs' device (.cpu(), .numpy(), torch.tensor(...)) or created without device="),
    ("Expected all tensors to be on the same device", "off_device", "a tensor created without device=...: use the inputs' device (X.device) or *_like functions"),
    ("numpy", "numpy_roundtrip", "a round trip through numpy: stay in torch"),
    ("synchroniz", "host_sync", "a host synchronization in the fused step (.item(), .cpu(), .tolist(), printing a tensor): keep everything on the GPU"),
)


def raised_cause(error: str) -> tuple:
    """``(cause code, likely cause or None)`` of a call that raised ``error`` (its text)."""
    return next(((code, words) for key, code, words in RAISED_CAUSES if key in error), ("raised", None))


def shape_cause(got, n, d, h) -> tuple:
    """``(cause code, likely cause)`` of a result of shape ``got`` where (..., n, h) was expected."""
    got = tuple(got)
    if got[-2:] == (n, d + h):
        return "concat_not_multiplied", "That is the shape of cat((X, H), 1): multiply it by the concatenated weights."
    if got[-2:] in ((d + h, h), (n + d, h)):
        return "wrong_axis", "Concatenate X and H along dim 1 (columns), the weights along dim 0 (rows)."
    return "wrong_shape", "X @ W_xh is (n, d) @ (d, h) -> (n, h); H @ W_hh is (n, h) @ (h, h) -> (n, h)."
