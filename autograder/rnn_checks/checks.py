"""The hidden checks, grouped; each group is one Otter test case and fails with one message.

Groups: ``values`` (shapes, dtypes, float64 reference, fresh draws), ``inputs`` (nothing modified in
place), ``devices`` (``meta`` always, CUDA where present), ``fused`` (operator trace) and ``timing``.
Rules kept everywhere: the reference is computed after the student's call; every call is followed
by a tamper check; messages say what was expected, what came back and the likely cause.
"""

from . import integrity, trace, timing, trusted
from .config import FRESH_DRAWS, TOLERANCES
from .inputs import fresh_rng, meta_like
from .questions import QUESTIONS, CheckFailure

_SNAPSHOT = integrity.snapshot()

#: True while the q3 device check runs on CUDA: the fused step must not synchronize with the host.
_FORBID_SYNC = False


def _set_sync_debug_mode(mode) -> None:
    import torch
    import warnings
    with warnings.catch_warnings():  # "prototype feature" warning, once per call otherwise
        warnings.simplefilter("ignore")
        torch.cuda.set_sync_debug_mode(mode)


#: False while warming up in the checker process: CUDA must first be used in a forked child.
_USE_CUDA = True

_EXCEPTION_HINTS = (
    ("must match the size of tensor", "an elementwise * where a matrix product (@) is needed, or tensors that do not line up"),
    ("cannot be multiplied", "a transposed weight or the wrong concatenation axis: (n, d+h) @ (d+h, h) needs X and H joined along dim 1 and W_xh, W_hh along dim 0"),
    ("size mismatch", "a transposed weight or the wrong concatenation axis"),
    ("Sizes of tensors must match", "the wrong concatenation axis: X (n, d) and H (n, h) join along dim 1; W_xh (d, h) and W_hh (h, h) along dim 0"),
    ("meta", "a tensor moved off the inputs' device (.cpu(), .numpy(), torch.tensor(...)) or created without device="),
    ("Expected all tensors to be on the same device", "a tensor created without device=...: use the inputs' device (X.device) or *_like functions"),
    ("numpy", "a round trip through numpy: stay in torch"),
    ("synchronizing CUDA operation", "a host synchronization in the fused step (.item(), .cpu(), .tolist(), printing a tensor): keep everything on the GPU"),
)


def call(question, func, args):
    """``func(*args)``; an exception or a replaced library function becomes a CheckFailure.

    While ``_FORBID_SYNC`` is set (q3 on CUDA), a host synchronization inside the call raises.
    """
    try:
        if _FORBID_SYNC:
            _set_sync_debug_mode("error")
        try:
            out = func(*args)
        finally:
            if _FORBID_SYNC:
                _set_sync_debug_mode(0)
    except BaseException as error:  # SystemExit and KeyboardInterrupt from student code included
        text = f"{trusted.type_of(error).__name__}: {error}"
        hint = next((h for key, h in _EXCEPTION_HINTS if key in text), None)
        raise CheckFailure(
            f"{question.function} raised {text[:400]}"
            + (f"\nLikely cause: {hint}." if hint else "")
        ) from None
    tampered = integrity.replaced(_SNAPSHOT)
    if tampered:
        raise CheckFailure(
            f"{question.function} replaced library functions ({', '.join(tampered[:5])}). "
            "The grader keeps its own copies, so this changes nothing except that this check earns no points."
        )
    return out


def expect_tensor(question, value, name, shape, shape_label, dtype, device, sizes):
    """A plain ``torch.Tensor`` of the expected shape, dtype and device type."""
    kind = trusted.type_of(value)
    where = f"{name} of {question.function} ({question.describe(sizes)})"
    if kind is not trusted.Tensor:
        if trusted.isinstance_(value, trusted.Tensor):
            raise CheckFailure(f"{where} is a subclass of torch.Tensor ({kind.__qualname__}); return a plain torch.Tensor.")
        if kind.__module__ == "numpy":
            raise CheckFailure(f"{where} is a numpy {kind.__name__}; return a torch.Tensor: keep the computation in torch (no .numpy()).")
        raise CheckFailure(f"{where} should be a torch.Tensor, got {kind.__module__}.{kind.__qualname__}.")
    if value.device.type != device:
        raise CheckFailure(f"{where} is on device '{value.device}', expected the inputs' device '{device}'; "
                           "likely cause: .cpu(), .numpy() or a tensor created without device=.")
    got = tuple(value.shape)
    if got != shape:
        raise CheckFailure(f"{where}: expected shape {shape} = {shape_label}, got {got}. " + _shape_hint(got, sizes))
    if value.dtype != dtype:
        raise CheckFailure(f"{where}: expected dtype {dtype} (the inputs' dtype), got {value.dtype}; "
                           "likely cause: .float(), .double() or a tensor created with another dtype.")


