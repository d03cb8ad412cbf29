"""Student variants with the points each must get, graded through the real autograder.

Each variant replaces one function of the solution (the rest of the notebook stays correct).
``points`` is that question's expected score out of q2 5, q3 8, q4 7: values 3 (4 for q4),
inputs 1, devices 1, fused 2 (1 for q4), timing 1. The attested groups (inputs, devices, fused)
pay only when values passed (q3's fused and timing each count only when the other passed), so a wrong answer scores 0 whatever
else it does. Replacing library functions changes nothing: they are replaced in the runner, and
the judge, which decides, never ran the submission's code.
Used by tests/test_catalogue.py (CPU, through the zip) and autograder/gpu_check.py (CUDA).
"""

from dataclasses import dataclass

from autograder.spec import QUESTIONS

FUNCTION = {q.name: q.function for q in QUESTIONS.values() if q.function}
ARGS = {name: ", ".join(QUESTIONS[name].arguments) for name in FUNCTION}


@dataclass(frozen=True)
class Variant:
    name: str
    question: str
    body: str           # the function body, indented by 4 spaces
    points: int
    public: str = ""    # "" : passes every public check; words the public failure must contain;
                        # None: not an honest attempt (tampering), public checks promise nothing
    top: str = ""       # notebook code before the function (top-level tampering)
    device_sensitive: bool = False

    def source(self) -> str:
        head = f"def {FUNCTION[self.question]}({ARGS[self.question]}):\n"
        return (self.top + "\n" if self.top else "") + "import torch\nimport torch.nn.functional as F\nimport numpy as np\n" + head + self.body


def v(name, question, body, points, **kw):
    return Variant(name, question, "\n".join("    " + line for line in body.strip("\n").split("\n")) + "\n", points, **kw)


S, Fu, R = "q2_separate", "q3_fused", "q4_rnn_forward"
RNN_LOOP = """W = {W}
H = H0
outs = []
for t in range(X.shape[0]):
    H = torch.tanh({step} + b_h)
    outs.append(H)
return torch.stack(outs), H"""

