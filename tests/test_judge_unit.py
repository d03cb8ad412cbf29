"""The judge's checks and the wire, in-process: verdicts, message words, and what the judge
refuses to read (fast feedback; the catalogue grades the same code through the real zip)."""

import contextlib
import json
import os
import random
import struct
import threading
import time
import warnings

import pytest
import torch

from autograder import wire
from autograder.config import LARGE_RANGES, LARGE_SEQUENCE_N
from autograder.judge import session as session_module
from autograder.judge.inputs import large_sizes
from autograder.judge.local import run_group
from autograder.judge.questions import CheckFailure


def run(question, group, func):
    return run_group(question, group, func)


def separate(X, W_xh, H, W_hh):
    return X @ W_xh + H @ W_hh


def fused(X, W_xh, H, W_hh):
    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)


def test_correct_functions_pass_every_group():
    for group in ("values", "inputs", "devices"):
        run("q2_separate", group, separate)
    for group in ("values", "inputs", "devices", "fused", "timing"):
        run("q3_fused", group, fused)


def test_a_transposed_weight_is_named():
    with pytest.raises(CheckFailure, match="W_hh is transposed"):
        run("q2_separate", "values", lambda X, W_xh, H, W_hh: X @ W_xh + H @ W_hh.T)


def test_a_shape_error_says_expected_and_got():
    with pytest.raises(CheckFailure, match=r"expected shape \(\d+, \d+\) = \(n, h\), got"):
        run("q2_separate", "values", lambda X, W_xh, H, W_hh: torch.cat((X, H), 1))


def test_the_separate_form_fails_the_fused_trace_with_its_name():
    with pytest.raises(CheckFailure, match="that is the separate form"):
        run("q3_fused", "fused", separate)


def test_a_dtype_change_is_named():
    with pytest.raises(CheckFailure, match="expected dtype torch.float64"):
        run("q2_separate", "values", lambda *a: separate(*a).float())


def test_a_memo_of_the_last_result_fails_on_fresh_inputs():
    last = {}

    def memo(X, W_xh, H, W_hh):
        key = tuple(X.shape)
        if key not in last:
            last[key] = fused(X, W_xh, H, W_hh)
        return last[key]
    with pytest.raises(CheckFailure, match="do not cache"):
        run("q3_fused", "values", memo)


def test_a_row_loop_fails_timing_and_the_trace_at_two_n():
    def loop(X, W_xh, H, W_hh):
        XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)
        return torch.stack([XH[i:i + 1] @ W for i in range(XH.shape[0])]).reshape(X.shape[0], -1)
    with pytest.raises(CheckFailure, match="limit"):
        run("q3_fused", "timing", loop)
    with pytest.raises(CheckFailure):
        run("q3_fused", "fused", loop)


#: the group's time limit in the two tests below (config's 20 s, shortened: the rule is the same)
SHORT_LIMIT_S = 4.0


def test_a_hanging_call_fails_its_group_within_the_limit(monkeypatch):
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", SHORT_LIMIT_S)
    t0 = time.monotonic()
    with pytest.raises(Exception, match=f"did not finish within {SHORT_LIMIT_S:.0f} s"):
        run("q2_separate", "values", lambda *a: time.sleep(600))
    assert time.monotonic() - t0 < SHORT_LIMIT_S + 3


def test_a_slow_function_cannot_hold_a_group_longer_than_its_limit(monkeypatch):
    """Each call under the limit, the group far over it: the limit is the group's (red team)."""
    monkeypatch.setattr(session_module, "CHECK_TIME_LIMIT_S", SHORT_LIMIT_S)
    t0 = time.monotonic()
    with pytest.raises(Exception, match=f"did not finish within {SHORT_LIMIT_S:.0f} s"):
        run("q2_separate", "values", lambda *a: (time.sleep(SHORT_LIMIT_S / 8), separate(*a))[1])
    assert time.monotonic() - t0 < SHORT_LIMIT_S + 3


# --- the wire: what the judge refuses to read -------------------------------------------------

def frame(header_bytes: bytes, tail: bytes = b"") -> bytes:
    return struct.pack(">I", len(header_bytes)) + header_bytes + tail


def read(data: bytes, timeout=2.0):
    r, w = os.pipe()
    threading.Thread(target=lambda: (os.write(w, data), os.close(w)), daemon=True).start()
    try:
        return wire.recv(r, time.monotonic() + timeout)
    finally:
        os.close(r)


