"""A test double for a hostile runner: it speaks the real wire over real pipes from a thread of
the test process, serves the given functions with the runner's own reply code, and lets a test
rewrite every reply before it goes out (as a notebook that replaces the runner's reply code can).

The judge side is the production code: :class:`autograder.judge.session.Session`, Otter's hidden
test files from the built zip, :func:`autograder.judge.grade.grade`.
"""

import os
import threading

import torch

from autograder import rules, spec, wire
from autograder.judge import references
from autograder.judge.runners import Channel, Runner
from autograder.judge.session import Session
from autograder.serving import serve


def wrong_functions() -> dict:
    """A wrong answer for every question (each loses its values group honestly)."""
    return {
        "shape_XH": (3, 4), "shape_W": (4, 5),
        "hidden_state_separate": lambda X, W_xh, H, W_hh: X @ W_xh,
        "hidden_state_fused": lambda X, W_xh, H, W_hh: torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0) + 1,
        "rnn_forward": _rnn_without_tanh,
    }


def _rnn_without_tanh(X, H0, W_xh, W_hh, b_h):
    W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
    for X_t in X:
        H = torch.cat((X_t, H), 1) @ W + b_h
        outs.append(H)
    return torch.stack(outs), H


def correct_functions() -> dict:
    def rnn(X, H0, W_xh, W_hh, b_h):
        W, H, outs = torch.cat((W_xh, W_hh), 0), H0, []
        for X_t in X:
            H = torch.tanh(torch.cat((X_t, H), 1) @ W + b_h)
            outs.append(H)
        return torch.stack(outs), H
    return {
        "shape_XH": (3, 5), "shape_W": (5, 4),
        "hidden_state_separate": lambda X, W_xh, H, W_hh: X @ W_xh + H @ W_hh,
        "hidden_state_fused": rules.reference_fused_step,
        "rnn_forward": rnn,
    }


def honest_reply(namespace: dict, request: dict, blobs: list) -> tuple:
    """``(header, blobs)`` the runner's own reply code sends for ``request``."""
    name = request.get("name")
    if request.get("op") == "value":
        return {"ok": True, "value": serve.describe_value(namespace[name])}, []
    return serve.call(namespace[name], request, blobs)


class FakeRunner(Runner):
    """A runner thread; ``answer(request, blobs) -> (header, blobs) | bytes`` writes each reply
    (bytes go out raw, and the runner then exits). Pausing does nothing: nothing of it runs outside this thread."""

    def __init__(self, answer, hello=None, names=None, handshake=True):
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        self.channel = Channel(requests_w, replies_r)
        self._fds = (requests_r, replies_w)
        hello = hello or {"kind": "hello", "python": "3", "torch": torch.__version__, "cuda": False}
        names = names or {n: ("value" if n.startswith("shape_") else "function") for n in spec.GRADED_NAMES}
        self.thread = threading.Thread(target=self._serve, args=(answer, hello, names, handshake), daemon=True)
        self.thread.start()

    def _serve(self, answer, hello, names, handshake):
        requests_r, replies_w = self._fds
        try:
            if handshake:  # a submission's runner says hello and runs the notebook; the reference does not
                wire.send(replies_w, hello)
                wire.recv(requests_r)
                wire.send(replies_w, {"kind": "ready", "names": names})
            while True:
                request, blobs = wire.recv(requests_r)
                out = answer(request, blobs)
                if isinstance(out, bytes):  # garbage, then the runner is gone (no 20 s wait on a half message)
                    os.write(replies_w, out)
                    return
                header, reply_blobs = out
                header = {"id": request.get("id"), **header}
                data = wire.encode(header, reply_blobs)
                wire.send_encoded(replies_w, data)
        except (wire.WireError, OSError, ValueError, TypeError):
            pass
        finally:
            for fd in self._fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def processes(self) -> list:
        return []

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def kill(self) -> None:
        self.channel.close()


def reference_runner() -> FakeRunner:
    """The reference fused step served the honest way, from a thread."""
    functions = references.timed_functions()
    return FakeRunner(lambda request, blobs: honest_reply(functions, request, blobs), handshake=False)


def session(answer) -> Session:
    """A grading session whose every runner is a :class:`FakeRunner` with ``answer``."""
    return Session(lambda: FakeRunner(answer), "{}", "rnn_hidden_state.ipynb", notebook_limit=10,
                   start_reference=reference_runner)
