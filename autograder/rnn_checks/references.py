"""Reference computations, always in float64 on the CPU, run after the student's call."""

from . import trusted


def _f64(*tensors):
    return tuple(trusted.to(trusted.detach(t), device="cpu", dtype=trusted.float64) for t in tensors)


def separate(X, W_xh, H, W_hh):
    """(n, d) @ (d, h) + (n, h) @ (h, h) -> (n, h), in float64."""
    X, W_xh, H, W_hh = _f64(X, W_xh, H, W_hh)
    return trusted.mm(X, W_xh) + trusted.mm(H, W_hh)


def fused(X, W_xh, H, W_hh):
    """cat((X, H), 1) (n, d+h) @ cat((W_xh, W_hh), 0) (d+h, h) -> (n, h), in the inputs' dtype.

    The timing yardstick: the same work a correct student function does.
    """
    return trusted.mm(trusted.cat((X, H), 1), trusted.cat((W_xh, W_hh), 0))


def rnn_forward(X, H0, W_xh, W_hh, b_h):
    """``torch.nn.RNN`` (tanh, one layer, time-major) with copied weights, in float64.

    X (T, n, d), H0 (n, h) -> outputs (T, n, h), H_T (n, h).
    """
    X, H0, W_xh, W_hh, b_h = _f64(X, H0, W_xh, W_hh, b_h)
    d, h = W_xh.shape
    rnn = trusted.nn_RNN(d, h, nonlinearity="tanh", batch_first=False).double()
    with trusted.no_grad():
        rnn.weight_ih_l0.copy_(W_xh.T)
        rnn.weight_hh_l0.copy_(W_hh.T)
        rnn.bias_ih_l0.copy_(b_h)
        rnn.bias_hh_l0.zero_()
        outputs, h_n = rnn(X, H0.unsqueeze(0))
    return outputs, h_n[0]


def likely_step_mistakes(X, W_xh, H, W_hh):
    """Named wrong answers of shape (n, h), used only to word a failure message."""
    X, W_xh, H, W_hh = _f64(X, W_xh, H, W_hh)
    mistakes = {
        "W_hh is transposed (H @ W_hh.T)": trusted.mm(X, W_xh) + trusted.mm(H, W_hh.T),
        "the X @ W_xh term is missing": trusted.mm(H, W_hh),
        "the H @ W_hh term is missing": trusted.mm(X, W_xh),
    }
    return mistakes