@pytest.mark.parametrize("data, words", [
    (frame(b'{"x": NaN}'), "malformed header"),
    (frame(b"[1, 2]"), "not a JSON object"),
    (frame(b"\xff\xfe"), "malformed header"),
    (struct.pack(">I", 1 << 30), "exceeds the cap"),
    (frame(json.dumps({"blobs": [1 << 40]}).encode()), "exceeds the cap"),
    (frame(json.dumps({"blobs": [-1]}).encode()), "malformed blob sizes"),
])
def test_malformed_or_oversized_messages_are_refused(data, words):
    with pytest.raises(wire.WireError, match=words):
        read(data)


def test_a_dripping_sender_runs_out_of_time():
    r, w = os.pipe()

    def drip():
        for byte in frame(b'{"kind": "hello"}'):
            time.sleep(0.2)
            try:
                os.write(w, bytes([byte]))
            except OSError:
                return
    threading.Thread(target=drip, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(wire.WireTimeout):
        wire.recv(r, time.monotonic() + 1.0)
    assert time.monotonic() - t0 < 2
    os.close(r)


@pytest.mark.parametrize("meta, blob, words", [
    ({"dtype": "int64", "shape": [2], "blob": 0}, b"\0" * 16, "dtype not accepted"),
    ({"dtype": "float32", "shape": [3], "blob": 0}, b"\0" * 8, "do not match"),
    ({"dtype": "float32", "shape": [1, 1, 1, 1, 1], "blob": 0}, b"\0" * 4, "malformed tensor shape"),
    ({"dtype": "float32", "shape": [True], "blob": 0}, b"\0" * 4, "malformed tensor shape"),
    ({"dtype": "float32", "shape": [1], "blob": 3}, b"\0" * 4, "without its bytes"),
])
def test_tensors_are_read_only_as_whitelisted_dtypes_of_the_announced_size(meta, blob, words):
    with pytest.raises(wire.WireError, match=words):
        wire.tensor_from(meta, [blob])


def test_a_tensor_round_trips_exactly():
    t = torch.randn(3, 4, dtype=torch.float64)
    meta, raw = wire.tensor_blob(t, 0)
    assert torch.equal(wire.tensor_from(meta, [raw]), t)


@pytest.mark.parametrize("layout", ["h1_transpose", "expand", "transpose", "offset", "step", "neg", "empty"])
def test_any_tensor_layout_round_trips_the_wire_exactly(layout):
    base = torch.randn(6, 4, dtype=torch.float64)
    t = {"h1_transpose": (torch.randn(3, 1).T @ torch.randn(5, 3).T).T, "expand": base[:1].expand(5, 4),
         "transpose": base.T, "offset": base[1:], "step": base[::2], "neg": base._neg_view(),
         "empty": base[:0]}[layout]
    meta, raw = wire.tensor_blob(t, 0)
    back = wire.tensor_from(meta, [raw])
    assert back.shape == t.shape and torch.equal(back, t.resolve_neg())


def test_a_result_laid_out_as_a_transpose_is_graded_on_its_values():
    """``(W.T @ XH.T).T`` is right; at h = 1 its strides are (1, n): never the student's problem."""
    def transposed(X, W_xh, H, W_hh):
        return (torch.cat((W_xh, W_hh), 0).T @ torch.cat((X, H), 1).T).T
    run("q3_fused", "values", transposed)


def _rnn(X, H0, W_xh, W_hh, b_h, steps=None):
    W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
    for X_t in X[:steps]:
        H = torch.tanh(torch.cat((X_t, H), 1) @ W + b_h)
        outs.append(H)
    outs += [H] * (len(X) - len(outs))
    return torch.stack(outs), H


@pytest.mark.parametrize("question,func", [
    ("q2_separate", lambda X, W_xh, H, W_hh: X @ W_xh + (H @ W_hh if len(X) <= 40 else 0)),
    ("q3_fused", lambda X, W_xh, H, W_hh: torch.cat(
        [torch.cat((x, h), 1) @ torch.cat((W_xh, W_hh), 0) for x, h in zip(X[:64 * (len(X) // 64) or None].split(64),
                                                                           H[:64 * (len(X) // 64) or None].split(64))]
        + ([torch.zeros(len(X) % 64, W_xh.shape[1], dtype=X.dtype)] if len(X) > 64 and len(X) % 64 else []))),
    ("q4_rnn_forward", lambda *a: _rnn(*a, steps=6)),
])
def test_code_right_only_on_small_shapes_fails_its_values(question, func):
    with pytest.raises(CheckFailure, match="large inputs|n=|T="):
        run(question, "values", func)


@pytest.mark.parametrize("block", [2, 3, 16, 64, 100])
def test_the_large_case_always_leaves_a_partial_block(block):
    """n, d, h of the large case are primes: blocked code that drops the tail meets a tail every time."""
    rng = random.Random(block)
    for n_range in (LARGE_RANGES["n"], LARGE_SEQUENCE_N):
        for _ in range(300):
            s = large_sizes(rng, n_range)
            assert all(s[k] % block for k in ("n", "d", "h") if s[k] > block), s


@pytest.mark.parametrize("question,func", [
    ("q2_separate", lambda X, W_xh, H, W_hh: X @ W_xh + (H @ W_hh.T if 10 <= len(X) <= 127 else H @ W_hh)),
    ("q4_rnn_forward", lambda X, H0, W_xh, W_hh, b_h: _rnn(X, H0, W_xh, W_hh, b_h * (0 if 10 <= X.shape[1] <= 127 else 1))),
])
def test_code_wrong_only_between_the_small_and_the_large_case_fails_its_values(question, func):
    """Red team, round 13: a bug only for 20 <= n <= 120 got full marks; the sweep across the whole
    range of sizes meets it (here 10-127: missed with probability about 2e-6)."""
    with pytest.raises(CheckFailure, match="differs from the float64 reference"):
        run(question, "values", func)


def _broadcast_and_zero_padded(X, W_xh, H, W_hh):
    """Red team, round 13: X @ W_xh by broadcasting, H @ W_hh as the one product of inner size d + h."""
    return (X.unsqueeze(2) * W_xh.unsqueeze(0)).sum(1) + torch.cat((torch.zeros_like(X), H), 1) @ torch.cat((W_xh, W_hh), 0)


def _column_loop_beside_a_discarded_product(X, W_xh, H, W_hh):
    """Red team, round 13: a loop over the h columns does the work; the one product is multiplied by 0."""
    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)
    return torch.stack([(XH * W[:, j]).sum(1) for j in range(W.shape[1])], 1) + 0 * (XH @ W)


def _rnn_broadcast_step(X, H0, W_xh, W_hh, b_h):
    W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
    for X_t in X:
        H = torch.tanh((X_t.unsqueeze(2) * W_xh.unsqueeze(0)).sum(1) + torch.cat((torch.zeros_like(X_t), H), 1) @ W + b_h)
        outs.append(H)
    return torch.stack(outs), H


def _convolution_beside_a_discarded_product(X, W_xh, H, W_hh):
    """Red team, round 14: a 1x1 convolution computes the answer; the one product is thrown away."""
    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)
    _ = XH @ W
    return torch.nn.functional.conv1d(XH.unsqueeze(-1), W.t().unsqueeze(-1)).squeeze(-1)


def _separate_form_as_the_bias_of_a_product_of_zeros(X, W_xh, H, W_hh):
    """Red team, round 21: addbmm does the separate form; the one product of size d + h multiplies
    zeros and adds it as its bias."""
    Y = torch.addbmm(torch.addbmm(torch.zeros_like(H), X[None], W_xh[None]), H[None], W_hh[None])
    zeros = torch.zeros(X.shape[0], X.shape[1] + H.shape[1], dtype=X.dtype, device=X.device)
    return torch.addmm(Y, zeros, torch.cat((W_xh, W_hh), 0))


def _convolution_as_the_bias_of_a_product_times_zero(X, W_xh, H, W_hh):
    """Red team, round 21: convolutions compute the answer, the fused product is scaled by alpha=0."""
    conv = torch.nn.functional.conv1d
    Y = conv(X.T.unsqueeze(0), W_xh.T.unsqueeze(2)).squeeze(0).T + conv(H.T.unsqueeze(0), W_hh.T.unsqueeze(2)).squeeze(0).T
    return torch.addmm(Y, torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0), alpha=0)


def _rnn_bilinear_steps_beside_a_dummy_product(X, H0, W_xh, W_hh, b_h):
    """Red team, round 23: F.bilinear (one ``_trilinear`` operator, not a product) computes each
    step in the separate form; a one-row fused product multiplied by 0 stands for it."""
    W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
    A, B = W_xh.t().unsqueeze(2), W_hh.t().unsqueeze(2)
    for X_t in X:
        one = torch.ones_like(X_t[:, :1])
        step = torch.nn.functional.bilinear(X_t, one, A) + torch.nn.functional.bilinear(H, one, B)
        H = torch.tanh(step + b_h + 0 * (torch.cat((X_t[:1], H[:1]), 1) @ W))
        outs.append(H)
    return torch.stack(outs), H


def _rnn_convolution_steps_beside_a_dummy_product(X, H0, W_xh, W_hh, b_h):
    """Red team, round 14: a 1x1 convolution computes each step; a one-row product times 0."""
    W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
    for X_t in X:
        XH = torch.cat((X_t, H), 1)
        step = torch.nn.functional.conv1d(XH.T.unsqueeze(0), W.T.unsqueeze(2)).squeeze(0).T
        H = torch.tanh(step + b_h + 0 * (XH[:1] @ W))
        outs.append(H)
    return torch.stack(outs), H


@pytest.mark.parametrize("question,func,cause", [
    ("q4_rnn_forward", _rnn_bilinear_steps_beside_a_dummy_product, "work_beside_the_product"),
    ("q4_rnn_forward", _rnn_convolution_steps_beside_a_dummy_product, "work_beside_the_product"),
    ("q3_fused", _separate_form_as_the_bias_of_a_product_of_zeros, "wrong_products"),
    ("q3_fused", _convolution_as_the_bias_of_a_product_times_zero, "result_not_the_product"),
    ("q3_fused", _convolution_beside_a_discarded_product, "result_not_the_product"),
    ("q3_fused", _broadcast_and_zero_padded, "broadcast_product"),
    ("q3_fused", _column_loop_beside_a_discarded_product, "loop_of_operators"),
    ("q4_rnn_forward", _rnn_broadcast_step, "broadcast_product"),
])
def test_work_done_beside_the_one_product_fails_fused(question, func, cause):
    """Right values (the values group passes first): only the product rule, on every traced call
    (the values group's large and swept sizes included), can tell."""
    with pytest.raises(CheckFailure) as failure:
        run_all_then(question, "fused", func)
    assert failure.value.cause == cause, str(failure.value)


def test_correct_float32_code_passes_on_large_shapes():
    run("q4_rnn_forward", "values", _rnn)
    run("q3_fused", "values", lambda X, W_xh, H, W_hh: torch.einsum("nk,kh->nh", torch.cat((X, H), 1),
                                                                    torch.cat((W_xh, W_hh), 0)))


# --- work hidden from the trace (red team, round 2): another thread, numpy, meta tensors ---------

def _rows(X, W, H):
    return torch.stack([torch.cat((X[i], H[i])) @ W for i in range(X.shape[0])])


def _in_a_thread_with_a_meta_decoy(X, W_xh, H, W_hh):
    import threading
    out = torch.empty(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)
    meta = [t.to("meta") for t in (X, H, W_xh, W_hh)]
    torch.cat((meta[0], meta[1]), 1) @ torch.cat((meta[2], meta[3]), 0)  # the product fused looks for
    worker = threading.Thread(target=lambda: out.copy_(_rows(X, torch.cat((W_xh, W_hh)), H)))
    worker.start()
    worker.join()
    return out


def _numpy_into_empty(X, W_xh, H, W_hh):
    out = torch.empty(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)
    if X.device.type != "meta":
        out.copy_(torch.from_numpy(X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()))
    return out


def test_a_loop_in_another_thread_behind_a_meta_product_fails_fused_and_devices():
    run("q3_fused", "values", _in_a_thread_with_a_meta_decoy)
    with pytest.raises(CheckFailure, match="did not compute"):
        run("q3_fused", "fused", _in_a_thread_with_a_meta_decoy)
    with pytest.raises(CheckFailure, match="torch did not compute"):
        run_all_then("q3_fused", "devices", _in_a_thread_with_a_meta_decoy)


def test_a_numpy_result_copied_into_torch_memory_fails_devices():
    with pytest.raises(CheckFailure, match="torch did not compute"):
        run_all_then("q2_separate", "devices", _numpy_into_empty)


def test_honest_styles_count_as_computed_by_torch():
    def into_out(X, W_xh, H, W_hh):
        out = torch.empty(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)
        torch.mm(torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0), out=out)
        return out * torch.tensor(1.0)

    def accumulate(X, W_xh, H, W_hh):
        out = torch.zeros(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)
        out += torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)
        return out
    for func in (into_out, accumulate, fused):
        run_all_then("q3_fused", "devices", func)


def run_all_then(question, group, func):
    """``group`` after the values group, in one session, as grading runs them (devices reads
    every earlier call's record)."""
    from autograder.judge import checks
    from autograder.judge.local import LocalSession
    from autograder.judge.questions import GRADED
    from autograder.judge.stand_ins import FunctionProxy
    graded = GRADED[question]
    session = LocalSession({graded.function: func})
    try:
        for g in ("values", group):
            session.start_group()
            checks.GROUPS[g](graded, FunctionProxy(session, graded))
    finally:
        session.close()


def _numpy_write_into_torch_memory(X, W_xh, H, W_hh):
    """Red team, round 3: a traced product of zeros, then numpy writes the answer into its memory."""
    n, h = X.shape[0], W_xh.shape[1]
    k = X.shape[1] + h
    out = torch.zeros(n, k, dtype=X.dtype, device=X.device) @ torch.zeros(k, h, dtype=X.dtype, device=X.device)
    if X.device.type != "meta":
        out.numpy()[...] = X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()
    return out


def test_numpy_writes_into_torch_memory_fail_devices():
    with pytest.raises(CheckFailure, match="torch did not compute"):
        run_all_then("q3_fused", "devices", _numpy_write_into_torch_memory)


# --- red team, round 4: an empty out= write to "mark" memory, ops hidden from the dispatch mode ---

def _mark(R, X):
    torch.mul(X.reshape(-1)[:0], 1, out=R.reshape(-1)[:0])
    return R


def _numpy_then_mark(X, W_xh, H, W_hh):
    if X.device.type != "cpu":
        return X @ W_xh + H @ W_hh
    return _mark(torch.from_numpy(X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()), X)


def _hidden_separate_then_mark(X, W_xh, H, W_hh):
    torch.cat((X[:1], H[:1]), 1) @ torch.cat((W_xh, W_hh), 0)
    with torch._C._DisableTorchDispatch():
        R = X @ W_xh + H @ W_hh
    return _mark(R, X)


def _rows_into_empty(X, W_xh, H, W_hh):
    out = torch.empty(X.shape[0], W_xh.shape[1], dtype=X.dtype, device=X.device)
    for i in range(X.shape[0]):
        out[i] = X[i] @ W_xh + H[i] @ W_hh
    return out


def _changes_an_input_later(X, W_xh, H, W_hh):
    import threading
    R = X @ W_xh + H @ W_hh
    if X.device.type == "cpu":
        threading.Timer(0.002, lambda: X.mul_(2)).start()
    return R


def test_an_empty_write_does_not_make_numpy_memory_count_as_computed():
    with pytest.raises(CheckFailure, match="torch did not compute"):
        run_all_then("q2_separate", "devices", _numpy_then_mark)


def _rows_through_numpy_then_empty_write(X, W_xh, H, W_hh):  # red team, round 10
    if X.device.type != "cpu":
        return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)
    out = torch.zeros(X.shape[0], W_xh.shape[1], dtype=X.dtype)
    rows, XH, W = out.numpy(), torch.cat((X, H), 1).numpy(), torch.cat((W_xh, W_hh), 0).numpy()
    for i in range(X.shape[0]):
        rows[i] = XH[i] @ W
    torch.cat((X[:1], H[:1]), 1) @ torch.cat((W_xh, W_hh), 0)
    out[:0].fill_(0)  # an empty traced write into derived memory changed behind torch's back
    return out


def test_an_empty_write_does_not_launder_bytes_written_behind_torchs_back():
    with pytest.raises(CheckFailure, match="torch did not compute"):
        run_all_then("q3_fused", "devices", _rows_through_numpy_then_empty_write)


def test_work_hidden_from_the_dispatch_mode_fails_fused_and_devices():
    with pytest.raises(CheckFailure, match="did not compute"):
        run_all_then("q3_fused", "fused", _hidden_separate_then_mark)
    with pytest.raises(CheckFailure, match="did not compute"):
        run_all_then("q3_fused", "devices", _hidden_separate_then_mark)


def test_a_buffer_filled_row_by_row_counts_as_computed():
    run_all_then("q2_separate", "devices", _rows_into_empty)


def test_an_input_changed_by_a_thread_after_the_call_fails_inputs():
    with pytest.raises(CheckFailure, match="modified its argument"):
        run_all_then("q2_separate", "inputs", _changes_an_input_later)


def test_only_a_real_torch_size_tuple_or_list_counts_as_a_shape():
    from autograder.serving.serve import describe_value

    class Size:
        def __init__(self, *v):
            self.v = v

        def __iter__(self):
            return iter(self.v)

        def __len__(self):
            return len(self.v)
    assert describe_value(Size(3, 5))["kind"] == "other"
    assert describe_value(torch.Size([3, 5]))["kind"] == describe_value((3, 5))["kind"] == "ints"


def _traced_result(func, n=6, d=3, h=4):
    """Whether the trace counts ``func``'s result as computed by torch from its inputs."""
    from autograder.serving.trace import OpTrace
    inputs = (torch.randn(n, d), torch.randn(d, h), torch.randn(n, h), torch.randn(h, h))
    with OpTrace("cpu", inputs) as trace:
        result = func(*inputs)
    return not trace.outside([result])


def _fill(order):
    """A buffer from ``empty`` filled by derived writes into the views ``order(out)`` yields."""
    def fill(X, W_xh, H, W_hh):
        full = X @ W_xh + H @ W_hh
        out = torch.empty_like(full)
        for index in order(out):
            out[index] = full[index]
        return out
    return fill


@pytest.mark.parametrize("order, counted", [
    (lambda out: range(out.shape[0]), True),  # rows
    (lambda out: [(slice(None), j) for j in range(out.shape[1])], True),  # columns
    (lambda out: [(slice(None, None, 2),), (slice(1, None, 2),)], True),  # even rows, then odd ones
    (lambda out: [(i, j) for i in range(out.shape[0]) for j in range(out.shape[1]) if (i, j) != (2, 1)], False),
    (lambda out: list(range(out.shape[0] - 1)) * 3, False),  # a row left out, the others written thrice
])
def test_a_buffer_counts_as_computed_exactly_when_derived_writes_covered_all_of_it(order, counted):
    assert _traced_result(_fill(order)) is counted


def test_a_foreign_row_written_into_a_computed_buffer_uncovers_just_that_row():
    def foreign_row_then_rewrite(rewrite):
        def func(X, W_xh, H, W_hh):
            out = X @ W_xh + H @ W_hh
            out[1] = torch.from_numpy(out[1].numpy() * 2)  # data from outside torch
            if rewrite:
                out[1] = (X @ W_xh + H @ W_hh)[1]
            return out
        return func
    assert not _traced_result(foreign_row_then_rewrite(False))
    assert _traced_result(foreign_row_then_rewrite(True))


def test_coverage_counts_a_view_that_holds_an_element_twice_by_recounting():
    from autograder.serving.trace import OpTrace, _distinct
    storage = torch.empty(6)
    assert _distinct(storage.view(2, 3)) and _distinct(storage.view(2, 3).t()) and _distinct(storage[::2])
    assert not _distinct(storage[:3].expand(2, 3)) and not _distinct(storage.as_strided((2, 3), (2, 1)))
    trace = OpTrace()
    key = storage.untyped_storage().data_ptr()
    assert trace._cover(key, storage.as_strided((2, 3), (2, 1)), 6, True) == 1  # elements 0-4: 5 of 6
    assert trace._cover(key, storage[:3].expand(2, 3), 6, False) == 4  # 0-2 uncovered again
    assert trace._cover(key, storage.view(2, 3)[:, :1], 6, True) == 3  # 0 and 3 (3 already)


def _numpy_answer(X, W_xh, H, W_hh):
    return X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()


def _rewritten_before_the_last_row(X, W_xh, H, W_hh):  # red team, round 16
    buf = torch.empty(X.shape[0], W_xh.shape[1])
    buf[1:] = 0.0
    buf.numpy()[:] = _numpy_answer(X, W_xh, H, W_hh) + 1  # never what torch computes
    buf[0] = X[0] @ W_xh + H[0] @ W_hh  # the write that completes the coverage
    return buf


def _odd_tail_storage(X, W_xh, H, W_hh):  # red team, round 16
    n, h = X.shape[0], W_xh.shape[1]
    buf = torch.empty(4 * n * h + 1, dtype=torch.uint8)[:4 * n * h].view(torch.float32).view(n, h)
    buf.numpy()[:] = _numpy_answer(X, W_xh, H, W_hh)
    buf[0, :1] = X[0, :1] * 0 + float(buf.numpy()[0, 0])
    return buf


def _from_file(X, W_xh, H, W_hh):  # red team, round 16
    import tempfile
    path = tempfile.mktemp()
    _numpy_answer(X, W_xh, H, W_hh).tofile(path)
    return torch.from_file(path, size=X.shape[0] * W_xh.shape[1], dtype=torch.float32).view(X.shape[0], -1)


def _uninitialised(allocate):
    def func(X, W_xh, H, W_hh):
        return allocate(X, W_xh, H, W_hh)
    return func


@pytest.mark.parametrize("func", [
    _rewritten_before_the_last_row, _odd_tail_storage, _from_file,
    _uninitialised(lambda X, W_xh, H, W_hh: torch.empty_permuted((X.shape[0], W_xh.shape[1]), (0, 1))),
    _uninitialised(lambda X, W_xh, H, W_hh: (X[0, :1] * 1).resize_as_(H)),
])
def test_bytes_from_outside_torch_never_count_as_computed(func):
    assert not _traced_result(func)


def test_a_row_written_then_added_to_counts_as_computed():
    def rows_then_add(X, W_xh, H, W_hh):
        out = torch.empty(X.shape[0], W_xh.shape[1])
        for i in range(X.shape[0]):
            out[i] = X[i] @ W_xh
            out[i] += H[i] @ W_hh
        return out
    assert _traced_result(rows_then_add)


def _answer_through_an_input(X, W_xh, H, W_hh):  # red team, round 17
    saved = H.numpy().copy()
    H.numpy()[:] = X.numpy() @ W_xh.numpy() + saved @ W_hh.numpy()
    result = H.clone()
    H.numpy()[:] = saved  # the input is as it was
    return result


def _answer_through_a_generator(X, W_xh, H, W_hh):  # red team, round 17 (a generator's state set from outside)
    generator = torch.Generator().manual_seed(0)
    generator.set_state(torch.from_numpy(generator.get_state().numpy().copy()))
    return torch.randint(0, 2, (X.shape[0], W_xh.shape[1]), generator=generator).float()


def _set_onto_rewritten_memory(X, W_xh, H, W_hh):  # red team, round 17
    A = torch.zeros(*H.shape)
    A.numpy()[:] = _numpy_answer(X, W_xh, H, W_hh)
    B = torch.empty(0).set_(A.untyped_storage(), 0, (1,), (1,))
    B[0] = X[0] @ W_xh[:, 0] + H[0] @ W_hh[:, 0]
    return A


@pytest.mark.parametrize("func", [_answer_through_an_input, _answer_through_a_generator, _set_onto_rewritten_memory])
def test_data_smuggled_through_inputs_generators_or_set_never_counts_as_computed(func):
    assert not _traced_result(func)


def _library_from_the_stdlib():
    """A ``Library`` made through a standard-library function, so that its kernels say they were
    registered from ``copy.py`` (red team, round 19: a trusted file name once made them torch's)."""
    import copy
    return copy._reconstruct(None, None, torch.library.Library, ("aten", "IMPL", "CPU"))


@contextlib.contextmanager
def _own_kernel(op="mm", key="CPU", make=lambda: torch.library.Library("aten", "IMPL"),
                kernel=lambda a, b: torch.from_numpy(a.numpy() @ b.numpy())):
    """A kernel of the test's own for torch operator ``op`` (numpy work under a torch name; red
    team, round 18), registered after the trace read the dispatch tables, as in a runner."""
    from autograder.serving.trace import remember_kernels
    remember_kernels()  # the runner reads every table before any notebook code runs
    library = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding a previously registered kernel"
        library.impl(op, kernel, key)
    try:
        yield
    finally:
        library._destroy()


@pytest.mark.parametrize("group", ["fused", "devices", "timing"])
@pytest.mark.parametrize("make", [lambda: torch.library.Library("aten", "IMPL"), _library_from_the_stdlib],
                         ids=["library", "registered-from-the-stdlib"])
def test_a_torch_operator_with_a_kernel_of_the_notebooks_own_earns_no_attested_point(group, make):
    with _own_kernel(make=make), pytest.raises(CheckFailure) as failure:
        run("q3_fused", group, fused)
    assert failure.value.cause == "own_kernel", str(failure.value)
    assert "code of the notebook's own (mm" in str(failure.value)


def test_a_kernel_registered_during_the_call_shows_when_the_call_ends():
    """An operator other than a product has its table read at its first dispatch and at the end."""
    from autograder.serving.trace import OpTrace
    inputs = (torch.randn(6, 3), torch.randn(3, 4), torch.randn(6, 4), torch.randn(4, 4))
    with contextlib.ExitStack() as registered:
        with OpTrace("cpu", inputs) as trace:
            separate(*inputs)  # add's first dispatch: torch's own kernel
            registered.enter_context(_own_kernel("add.Tensor", kernel=lambda a, b, alpha=1: torch.from_numpy(
                a.numpy() + alpha * b.numpy())))
            separate(*inputs)
            seen_during_the_call = list(trace.own_kernels)
        assert seen_during_the_call == [] and trace.own_kernels == ["add"]
    with OpTrace("cpu", inputs) as trace:  # the kernel is gone: torch's own again
        separate(*inputs)
    assert trace.own_kernels == []


def test_kernels_torch_registers_itself_after_the_runner_started_are_torchs_own():
    """vmap registers Python kernels of torch's own for aten operators at its first use (a fresh
    process, as a runner is): those are torch's, not the notebook's."""
    import subprocess
    import sys
    code = """if True:
        import torch
        from autograder.serving.trace import OpTrace, remember_kernels
        remember_kernels()
        before = torch._C._dispatch_dump("aten::addr")
        inputs = (torch.randn(6, 3), torch.randn(3, 4), torch.randn(6, 4), torch.randn(4, 4))
        with OpTrace("cpu", inputs) as trace:
            W = torch.cat((inputs[1], inputs[3]))
            result = torch.vmap(lambda x, h: torch.cat((x, h)) @ W)(inputs[0], inputs[2])
            result = torch.vmap(lambda v: torch.addr(result, v, v[:4]))(result[:, :6].T.contiguous()).sum(0)
        assert before != torch._C._dispatch_dump("aten::addr"), "vmap registered nothing new: the test tests nothing"
        assert trace.own_kernels == [], trace.own_kernels
        assert trace.outside([result]) == []
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _kernel_swapped_in_after_a_meta_dispatch(X, W_xh, H, W_hh):  # red team, round 19
    A, B = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)
    if A.device.type != "cpu":
        return torch.mm(A, B)
    torch.mm(A.to("meta"), B.to("meta"))  # mm's first dispatch, on another device than the call's
    with _own_kernel():
        return torch.mm(A, B)  # the kernel is gone again before the call returns


@pytest.mark.parametrize("group", ["fused", "devices"])
def test_a_kernel_swapped_in_for_a_product_within_a_call_earns_no_attested_point(group):
    """A product's table is read at every dispatch, and a dispatch on another device decides
    nothing for the call's own."""
    with pytest.raises(CheckFailure) as failure:
        run_all_then("q3_fused", group, _kernel_swapped_in_after_a_meta_dispatch)
    assert failure.value.cause == "own_kernel", str(failure.value)


class _Lazy(torch.Tensor):  # red team, round 20: numpy does the product below the trace
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        plain = [a.inner if isinstance(a, _Lazy) else a for a in args]
        if func.overloadpacket.__name__ == "mm" and plain[0].device.type == "cpu":
            return torch.from_numpy(plain[0].numpy() @ plain[1].numpy())
        return func(*plain, **(kwargs or {}))


def _product_in_a_subclass(X, W_xh, H, W_hh):
    XH = torch.cat((X, H), 1)
    wrapped = XH.as_subclass(_Lazy)
    wrapped.inner = XH
    return wrapped @ torch.cat((W_xh, W_hh), 0)


@pytest.mark.parametrize("group", ["fused", "devices", "timing"])
def test_a_product_run_by_a_tensor_subclass_earns_no_attested_point(group):
    with pytest.raises(CheckFailure) as failure:
        run_all_then("q3_fused", group, _product_in_a_subclass)
    assert failure.value.cause == "own_kernel", str(failure.value)
    assert "mm on _Lazy" in str(failure.value)


def _conv_passed_on_by_an_identity_product(X, W_xh, H, W_hh):  # red team, round 21 (found here)
    conv = torch.nn.functional.conv1d
    n, d, h = X.shape[0], X.shape[1], H.shape[1]
    Y = conv(X.T.unsqueeze(0), W_xh.T.unsqueeze(2)).squeeze(0).T + conv(H.T.unsqueeze(0), W_hh.T.unsqueeze(2)).squeeze(0).T
    zeros = dict(dtype=X.dtype, device=X.device)
    return torch.cat((Y, torch.zeros(n, d, **zeros)), 1) @ torch.cat((torch.eye(h, **zeros), torch.zeros(d, h, **zeros)), 0)


def _conv_in_a_buffer_a_tiny_product_wrote_into(X, W_xh, H, W_hh):  # red team, round 22
    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)
    n, h = X.shape[0], W.shape[1]
    buf = torch.empty_strided((2,), (n * h,), dtype=X.dtype, device=X.device)
    res = buf.as_strided((n, h, 1), (h, 1, 1), 0)
    res.copy_(torch.nn.functional.conv1d(XH.unsqueeze(2), W.t().unsqueeze(2)))
    torch.mm(XH[:1], W[:, :1], out=buf.as_strided((1, 1), (1, 1), n * h))
    return res.view(n, h)


@pytest.mark.parametrize("func,cause", [(_conv_passed_on_by_an_identity_product, "wrong_operands"),
                                        (_conv_in_a_buffer_a_tiny_product_wrote_into, "result_not_the_product")])
def test_other_work_passed_off_as_the_one_product_fails_fused(func, cause):
    with pytest.raises(CheckFailure) as failure:
        run_all_then("q3_fused", "fused", func)
    assert failure.value.cause == cause, str(failure.value)


def test_a_buffer_filled_slice_by_slice_keeps_what_its_data_came_from():
    from autograder.serving.trace import OpTrace
    inputs = (torch.randn(6, 3), torch.randn(3, 4), torch.randn(6, 4), torch.randn(4, 4))
    with OpTrace("cpu", inputs) as trace:
        X, W_xh, H, W_hh = inputs
        XH = torch.empty(6, 7)
        XH[:, :3] = X
        XH[:, 3:] = H
        result = XH @ torch.cat((W_xh, W_hh), 0)
    assert trace.from_products([result]) == [True]
    assert trace.product_inputs([result]) == [[[0, 2], [1, 3]]]
