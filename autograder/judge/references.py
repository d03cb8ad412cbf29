"""Reference computations of the judge, in float64 on the CPU, on the inputs the judge drew."""

import torch


def _f64(*tensors, dtype=torch.float64):
    return tuple(t.detach().to(device="cpu", dtype=dtype) for t in tensors)


def separate(X, W_xh, H, W_hh, dtype=torch.float64):
    """(n, d) @ (d, h) + (n, h) @ (h, h) -> (n, h), in float64 (or ``dtype``)."""
    X, W_xh, H, W_hh = _f64(X, W_xh, H, W_hh, dtype=dtype)
    return X @ W_xh + H @ W_hh


def fused(X, W_xh, H, W_hh):
    """cat((X, H), 1) (n, d+h) @ cat((W_xh, W_hh), 0) (d+h, h) -> (n, h), in the inputs' dtype.

    The timing yardstick: what the reference runner runs, the same work as a correct answer.
    """
    return torch.mm(torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0))


def timed_functions() -> dict:
    """What the reference runner serves: the reference fused step under each timed name."""
    from ..spec import TIMED
    return {name: fused for name in TIMED}


def rnn_forward(X, H0, W_xh, W_hh, b_h, dtype=torch.float64):
    """``torch.nn.RNN`` (tanh, one layer, time-major) with copied weights, in float64 (or ``dtype``).

    X (T, n, d), H0 (n, h) -> outputs (T, n, h), H_T (n, h).
    """
    X, H0, W_xh, W_hh, b_h = _f64(X, H0, W_xh, W_hh, b_h, dtype=dtype)
    d, h = W_xh.shape
    rnn = torch.nn.RNN(d, h, nonlinearity="tanh", batch_first=False).to(dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(W_xh.T)
        rnn.weight_hh_l0.copy_(W_hh.T)
        rnn.bias_ih_l0.copy_(b_h)
        rnn.bias_hh_l0.zero_()
        outputs, h_n = rnn(X, H0.unsqueeze(0))
    return outputs, h_n[0]


def likely_step_mistakes(X, W_xh, H, W_hh):
    """Named wrong answers of shape (n, h), used only to word a failure message:
    ``[(cause code, likely cause, float64 tensor)]``."""
    X, W_xh, H, W_hh = _f64(X, W_xh, H, W_hh)
    return [
        ("transposed_weight", "W_hh is transposed (H @ W_hh.T)", X @ W_xh + H @ W_hh.T),
        ("missing_term", "the X @ W_xh term is missing", H @ W_hh),
        ("missing_term", "the H @ W_hh term is missing", X @ W_xh),
    ]


def likely_sequence_mistakes(X, H0, W_xh, W_hh, b_h):
    """Named wrong outputs (T, n, h) of an RNN forward pass, used only to word a failure message:
    ``[(cause code, likely cause, float64 tensor)]``."""
    X, H0, W_xh, W_hh, b_h = _f64(X, H0, W_xh, W_hh, b_h)

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
