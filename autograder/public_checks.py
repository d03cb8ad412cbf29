"""Public checks: what the hidden checks grade, run in the student's own kernel, for no points.

``make dist`` copies this module's source into the notebook's "Checks" cell (students download
one notebook; a TA changes a public check here, in one place). Each public test calls
:func:`public_check`, which prints a one-line verdict per question, e.g.

    q3_fused: values ✓  dtype ✓  inputs ✓  fresh ✓  device ✓  one product ✗ (10 products)  speed ✓ 1.1x

and raises ``AssertionError`` with the details of what failed (expected, got, likely cause).
Torch only; a few seconds per question at most. The hidden checks add what a kernel cannot:
inputs drawn fresh at every grading, CUDA on a GPU grader, and a judge that no notebook code
can reach. What counts as right (tolerances), as a matrix product, the inputs, the references
and the named likely mistakes are the judge's own, from :mod:`autograder.rules`, whose source
``make dist`` writes into the cell ahead of this module's (in place of the import below).
"""

import datetime
import hashlib
import os
import random
import signal
import threading
import time
import zipfile

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from autograder.operators import VIEW_OPS, contraction_size, excess_work  # make dist writes operators.py's source here
from autograder.rules import (  # make dist writes autograder/rules.py's source in place of this import
    IllConditioned,
    likely_sequence_mistakes,
    likely_step_mistakes,
    mismatch,
    raised_cause,
    reference_fused_step,
    reference_rnn,
    reference_step,
    sequence_inputs,
    shape_cause,
    step_inputs,
    tolerance,
)

#: the hidden timing limit (``make dist`` writes the value of autograder/config.py here)
SPEED_LIMIT = None
#: seconds one call may take before the check gives up on it (``make dist`` writes
#: autograder/config.py's ``PUBLIC_CALL_LIMIT_S`` here)
CALL_LIMIT_S = None


class _Fail(Exception):
    def __init__(self, mark, detail):
        super().__init__(detail)
        self.mark, self.detail = mark, detail


class _Trace(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        self.ops.append((name, tuple(out.shape) if hasattr(out, "shape") else None, contraction_size(name, args)))
        return out


def _reference_step(X, W_xh, H, W_hh, dtype=torch.float64):
    return (reference_step(X, W_xh, H, W_hh, dtype),)


#: question -> (function, inputs (g, *sizes, dtype, device), references (*inputs, dtype), results,
#: named mistakes of the first result)
QUESTIONS = {
    "q2_separate": ("hidden_state_separate", step_inputs, _reference_step, ("the result",), likely_step_mistakes),
    "q3_fused": ("hidden_state_fused", step_inputs, _reference_step, ("the result",), likely_step_mistakes),
    "q4_rnn_forward": ("rnn_forward", sequence_inputs, reference_rnn, ("outputs", "H_T"), likely_sequence_mistakes),
}


def _sizes(question, n, d, h, T=4):
    return (T, n, d, h) if question == "q4_rnn_forward" else (n, d, h)


def _shapes(question, sizes):
    if question == "q4_rnn_forward":
        T, n, d, h = sizes
        return [((T, n, h), "(T, n, h)"), ((n, h), "(n, h)")]
    n, d, h = sizes
    return [((n, h), "(n, h)")]


def _too_slow(signum, frame):
    raise TimeoutError(f"did not return within {CALL_LIMIT_S} s: an endless loop or a sleep?")


class _Bounded:
    """Stops what runs inside after ``seconds`` (SIGALRM, where the platform and thread allow)."""

    def __init__(self, seconds=None):
        self.seconds = seconds or CALL_LIMIT_S
        self.on = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.on:
            self.previous = signal.signal(signal.SIGALRM, _too_slow)
            signal.alarm(self.seconds)

    def __exit__(self, *exc):
        if self.on:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.previous)


def _call(name, func, args):
    try:
        with _Bounded():
            return func(*args)
    except Exception as error:
        text = f"{type(error).__name__}: {error}"
        _, hint = raised_cause(text)
        raise _Fail("✗", f"{name} raised {text[:300].rstrip('.')}." + (f" Likely cause: {hint}." if hint else "")) from None


