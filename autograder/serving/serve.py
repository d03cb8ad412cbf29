"""The runner's answers to the judge: values of graded names and calls of graded functions.

Requests (from the judge, over the wire of :mod:`autograder.wire`):

- ``{"op": "value", "name"}``: a graded value (q1's shapes) described as plain data;
- ``{"op": "call", "name", "device", "check_inputs", "forbid_sync", "inputs": [...]}`` with the
  input tensors as blobs (shapes only for ``meta``): the reply describes what came back, with the
  tensors as blobs, and attests what only this process can see: arguments modified in place (when
  asked), the operator trace of the call (always), and which results no traced operator made.

The same loop serves the reference runner, which the judge forks from itself with the reference
functions: the judge times both the same way, from outside.
"""

import os
import sys
import threading
import traceback

from .. import wire

#: how deep a returned container is described
MAX_ITEMS = 8


def describe_value(value) -> dict:
    """Plain data for a graded value: a tuple of ints stays one; anything else is named."""
    import torch
    kind = type(value)
    if kind in (torch.Size, tuple, list):
        items = list(value)[:MAX_ITEMS]
        if all(type(v) is int and abs(v) < 2**31 for v in items) and len(value) <= MAX_ITEMS:
            return {"kind": "ints", "type": kind.__name__, "items": items}
    return {"kind": "other", "type": f"{kind.__module__}.{kind.__qualname__}", "repr": repr(value)[:200]}


def _type_name(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def describe_result(value, blobs: list, depth: int = 0) -> dict:
    """What a function returned; plain CPU/CUDA tensors of float dtypes travel as blobs."""
    import torch
    kind = type(value)
    if kind in (tuple, list) and depth == 0:
        return {"kind": kind.__name__, "length": len(value),
                "items": [describe_result(v, blobs, 1) for v in list(value)[:MAX_ITEMS]]}
    if isinstance(value, torch.Tensor):
        out = {"kind": "tensor" if kind is torch.Tensor else "subclass", "type": _type_name(value),
               "dtype": str(value.dtype).removeprefix("torch."), "shape": [int(n) for n in value.shape],
               "device": value.device.type}
        if kind is torch.Tensor and value.device.type != "meta" and out["dtype"] in wire.DTYPES:
            meta, raw = wire.tensor_blob(value, len(blobs))
            blobs.append(raw)
            out["blob"] = meta["blob"]
        return out
    out = {"kind": "other", "type": _type_name(value)}
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        try:
            out.update(shape=[int(n) for n in value.shape], dtype=str(value.dtype))
        except (TypeError, ValueError):
            pass
    return out


def _inputs(request: dict, blobs: list) -> list:
    import torch
    device = request["device"]
    tensors = []
    for meta in request["inputs"]:
        if device == "meta":
            tensors.append(torch.empty(meta["shape"], dtype=getattr(torch, meta["dtype"]), device="meta"))
        else:
            tensors.append(wire.tensor_from(meta, blobs).to(device))
    return tensors


def call(func, request: dict, blobs: list) -> tuple:
    """Run one call request; returns the reply header and blobs."""
    import torch
    args = _inputs(request, blobs)
    check_inputs = request.get("check_inputs", False) and request["device"] != "meta"
    before = [(a._version, a.clone()) for a in args] if check_inputs else []
    threads = set(threading.enumerate())
    if request.get("forbid_sync"):
        torch.cuda.set_sync_debug_mode("error")
    from .trace import OpTrace
    try:
        with OpTrace(request["device"], args, request.get("sides", ())) as tracer:  # every call: no call looks different from a traced one
            out = func(*args)
        if request["device"] == "cuda":
            torch.cuda.synchronize()
    except BaseException as error:  # SystemExit and KeyboardInterrupt from student code included
        text = f"{type(error).__name__}: {error}"[:600]
        return {"ok": False, "error": text, "where": _student_frames(error)}, []
    finally:
        if request.get("forbid_sync"):
            torch.cuda.set_sync_debug_mode(0)
    reply_blobs = []
    reply = {"ok": True, "result": describe_result(out, reply_blobs)}
    attest = {}
    if check_inputs:
        # a thread the call started and left running could still change the inputs: none may live on
        for thread in set(threading.enumerate()) - threads:
            thread.join(0.05)
        running = any(t.is_alive() for t in set(threading.enumerate()) - threads)
        attest["modified"] = [i for i, (a, (version, copy)) in enumerate(zip(args, before))
                              if running or a._version != version or not torch.equal(a, copy)]
    attest["ops"], attest["op_count"] = tracer.ops, tracer.count
    returned = out if type(out) in (tuple, list) else [out]
    attest["outside"] = tracer.outside(returned)[:16]
    attest["from_product"] = tracer.from_products(returned)[:16]
    attest["own_kernels"] = tracer.own_kernels[:16]
    attest["product_inputs"] = tracer.product_inputs(returned)[:16]
    attest["mixed"] = tracer.mixed[:16]
    attest["trace_s"] = round(tracer.overhead, 4)
    reply["attest"] = attest
    return reply, reply_blobs


def warm_up() -> None:
    """One traced call through :func:`call`, on tiny tensors and a grader-made function: the first
    traced call of a process costs over a second of processor time (the dispatch mode, torch's
    lazy set-up of the operators); a process forked after this one starts warm."""
    import torch
    args = (torch.ones(2, 3), torch.ones(3, 2), torch.ones(2, 2), torch.ones(2, 2))
    metas, blobs = [], []
    for a in args:
        meta, raw = wire.tensor_blob(a, len(blobs))
        metas.append(meta)
        blobs.append(raw)
    request = {"op": "call", "name": "warm-up", "device": "cpu", "check_inputs": True, "inputs": metas}
    call(lambda X, W_xh, H, W_hh: torch.mm(torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)), request, blobs)


def _student_frames(error) -> str:
    """The last lines of the traceback that lie in the notebook (``<ipython-input...>`` cells)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(os.path.dirname(__file__))]
    return "".join(traceback.format_list(frames[-3:]))[-2000:]


def serve(requests_fd: int, replies_fd: int, namespace: dict, owner: int = None) -> None:
    """Answer requests until the judge closes the pipe. With ``owner``, only that process serves:
    a copy of it forked during a call (by the student's code) that comes back here leaves."""
    while True:
        if owner is not None and os.getpid() != owner:
            os._exit(0)
        try:
            request, blobs = wire.recv(requests_fd)
        except wire.WireClosed:
            return
        reply_blobs = []
        name = request.get("name")
        if name not in namespace:
            reply = {"ok": False, "missing": True, "error": f"{name} is not defined"}
        elif request.get("op") == "value":
            reply = {"ok": True, "value": describe_value(namespace[name])}
        elif not callable(namespace[name]):
            reply = {"ok": False, "error": f"{name} is not a function: it is a {_type_name(namespace[name])}"}
        else:
            try:
                reply, reply_blobs = call(namespace[name], request, blobs)
            except BaseException as error:  # describing the result can fail too (odd objects)
                reply = {"ok": False, "error": f"{type(error).__name__}: {error}"[:600]}
        reply["id"] = request.get("id")
        sys.stdout.flush()
        if owner is not None and os.getpid() != owner:
            os._exit(0)
        wire.send(replies_fd, reply, reply_blobs)