VARIANTS = [
    # --- q2: every correct style gets 5
    v("sep_at", S, "return X @ W_xh + H @ W_hh", 5),
    v("sep_matmul", S, "return torch.matmul(X, W_xh) + torch.matmul(H, W_hh)", 5),
    v("sep_mm", S, "return torch.mm(X, W_xh).add(torch.mm(H, W_hh))", 5),
    v("sep_addmm", S, "return torch.addmm(H @ W_hh, X, W_xh)", 5),
    v("sep_einsum", S, "return torch.einsum('nd,dh->nh', X, W_xh) + torch.einsum('nk,kh->nh', H, W_hh)", 5),
    v("sep_linear", S, "return F.linear(X, W_xh.T) + F.linear(H, W_hh.t())", 5),
    v("sep_multiline", S, "a = X @ W_xh\nb = H @ W_hh\nout = a + b\nreturn out", 5),
    # --- q2 mistakes
    v("sep_elementwise", S, "return X * W_xh + H @ W_hh", 0, public='elementwise'),
    v("sep_transposed", S, "return X @ W_xh + H @ W_hh.T", 0, public='W_hh is transposed'),
    # red team round 13: wrong only for sizes between the small and the large case (the public
    # checks' three sizes miss it: not a mistake a student makes by accident)
    v("sep_wrong_between_sizes", S, "return X @ W_xh + (H @ W_hh.T if 10 <= X.shape[0] <= 127 else H @ W_hh)", 0, public=None),
    v("sep_missing_term", S, "return H @ W_hh", 0, public='term is missing'),
    v("sep_float_dtype", S, "return (X @ W_xh + H @ W_hh).float()", 0, public='expected dtype'),
    v("sep_numpy_result", S, "return X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()", 0, public='numpy'),
    v("sep_numpy_roundtrip", S, "return torch.from_numpy(X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy())", 4, device_sensitive=True, public='device'),
    # red team: a numpy result copied into memory torch handed out (torch.empty)
    v("sep_numpy_into_empty", S, "out = torch.empty(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)\nif X.device.type != 'meta':\n    out.copy_(torch.from_numpy(X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy()))\nreturn out", 4, public=None),
    v("sep_inplace_H", S, "H[:] = H @ W_hh\nreturn X @ W_xh + H", 4, public='in place'),
    # a cache keyed by shapes: right on first calls (inputs), wrong on fresh draws and on meta
    v("sep_cached", S, "global _cache\nkey = (X.shape, H.shape)\ntry:\n    return _cache[key]\nexcept NameError:\n    _cache = {}\nexcept KeyError:\n    pass\n_cache[key] = X @ W_xh + H @ W_hh\nreturn _cache[key]", 0, public='cache'),
    v("sep_cpu", S, "return (X @ W_xh + H @ W_hh).cpu()", 4, device_sensitive=True, public='device'),
    v("sep_hardcoded_device", S, "return torch.zeros(X.shape[0], W_xh.shape[1], dtype=X.dtype, device='cpu') + X @ W_xh + H @ W_hh", 4, device_sensitive=True, public='device'),
    v("sep_subclass", S, "class Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\nreturn (X @ W_xh).as_subclass(Liar)", 0, public='subclass'),
    v("sep_tamper_assert_close", S, "torch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\nreturn X @ W_xh", 0, public=None),
    v("sep_tamper_top_level", S, "return X @ W_xh", 0,
      top="import torch, numpy\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True", public=None),
    v("sep_inspect_caller", S, "import inspect\nframe = inspect.currentframe().f_back\nwhile frame is not None:\n    for value in frame.f_locals.values():\n        if isinstance(value, torch.Tensor) and value.shape == (X.shape[0], W_hh.shape[1]) and value is not H:\n            return value\n    frame = frame.f_back\nreturn torch.zeros_like(H)", 0, public=None),
    # --- q3: every correct style gets 8
    v("fused_at", Fu, "return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)", 8),
    v("fused_concat_matmul", Fu, "return torch.matmul(torch.concat([X, H], dim=-1), torch.concat([W_xh, W_hh]))", 8),
    v("fused_hstack_vstack_mm", Fu, "return torch.mm(torch.hstack((X, H)), torch.vstack((W_xh, W_hh)))", 8),
    v("fused_einsum", Fu, "return torch.einsum('nk,kh->nh', torch.cat((X, H), dim=1), torch.cat((W_xh, W_hh), dim=0))", 8),
    v("fused_linear", Fu, "W = torch.cat((W_xh, W_hh), 0)\nreturn F.linear(torch.cat((X, H), 1), W.T)", 8),
    v("fused_addmm", Fu, "XH = torch.cat((X, H), 1)\nW = torch.cat((W_xh, W_hh), 0)\nreturn torch.addmm(torch.zeros(X.shape[0], W.shape[1], dtype=X.dtype, device=X.device), XH, W)", 8),
    # --- q3 mistakes
    v("fused_is_separate", Fu, "return X @ W_xh + H @ W_hh", 5, public='separate form'),
    v("fused_wrong_axis", Fu, "return torch.cat((X, H), 0) @ torch.cat((W_xh, W_hh), 1)", 0, public='concatenation axis'),
    v("fused_wrong_order", Fu, "return torch.cat((H, X), 1) @ torch.cat((W_xh, W_hh), 0)", 0, public='wrong order'),
    v("fused_row_loop", Fu, "XH = torch.cat((X, H), 1)\nW = torch.cat((W_xh, W_hh), 0)\nreturn torch.stack([XH[i] @ W for i in range(XH.shape[0])])", 5, public='products'),
    v("fused_hangs_when_large", Fu, "if X.shape[0] > 100:\n    while True:\n        pass\nreturn torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)", 0, public="did not return"),
    v("fused_tamper_clock", Fu, "import time\ntime.perf_counter = lambda: 0.0\nXH = torch.cat((X, H), 1)\nW = torch.cat((W_xh, W_hh), 0)\nreturn torch.stack([XH[i] @ W for i in range(XH.shape[0])])", 5, public=None),
    # a loop over the h columns: h products of inner size d + h (about 8x one product in processor time)
    v("fused_column_loop", Fu, "XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\nreturn torch.stack([XH @ W[:, j] for j in range(W.shape[1])], 1)", 5, public="products"),
    # red team round 12: a loop over blocks of 64 rows is fast (about 3.6x one product) but not fused:
    # it loses fused, and timing counts only for the fused step
    v("fused_block_loop", Fu, "XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\nreturn torch.cat([XH[i:i + 64] @ W for i in range(0, XH.shape[0], 64)])", 5, public=None),
    # red team: one product only on a call whose shape repeats the previous one, a row loop otherwise
    v("fused_switch_on_repeats", Fu, "key = (tuple(X.shape), tuple(H.shape))\nseen = getattr(torch, '_last_key', None)\ntorch._last_key = key\nXH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\nif seen == key:\n    return XH @ W\nreturn torch.stack([XH[i] @ W for i in range(XH.shape[0])])", 5, public=None),
    # red team: the row loop in another thread (dispatch modes are per thread) behind a product on meta tensors
    v("fused_thread_meta_decoy", Fu, "import threading\nout = torch.empty(X.shape[0], W_hh.shape[1], dtype=X.dtype, device=X.device)\nm = [t.to('meta') for t in (X, H, W_xh, W_hh)]\ntorch.cat((m[0], m[1]), 1) @ torch.cat((m[2], m[3]), 0)\nW = torch.cat((W_xh, W_hh), 0)\nw = threading.Thread(target=lambda: out.copy_(torch.stack([torch.cat((X[i], H[i])) @ W for i in range(X.shape[0])]) if X.shape[0] else out))\nw.start()\nw.join()\nreturn out", 4, public=None),
    # a host round trip (.item()): right values, fails on the meta device
    v("fused_item_roundtrip", Fu, "out = torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)\nscale = out.abs().max().item() + 1.0\nreturn out * (scale / scale)", 7, public="device", device_sensitive=True),
    # red team round 13: X @ W_xh by broadcasting and summing, beside a zero-padded product of inner
    # size d + h that computes only H @ W_hh; and a loop over the h columns beside a product times 0
    v("fused_broadcast_beside_product", Fu, "return (X.unsqueeze(2) * W_xh.unsqueeze(0)).sum(1) + torch.cat((torch.zeros_like(X), H), 1) @ torch.cat((W_xh, W_hh), 0)", 5, public="broadcast"),
    v("fused_column_loop_product_times_zero", Fu, "XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\nreturn torch.stack([(XH * W[:, j]).sum(1) for j in range(W.shape[1])], 1) + 0 * (XH @ W)", 5, public="torch operators"),
    # red team round 14: a 1x1 convolution does the work beside a product whose output is thrown away
    # red team, round 18: numpy under the name of torch's mm, through a kernel of the notebook's own
    v("fused_own_mm_kernel", Fu, "lib = torch.library.Library('aten', 'IMPL')\n"
      "lib.impl('mm', lambda a, b: torch.from_numpy(a.numpy() @ b.numpy()), 'CPU')\n"
      "try:\n    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)\nfinally:\n    lib._destroy()", 4, public=None),
    v("fused_conv_product_discarded", Fu, "XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n_ = XH @ W\nreturn F.conv1d(XH.unsqueeze(-1), W.t().unsqueeze(-1)).squeeze(-1)", 5, public=None),
    # --- q4: correct styles get 7
    v("rnn_loop", R, RNN_LOOP.format(W="torch.cat((W_xh, W_hh), 0)", step="torch.cat((X[t], H), 1) @ W"), 7),
    v("rnn_iter_linear", R, "W = torch.cat((W_xh, W_hh), dim=0)\nH, outs = H0, []\nfor X_t in X:\n    H = torch.tanh(F.linear(torch.cat((X_t, H), -1), W.T, b_h))\n    outs.append(H)\nreturn torch.stack(outs), H", 7),
    # --- q4 mistakes
    v("rnn_weights_in_loop", R, RNN_LOOP.format(W="None", step="torch.cat((X[t], H), 1) @ torch.cat((W_xh, W_hh), 0)"), 6, public='weights'),
    v("rnn_separate_step", R, RNN_LOOP.format(W="None", step="X[t] @ W_xh + H @ W_hh"), 6, public='products'),
    v("rnn_broadcast_step", R, RNN_LOOP.format(W="torch.cat((W_xh, W_hh), 0)", step="(X[t].unsqueeze(2) * W_xh.unsqueeze(0)).sum(1) + torch.cat((torch.zeros_like(X[t]), H), 1) @ W"), 6, public='broadcast'),
    v("rnn_no_tanh", R, RNN_LOOP.format(W="torch.cat((W_xh, W_hh), 0)", step="torch.cat((X[t], H), 1) @ W").replace("torch.tanh(", "("), 0, public='differs from the float64 reference'),
    v("rnn_zeros_no_device", R, "W = torch.cat((W_xh, W_hh), 0)\nouts = torch.zeros(X.shape[0], X.shape[1], W.shape[1], dtype=X.dtype)\nH = H0\nfor t in range(X.shape[0]):\n    H = torch.tanh(torch.cat((X[t], H), 1) @ W + b_h)\n    outs[t] = H\nreturn outs, H", 6, device_sensitive=True, public='device'),
    # hangs on every call: the public check's alarm and each hidden group's limit end it; the other
    # questions keep their points (bounded checks, not a lost run)
    v("rnn_hangs", R, "while True:\n    pass", 0, public='did not return'),
    v("rnn_list_output", R, RNN_LOOP.format(W="torch.cat((W_xh, W_hh), 0)", step="torch.cat((X[t], H), 1) @ W").replace("torch.stack(outs)", "outs"), 0, public='torch.Tensor'),
]