def _results(question, name, out, results):
    if len(results) == 1:
        return [out]
    if type(out) not in (tuple, list) or len(out) != len(results):
        raise _Fail("✗", f"{name} must return a tuple ({', '.join(results)}), got {type(out).__name__}."
                    + (" Did you forget `return`?" if out is None else ""))
    return list(out)


def _expect(question, name, out, sizes, dtype, device, results):
    values = _results(question, name, out, results)
    for value, label, (shape, shape_label) in zip(values, results, _shapes(question, sizes)):
        where = f"{label} of {name}"
        if not isinstance(value, torch.Tensor):
            if value is None:
                raise _Fail("✗", f"{where} is None: did you forget `return`?")
            if type(value) in (list, tuple):
                raise _Fail("✗", f"{where} should be a torch.Tensor, got a Python {type(value).__name__}: stack "
                            "the tensors into one (torch.stack(outputs) is (T, n, h)).")
            raise _Fail("✗", f"{where} should be a torch.Tensor, got {type(value).__module__}.{type(value).__name__}"
                        + ("; keep the computation in torch (no .numpy())." if type(value).__module__ == "numpy" else "."))
        if type(value) is not torch.Tensor:
            raise _Fail("✗", f"{where} is a subclass of torch.Tensor ({type(value).__name__}); return a plain tensor.")
        if value.device.type != device:
            raise _Fail("✗", f"{where} is on '{value.device}', expected the inputs' device '{device}'. Likely cause: "
                        ".cpu(), .numpy(), .item() or a tensor created without device=.")
        if tuple(value.shape) != shape:
            _, hint = shape_cause(value.shape, *sizes[-3:])
            raise _Fail("✗", f"{where}: expected shape {shape} = {shape_label}, got {tuple(value.shape)}. {hint}")
        if value.dtype != dtype:
            raise _Fail("✗", f"{where}: expected dtype {dtype} (the inputs' dtype), got {value.dtype}. Likely cause: "
                        ".float(), .double() or a tensor created with another dtype.")
    return values


def _expect_close(name, label, value, expected, expected32, sizes, dtype, mistakes):
    """``value`` equals the float64 reference within the judge's tolerance (:func:`tolerance`)."""
    try:
        tol = tolerance(dtype, expected, expected32)
    except IllConditioned as error:
        raise _Fail("?", f"{error} (sizes {sizes}): run the check again; it draws new inputs.") from None
    wrong = mismatch(value.detach().double(), expected, tol, mistakes)
    if wrong is not None:
        detail, _, likely = wrong
        raise _Fail("✗", f"{label} of {name} (sizes {sizes}, {dtype}) differs from the float64 reference "
                    f"beyond rtol={tol['rtol']}, atol={tol['atol']}:\n{detail}"
                    + (f"\nLikely cause: {likely}." if likely else ""))


def _check_values(question, name, func, g):
    _, make, ref, results, mistakes = QUESTIONS[question]
    cases = [(3, 1, 4, 4), (5, 3, 6, 4), (200, 40, 48, 16)]  # the last one large: code right only when small fails
    earlier = []
    for n, d, h, T in cases:
        sizes = _sizes(question, n, d, h, T)
        for dtype in (torch.float32, torch.float64):
            args = make(g, *sizes, dtype)
            originals = [a.clone() for a in args]
            out = _call(name, func, args)
            try:
                values = _expect(question, name, out, sizes, dtype, "cpu", results)
                expected = ref(*originals)
                expected32 = ref(*originals, dtype=torch.float32) if dtype == torch.float32 else [None] * len(expected)
                for i, (value, e, e32, label) in enumerate(zip(values, expected, expected32, results)):
                    named = (lambda o=originals: mistakes(*o)) if i == 0 else None
                    _expect_close(name, label, value, e, e32, sizes, dtype, named)
            except _Fail:
                returned = out if type(out) in (tuple, list) else [out]
                if any(r is e for r in returned for e in earlier):
                    raise _Fail("✗", f"{name} returned the very object it returned for other inputs: compute the "
                                "result from the arguments at every call; do not cache an earlier result.") from None
                raise
            earlier.extend(out if type(out) in (tuple, list) else [out])