def _shape_hint(got, sizes) -> str:
    n, d, h = sizes["n"], sizes["d"], sizes["h"]
    if got[-2:] == (n, d + h):
        return "That is the shape of cat((X, H), 1): multiply it by the concatenated weights."
    if got[-2:] == (d + h, h) or got[-2:] == (n + d, h):
        return "Concatenate X and H along dim 1 (columns), the weights along dim 0 (rows)."
    return "X @ W_xh is (n, d) @ (d, h) -> (n, h); H @ W_hh is (n, h) @ (h, h) -> (n, h)."


def expect_close(question, value, reference, name, sizes, mistakes=None):
    """``value`` equals the float64 ``reference`` within the tolerance of ``value``'s dtype.

    ``mistakes`` (a function returning ``{cause: wrong answer}``) is called only on a mismatch.
    """
    tol = TOLERANCES[str(value.dtype).removeprefix("torch.")]
    got = trusted.to(trusted.detach(value), device="cpu", dtype=trusted.float64)
    try:
        trusted.assert_close(got, reference, **tol)
    except AssertionError as error:
        cause = ""
        for label, wrong in (mistakes() if mistakes else {}).items():
            if trusted.allclose(got, wrong, **tol):
                cause = f"\nLikely cause: {label}."
                break
        detail = "\n".join(line for line in str(error).splitlines()[:4] if line.strip())
        raise CheckFailure(
            f"{name} of {question.function} ({question.describe(sizes)}, {value.dtype}) differs from "
            f"the float64 reference beyond rtol={tol['rtol']}, atol={tol['atol']}:\n{detail}{cause}"
        ) from None


def _check_call(question, func, sizes, dtype, device, rng, previous=None):
    """One call on fresh inputs: structure, dtype, device, values. Returns the result tensors."""
    args = question.make_inputs(rng, sizes, dtype, device)
    originals = tuple(trusted.clone(a) for a in args)  # the reference uses the inputs as given
    out = call(question, func, args)
    return _expect_results(question, out, originals, sizes, dtype, device, previous)


def _expect_results(question, out, args, sizes, dtype, device, previous=None):
    """Structure, dtype, device and values of ``out`` for ``args``; returns CPU copies."""
    results = question.results(out, sizes)
    for value, name, (shape, label) in zip(results, question.result_names, question.result_shapes(sizes)):
        expect_tensor(question, value, name, shape, label, dtype, device, sizes)
    refs = question.reference(*args)
    mistakes = (lambda: question.mistakes(*args)) if question.mistakes else None
    for i, (value, ref, name) in enumerate(zip(results, refs, question.result_names)):
        try:
            expect_close(question, value, ref, name, sizes, mistakes if i == 0 else None)
        except CheckFailure as failure:
            if previous is not None and trusted.equal(trusted.to(value, device="cpu"), previous[i]):
                raise CheckFailure(
                    f"{question.function} returned the same {name} for new inputs of the same shape "
                    f"({question.describe(sizes)}): compute the result from the arguments at every call; "
                    "do not cache or reuse an earlier result."
                ) from None
            raise failure
    return tuple(trusted.clone(trusted.to(v, device="cpu")) for v in results)


def check_values(question, func):
    """Shapes, dtype and values on every drawn case, float32 and float64, fresh draws each."""
    rng = fresh_rng()
    for label, sizes in question.cases(rng):
        for dtype in (trusted.float32, trusted.float64):
            previous = None
            for _ in range(FRESH_DRAWS):
                previous = _check_call(question, func, sizes, dtype, "cpu", rng, previous)
    return f"correct shapes, dtypes and values on {len(question.cases(rng))} shape cases x 2 dtypes x {FRESH_DRAWS} fresh draws"


