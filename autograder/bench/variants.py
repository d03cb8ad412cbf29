"""Notebooks for the benchmarks: the correct solution with one function replaced."""

import nbformat

#: q3 functions the timing benchmark and the GPU check measure: (source, correct?)
FUSED = {
    "correct (cat + @)": ("return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)", True),
    "correct (einsum)": ("return torch.einsum('nk,kh->nh', torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0))", True),
    "correct (addmm, zeros)": ("W = torch.cat((W_xh, W_hh), 0)\nreturn torch.addmm(torch.zeros(X.shape[0], W.shape[1], "
                               "dtype=X.dtype, device=X.device), torch.cat((X, H), 1), W)", True),
    "row loop": ("XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                 "return torch.stack([XH[i] @ W for i in range(XH.shape[0])])", False),
    "row loop of mm on slices": ("W = torch.cat((W_xh, W_hh), 0)\nreturn torch.cat([torch.mm(torch.cat((X[i:i+1], "
                                 "H[i:i+1]), 1), W) for i in range(X.shape[0])])", False),
    "column loop (h products)": ("XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                                 "return torch.stack([XH @ W[:, j] for j in range(W.shape[1])], 1)", False),
    # a row loop beside processes that fork and exit faster than anyone can list them, burning the core
    "row loop + fork-hoppers": ("import os, time\nif not getattr(torch, '_hoppers', 0):\n    torch._hoppers = 1\n"
                                "    for _ in range(3):\n        if os.fork() == 0:\n            while True:\n"
                                "                if os.fork() == 0:\n                    sum(range(200000))\n"
                                "                    os._exit(0)\n                time.sleep(0.003)\n"
                                "XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                                "return torch.stack([XH[i] @ W for i in range(XH.shape[0])])", False),
    # one product on a call whose shape repeats the previous call's, a row loop otherwise (red team)
    "switch on repeated shapes": ("key = (tuple(X.shape), tuple(H.shape))\nseen = getattr(torch, '_last_key', None)\n"
                                  "torch._last_key = key\nXH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                                  "if seen == key:\n    return XH @ W\n"
                                  "return torch.stack([XH[i] @ W for i in range(XH.shape[0])])", False),
}


def function_source(name: str, args: str, body: str) -> str:
    return (f"import torch\nimport torch.nn.functional as F\ndef {name}({args}):\n"
            + "".join(f"    {line}\n" for line in body.split("\n")))


def replace_function(notebook_text: str, name: str, source: str) -> str:
    """The notebook with the cell defining ``name`` replaced by ``source``."""
    nb = nbformat.reads(notebook_text, 4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {name}(")]
    cell.source = source
    return nbformat.writes(nb)

#: loops that pass the timing limit by design: a loop over the h columns is a bounded slowdown
#: (7-8x idle, 3x under heavy load), so the limit sits above it; it always fails ``fused``
FAST_ENOUGH = frozenset({"column loop (h products)"})

#: timing attacks: processes beside the function, not a behaviour of the function on a device
TIMING_ATTACKS = frozenset({"row loop + fork-hoppers"})

#: device-sensitive mistakes and a correct control: (question, body, groups that must fail)
DEVICE = {
    "q2 correct (@)": ("q2_separate", "return X @ W_xh + H @ W_hh", ()),
    "q2 .cpu() on the result": ("q2_separate", "return (X @ W_xh + H @ W_hh).cpu()", ("devices",)),
    "q2 numpy round trip": ("q2_separate", "return torch.from_numpy(X.numpy() @ W_xh.numpy() + H.numpy() @ W_hh.numpy())",
                            ("devices",)),
    "q2 zeros without device=": ("q2_separate", "return torch.zeros(X.shape[0], W_xh.shape[1], dtype=X.dtype) + X @ W_xh "
                                 "+ H @ W_hh", ("devices",)),
    "q4 correct loop": ("q4_rnn_forward", "W = torch.cat((W_xh, W_hh), 0)\nH, outs = H0, []\nfor X_t in X:\n"
                        "    H = torch.tanh(torch.cat((X_t, H), 1) @ W + b_h)\n    outs.append(H)\n"
                        "return torch.stack(outs), H", ()),
    "q4 outputs without device=": ("q4_rnn_forward", "W = torch.cat((W_xh, W_hh), 0)\nouts = torch.zeros(X.shape[0], "
                                   "X.shape[1], W.shape[1], dtype=X.dtype)\nH = H0\nfor t in range(X.shape[0]):\n"
                                   "    H = torch.tanh(torch.cat((X[t], H), 1) @ W + b_h)\n    outs[t] = H\nreturn outs, H",
                                   ("devices",)),
}