def _check_inputs(question, name, func, g):
    make = QUESTIONS[question][1]
    args = make(g, *_sizes(question, 5, 3, 6), torch.float64)
    copies, versions = [a.clone() for a in args], [a._version for a in args]
    _call(name, func, args)
    for i, (a, c, v) in enumerate(zip(args, copies, versions)):
        if a._version != v or not torch.equal(a, c):
            raise _Fail("✗", f"{name} modified its argument number {i + 1} in place; inputs must stay unchanged. "
                        "Likely cause: +=, .add_(...) or [...] = on an input; write to a new tensor.")


def _check_fresh(question, name, func, g):
    _, make, ref, results, _ = QUESTIONS[question]
    sizes = _sizes(question, 5, 3, 6)
    first = _results(question, name, _call(name, func, make(g, *sizes, torch.float64)), results)
    args = make(g, *sizes, torch.float64)
    second = _results(question, name, _call(name, func, [a.clone() for a in args]), results)
    for a, b, expected in zip(first, second, ref(*args)):
        if isinstance(b, torch.Tensor) and not torch.allclose(b.detach().cpu().double(), expected, **tolerance(torch.float64)):
            if isinstance(a, torch.Tensor) and torch.equal(a, b):
                raise _Fail("✗", f"{name} returned the same result for new inputs of the same shape: compute the "
                            "result from the arguments at every call; do not cache an earlier result.")


def _check_devices(question, name, func, g):
    _, make, _, results, _ = QUESTIONS[question]
    sizes = _sizes(question, 5, 3, 6)
    args = [torch.empty(a.shape, dtype=a.dtype, device="meta") for a in make(g, *sizes, torch.float32)]
    try:
        _expect(question, name, _call(name, func, args), sizes, torch.float32, "meta", results)
    except _Fail as failure:
        raise _Fail(failure.mark, "called with tensors on PyTorch's `meta` device (tensors with shapes but no data: "
                    "code that stays on the inputs' device works there, .cpu(), .numpy(), .item() and tensors "
                    f"created without device= do not): {failure.detail}") from None
    if torch.cuda.is_available():
        args = make(g, *sizes, torch.float32, device="cuda")
        _expect(question, name, _call(name, func, args), sizes, torch.float32, "cuda", results)
        return "cpu, meta, cuda"
    return "cpu, meta"


def _trace(name, func, args):
    with _Trace() as trace:
        _call(name, func, args)
    return trace.ops


def _check_fused(question, name, func, g):
    make = QUESTIONS[question][1]
    d, h = 3, 6
    if question == "q3_fused":
        counts = []
        for n in (5, 64):
            ops = _trace(name, func, make(g, n, d, h, torch.float32))
            ks = [k for _, _, k in ops if k is not None]
            if sorted(ks) == [d, h] and len(ks) == 2:
                raise _Fail("✗ (separate form)", f"{name} ran two matrix products (inner sizes d={d}, h={h}) and a sum: "
                            "that is the separate form. Concatenate, then multiply once: (n, d+h) @ (d+h, h).")
            if ks != [d + h]:
                raise _Fail(f"✗ ({len(ks)} products)", f"{name} ran {len(ks)} matrix product(s) with inner sizes "
                            f"{ks[:8]}; expected exactly one, of inner size d + h = {d + h}.")
            counts.append(len(ops))
        if counts[0] != counts[1]:
            raise _Fail("✗ (grows with n)", f"{name} ran {counts[0]} operators for n=5 but {counts[1]} for n=64: "
                        "the work grows with the rows, as in a loop over rows.")
        _expect_no_excess_work("step", name, func, make, g, (64, 7, 48))
        return ""
    T = 4
    ops = _trace(name, func, make(g, T, 5, d, h, torch.float32))
    ks = [k for _, _, k in ops if k is not None]
    if ks != [d + h] * T:
        raise _Fail(f"✗ ({len(ks)} products)", f"{name} ran matrix products with inner sizes {ks[:8]} over T={T} "
                    f"steps; expected one fused product per step (inner size d + h = {d + h}).")
    built = [op for op, shape, _ in ops if shape == (d + h, h) and op not in VIEW_OPS]
    if len(built) != 1:
        raise _Fail(f"✗ (weights built {len(built)}x)", f"{name} built the concatenated weight ({d + h}, {h}) "
                    f"{len(built)} times; concatenate W_xh and W_hh once, before the loop.")
    _expect_no_excess_work("sequence", name, func, make, g, (3, 16, 7, 48))
    return ""