def check_inputs(question, func):
    """No argument is modified: values and version counters unchanged, and the result still right."""
    rng = fresh_rng()
    for label, sizes in question.cases(rng):
        args = question.make_inputs(rng, sizes, trusted.float64, "cpu")
        copies = tuple(trusted.clone(a) for a in args)
        versions = [trusted.version(a) for a in args]
        out = call(question, func, args)
        for name, arg, copy, ver in zip(question.argument_names, args, copies, versions):
            if trusted.version(arg) != ver or not trusted.equal(arg, copy):
                raise CheckFailure(
                    f"{question.function} modified its argument {name} in place ({label}); "
                    f"inputs must stay unchanged. Likely cause: an in-place operation such as "
                    f"{name} += ..., {name}.add_(...) or {name}[...] = ...; write to a new tensor instead."
                )
        _expect_results(question, out, copies, sizes, trusted.float64, "cpu")
    return "inputs unchanged (values and version counters)"


def check_devices(question, func):
    """The ``meta`` device always; CUDA (float32, TF32 off, no host syncs for q3) where present."""
    rng = fresh_rng()
    label, sizes = question.cases(rng)[1]
    _check_call(question, func, sizes, trusted.float32, "cpu", rng)  # points only for a right answer
    args = meta_like(question.make_inputs(rng, sizes, trusted.float32, "cpu"))
    out = call(question, func, args)
    for value, name, (shape, slabel) in zip(question.results(out, sizes), question.result_names, question.result_shapes(sizes)):
        expect_tensor(question, value, name, shape, slabel, trusted.float32, "meta", sizes)
    done = ["meta"]
    import torch
    if _USE_CUDA and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        global _FORBID_SYNC
        for label, sizes in question.cases(rng):
            _FORBID_SYNC = question.name == "q3_fused"
            try:
                _check_call(question, func, sizes, trusted.float32, "cuda", rng)
            finally:
                _FORBID_SYNC = False
        done.append("cuda")
    return "works on " + " and ".join(done)


def check_fused(question, func):
    """The operator trace shows the fused form (see :mod:`rnn_checks.trace`)."""
    rng = fresh_rng()
    label, sizes = question.cases(rng)[1]
    if sizes["n"] == sizes["d"] + sizes["h"]:  # keep (n, h) apart from the weights' (d + h, h)
        sizes["n"] += 1
    args = question.make_inputs(rng, sizes, trusted.float32, "cpu")
    with trace.OpTrace() as ops:
        out = call(question, func, args)
    _expect_results(question, out, args, sizes, trusted.float32, "cpu")
    return trace.judge(question, ops, sizes)


def check_timing(question, func):
    """The fused step is about as fast as one matrix product (see :mod:`rnn_checks.timing`)."""
    note = timing.judge(question, func, lambda args: call(question, func, args))
    call(question, lambda: None, ())  # a replacement made while being timed is caught here
    return note


GROUPS = {
    "q2_separate": {"values": check_values, "inputs": check_inputs, "devices": check_devices},
    "q3_fused": {"values": check_values, "inputs": check_inputs, "devices": check_devices,
                 "fused": check_fused, "timing": check_timing},
    "q4_rnn_forward": {"values": check_values, "inputs": check_inputs, "devices": check_devices,
                       "fused": check_fused},
}


def warm_up() -> None:
    """Run every check group once on the reference functions, then retake the tamper snapshot."""
    from . import references
    global _SNAPSHOT, _USE_CUDA
    _SNAPSHOT, _USE_CUDA = integrity.snapshot(), False
    def forward(X, H0, W_xh, W_hh, b_h):
        W, H, outs = trusted.cat((W_xh, W_hh), 0), H0, []
        for X_t in X:
            H = trusted.tanh(trusted.mm(trusted.cat((X_t, H), 1), W) + b_h)
            outs.append(H)
        return trusted.stack(outs), H

    for name, func in (("q3_fused", references.fused), ("q4_rnn_forward", forward)):
        for group in GROUPS[name]:
            if group != "timing":
                run_group(name, group, func)
    _SNAPSHOT, _USE_CUDA = integrity.snapshot(), True


def run_group(question_name: str, group: str, func) -> str:
    """Run one check group in this process; returns a success note or raises CheckFailure."""
    return GROUPS[question_name][group](QUESTIONS[question_name], func)