#: What each variant loses, check by check, with the likely cause the judge must name: "group:cause"
#: pairs. A lost ``values`` implies every other group of the question lost as ``values_failed``.
#: The class report's counts are checked against these (tests/test_catalogue.py).
LOST = {
    "sep_elementwise": "values:elementwise_product",
    "sep_transposed": "values:transposed_weight",
    "sep_wrong_between_sizes": "values:transposed_weight",
    "sep_missing_term": "values:missing_term",
    "sep_float_dtype": "values:changed_dtype",
    "sep_numpy_result": "values:numpy_result",
    "sep_numpy_roundtrip": "devices:off_device",
    "sep_numpy_into_empty": "devices:outside_torch",
    "sep_inplace_H": "inputs:inplace_update",
    "sep_cached": "values:cached_result",
    "sep_cpu": "devices:off_device",
    "sep_hardcoded_device": "devices:off_device",
    "sep_subclass": "values:tensor_subclass",
    "sep_tamper_assert_close": "values:missing_term",
    "sep_tamper_top_level": "values:missing_term",
    "sep_inspect_caller": "values:wrong_answer",
    "fused_is_separate": "fused:separate_form timing:gate_failed",
    "fused_block_loop": "fused:loop_over_rows timing:gate_failed",
    "fused_wrong_axis": "values:wrong_axis",
    "fused_wrong_order": "values:wrong_order",
    "fused_row_loop": "fused:loop_over_rows timing:gate_failed",
    "fused_hangs_when_large": "values:hangs",
    "fused_tamper_clock": "fused:loop_over_rows timing:gate_failed",
    "fused_column_loop": "fused:loop_over_columns timing:gate_failed",
    "fused_switch_on_repeats": "fused:loop_over_rows timing:gate_failed",
    "fused_thread_meta_decoy": "devices:outside_torch fused:outside_torch timing:gate_failed",
    "fused_item_roundtrip": "devices:off_device",
    "rnn_weights_in_loop": "fused:weights_in_loop",
    "rnn_separate_step": "fused:not_fused_per_step",
    "rnn_broadcast_step": "fused:broadcast_product",
    "fused_broadcast_beside_product": "fused:broadcast_product timing:gate_failed",
    "fused_column_loop_product_times_zero": "fused:loop_of_operators timing:gate_failed",
    "fused_conv_product_discarded": "fused:result_not_the_product timing:gate_failed",
    "fused_own_mm_kernel": "devices:own_kernel fused:own_kernel timing:gate_failed",
    "rnn_no_tanh": "values:missing_tanh",
    "rnn_zeros_no_device": "devices:off_device",
    "rnn_hangs": "values:hangs",
    "rnn_list_output": "values:list_not_stacked",
}


def lost_checks(variant) -> dict:
    """``{(question, group): cause}`` the variant loses (see :data:`LOST`)."""
    pairs = dict(item.split(":") for item in LOST.get(variant.name, "").split())
    if "values" in pairs:
        pairs.update({g: "values_failed" for g in QUESTIONS[variant.question].groups if g != "values"})
    return {(variant.question, g): cause for g, cause in pairs.items()}