def _expect_no_excess_work(family, name, func, make, g, sizes):
    """The judge's rule (:func:`excess_work`) on one traced call at a larger h: nothing but the one
    product (per step) does the work."""
    ops = _trace(name, func, make(g, *sizes, torch.float32))
    T, n, d, h = sizes if family == "sequence" else (1, *sizes)
    excess = excess_work(family, len(ops), [shape for _, shape, _ in ops], n, d, h, T)
    if excess:
        raise _Fail("✗ (" + excess[0].replace("_", " ") + ")", f"{name} {excess[1]} (sizes {sizes}).")


def _check_speed(question, name, func, g):
    _call(name, func, step_inputs(g, 1024, 16, 32, torch.float32))  # returns at this size at all?
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _Bounded(3 * CALL_LIMIT_S):
            ratios = _speed_ratios(func, reference_fused_step, g)
    except TimeoutError:
        raise _Fail("✗", f"{name} is far too slow at n = 1024: the timing did not finish in {3 * CALL_LIMIT_S} s.") from None
    finally:
        torch.set_num_threads(threads)
    ratio = sorted(ratios)[len(ratios) // 2]
    if ratio > SPEED_LIMIT:
        raise _Fail(f"✗ {ratio:.1f}x", f"{name} took {ratio:.1f}x the time of one fused product (limit {SPEED_LIMIT}x). "
                    "Likely cause: a Python loop over rows, a host round trip or extra work at every call.")
    return f"{ratio:.1f}x"


def _speed_ratios(func, reference, g):
    """Per-round ratios student / reference at n = 1024: calls alternated, lower quartiles."""
    ratios = []
    for _ in range(5):
        args = step_inputs(g, 1024, 16, 32, torch.float32)
        times = {"student": [], "reference": []}
        for _ in range(9):
            for who, f in (("student", func), ("reference", reference)):
                t0 = time.perf_counter()
                f(*args)
                times[who].append(time.perf_counter() - t0)
        s, r = sorted(times["student"])[2], sorted(times["reference"])[2]
        ratios.append(s / max(r, 1e-9))
    return ratios


GROUPS = {
    "q2_separate": (("values", _check_values), ("inputs", _check_inputs), ("fresh", _check_fresh),
                    ("device", _check_devices)),
    "q3_fused": (("values", _check_values), ("inputs", _check_inputs), ("fresh", _check_fresh),
                 ("device", _check_devices), ("one product", _check_fused), ("speed", _check_speed)),
    "q4_rnn_forward": (("values", _check_values), ("inputs", _check_inputs), ("fresh", _check_fresh),
                       ("device", _check_devices), ("one product per step", _check_fused)),
}


#: salted SHA-256 digests of q1's answers, of the whole shape and of each of its two sizes
#: (``make dist`` writes them from the judge's expected shapes): the notebook can recognise the
#: right shapes without holding them
SHAPE_SALT = "q1"
SHAPE_DIGESTS = {}
#: what each of q1's names is the shape of, and how its two sizes come about
SHAPE_RULES = {
    "shape_XH": ("cat((X, H), dim=1)", "concatenating along dim 1 puts X and H side by side: the rows stay "
                 "(X and H have the same number of rows, n) and the column counts add up (d + h)"),
    "shape_W": ("cat((W_xh, W_hh), dim=0)", "concatenating along dim 0 stacks W_xh on top of W_hh: the row "
                "counts add up (d + h) and the columns stay (both have h columns)"),
}


def shape_digest(name, what, value):
    """The salted digest of one answer: ``what`` is "shape", "rows" or "columns"."""
    return hashlib.sha256(f"{SHAPE_SALT}:{name}:{what}:{value!r}".encode()).hexdigest()


def _check_shape(name, got):
    ok = isinstance(got, (tuple, list, torch.Size)) and len(got) == 2 and all(type(v) is int for v in got)
    assert ok, f"{name} should be a tuple of two ints such as (2, 7), got {got!r}"
    got = tuple(got)
    digests = SHAPE_DIGESTS[name]
    if shape_digest(name, "shape", got) == digests["shape"]:
        return
    of, rule = SHAPE_RULES[name]
    if shape_digest(name, "shape", got[::-1]) == digests["shape"]:
        wrong = "rows and columns are swapped: a shape is (rows, columns)"
    else:
        right = [what for what, v in zip(("rows", "columns"), got) if shape_digest(name, what, v) == digests[what]]
        wrong = (f"the number of {'columns' if right == ['rows'] else 'rows'} is not right" if right
                 else "neither the rows nor the columns are right")
    raise AssertionError(f"{name} = {got} is not the shape of {of} in the worked example (X (3, 1), W_xh (1, 4), "
                         f"H (3, 4), W_hh (4, 4)): {wrong}. Expected: {rule}. Likely cause: the two dimensions "
                         "mixed up, or the sizes added along the wrong dimension; check with torch.cat on tensors "
                         "of those shapes.")


def public_check(question, *values):
    """Check one question as the hidden checks will; print the verdict; raise on any failure."""
    if question == "q1_shapes":
        for name, got in zip(SHAPE_RULES, values):
            _check_shape(name, got)
        print("q1_shapes: shapes ✓")
        return
    (func,) = values
    name = QUESTIONS[question][0]
    g = torch.Generator().manual_seed(random.getrandbits(31))
    marks, details = [], []
    values_ok = True
    for label, check in GROUPS[question]:
        if not values_ok and label != "values":
            marks.append(f"{label} -")
            continue
        try:
            note = check(question, name, func, g)
            marks.append(f"{label} ✓" + (f" {note}" if note and label == "speed" else ""))
        except _Fail as failure:
            marks.append(f"{label} {failure.mark}")
            details.append(f"{label}: {failure.detail}")
            values_ok = values_ok and label != "values"
    verdict = f"{question}: " + "  ".join(marks)
    print(verdict)
    assert not details, verdict + "\n\n" + "\n\n".join(details)


def export_name(notebook):
    """The zip the export cell writes next to the notebook: its name and the time, as Otter names it."""
    return f"{os.path.splitext(notebook)[0]}_{datetime.datetime.now():%Y_%m_%dT%H_%M_%S_%f}.zip"


def show_submission(zip_path):
    """What the exported zip holds, read as the grader reads it (nothing in it is run): the
    notebook file and, per question, whether its answer is there (:func:`question_lines`, which
    ``make dist`` writes into this cell from autograder/receipt.py)."""
    try:
        with zipfile.ZipFile(zip_path) as z:
            names = sorted(n for n in z.namelist() if n.endswith(".ipynb") and "/" not in n)
            text = z.read(names[0]).decode("utf-8", "replace") if names else ""
    except (OSError, zipfile.BadZipFile):
        print(f"No zip {zip_path} was written: the export did not run.")
        return
    if not names:
        print(f"{zip_path} holds no notebook: run this cell again. zip 文件中没有笔记本：请重新运行此单元格。")
        return
    lines, complete = question_lines(text)  # noqa: F821 - make dist writes autograder/receipt.py after this module
    print(f"{zip_path} holds {names[0]} as last saved; what the grader will find in it:")
    print("\n".join("  " + line for line in lines))
    if complete:
        print("Upload this zip to Gradescope. 请将此 zip 文件上传到 Gradescope。")
    else:
        print("Some answers are not in the saved file. If you wrote them, save the notebook (Ctrl+S, or "
              "File > Save) and run this cell again before uploading.\n"
              "保存的文件中缺少部分答案。如果你已经写了，请先保存笔记本（Ctrl+S 或 文件 > 保存），"
              "再运行此单元格，然后上传。")
