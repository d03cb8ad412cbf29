"""The wire between the judge and a runner: plain data only, never pickles.

One message is a 4-byte big-endian header length, the header (a UTF-8 JSON object), then the
blobs the header announces in ``"blobs"`` (a list of byte counts), back to back. Tensors travel
as blobs of raw little-endian bytes described in the header by ``{"dtype", "shape", "blob"}``.

The judge's side is strict: a whole message must arrive before a deadline (a sender that drips
bytes runs out of time), headers are capped and must be JSON objects without NaN or Infinity,
blob sizes are capped in total, and a blob becomes a tensor only for a dtype in ``DTYPES`` and a
shape whose size matches it exactly. Writes to a runner have a deadline too (a runner that stops
reading cannot block the judge).

``multiprocessing.connection`` frames messages too, but one ``recv_bytes`` cannot be bounded in
time against a sender that stops half-way, which is why this reads with ``select``.
"""

import fcntl
import json
import os
import select
import struct
import time

from .config import MAX_HEADER_BYTES, MAX_MESSAGE_BYTES

#: dtype name -> bytes per element: the only dtypes a blob may be read as
DTYPES = {"float32": 4, "float64": 8}
MAX_DIMS = 4
#: bytes a pipe of the wire holds (Linux's default is 64 KiB): a large tensor crosses in a
#: sixteenth of the system calls and wake-ups
PIPE_BYTES = 1 << 20


class WireError(Exception):
    """A message broke the protocol: too big, too slow, malformed, or the peer went away."""


class WireTimeout(WireError):
    """The peer did not answer before the deadline."""


class WireClosed(WireError):
    """The peer closed its end (it exited or was killed)."""


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


class Deadline:
    """A point in ``time.monotonic()`` that ``extend`` (optional: () -> seconds, 0 for none) may
    move on each time it is reached: the judge's wait for a function the machine kept waiting."""

    def __init__(self, at: float, extend=None):
        self.at, self.extend = at, extend

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0 and self.extend is not None:
            more = self.extend()
            if more > 0:
                self.at += more
                left = self.at - time.monotonic()
        return left


def _deadline(deadline):
    return Deadline(deadline) if isinstance(deadline, (int, float)) else deadline


def widen(*fds: int) -> None:
    """Let each pipe hold ``PIPE_BYTES`` where the kernel allows it (a user over its quota of
    pipe memory keeps the default: slower, never wrong)."""
    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass


def encode(header: dict, blobs=()) -> bytearray:
    """One message: the blobs (any bytes-like objects) are copied once, into the message."""
    blobs = [memoryview(b).cast("B") for b in blobs]
    head = json.dumps({**header, "blobs": [b.nbytes for b in blobs]}, allow_nan=False).encode()
    data = bytearray(4 + len(head) + sum(b.nbytes for b in blobs))
    data[:4] = struct.pack(">I", len(head))
    data[4:4 + len(head)] = head
    at = 4 + len(head)
    for b in blobs:
        data[at:at + b.nbytes] = b
        at += b.nbytes
    return data


def send(fd: int, header: dict, blobs=(), deadline: float = None) -> None:
    """Write one message; with a deadline the fd must be non-blocking (the judge's side)."""
    send_encoded(fd, encode(header, blobs), deadline)


def send_encoded(fd: int, data: bytes, deadline=None) -> None:
    """``deadline``: a ``time.monotonic()`` value or a :class:`Deadline`."""
    data, deadline = memoryview(data), _deadline(deadline)
    while data:
        if deadline is not None and not _ready(fd, deadline, write=True):
            raise WireTimeout("the runner stopped reading its requests")
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise WireClosed("the runner closed its requests pipe") from None


def _ready(fd: int, deadline: Deadline, write: bool = False) -> bool:
    """Wait until ``fd`` can be read (or written) or the deadline, however far it moves, passes."""
    while True:
        left = deadline.left()
        if left <= 0:
            return False
        if select.select([] if write else [fd], [fd] if write else [], [], left)[1 if write else 0]:
            return True


def _read_exactly(fd: int, size: int, deadline) -> bytearray:
    """``size`` bytes read straight into a buffer of their own (no chunks joined afterwards)."""
    data, got = bytearray(size), 0
    view = memoryview(data)
    while got < size:
        if deadline is not None and not _ready(fd, deadline):
            raise WireTimeout("no complete message before the deadline")
        try:
            count = os.readv(fd, [view[got:]])
        except BlockingIOError:
            continue
        if not count:
            raise WireClosed("the peer closed the pipe")
        got += count
    return data


def parse_header(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise WireError(f"malformed header: {type(error).__name__}") from None
    if type(header) is not dict:
        raise WireError("the header is not a JSON object")
    blobs = header.get("blobs", [])
    if type(blobs) is not list or not all(type(n) is int and n >= 0 for n in blobs):
        raise WireError("malformed blob sizes")
    if sum(blobs) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {sum(blobs)} bytes exceeds the cap of {MAX_MESSAGE_BYTES}")
    return header


def recv(fd: int, deadline=None) -> tuple:
    """``(header, [blob bytes])`` of the next message; ``deadline`` (a ``time.monotonic()`` value or
    a :class:`Deadline`) bounds the whole message."""
    deadline = _deadline(deadline)
    (size,) = struct.unpack(">I", _read_exactly(fd, 4, deadline))
    if size > MAX_HEADER_BYTES:
        raise WireError(f"header of {size} bytes exceeds the cap of {MAX_HEADER_BYTES}")
    header = parse_header(_read_exactly(fd, size, deadline))
    return header, [_read_exactly(fd, n, deadline) for n in header.pop("blobs", [])]


# --- tensors (torch is imported by the caller's process anyway; not at module level) ------------

def tensor_blob(t, index: int) -> tuple:
    """``({"dtype", "shape", "blob"}, raw bytes)`` of a CPU copy of ``t``, whatever its layout:
    any strides (size-1 dimensions with any stride, expanded, transposed, offset views) and
    conjugate or negative bits travel as the values they show, in row-major order."""
    import torch
    cpu = t.detach().to("cpu").resolve_conj().resolve_neg()
    flat = cpu.reshape(-1).clone() if cpu.numel() else cpu.reshape(-1)  # a fresh 1-d copy: stride 1, offset 0
    raw = memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else b""  # the copy's bytes, not copied again
    return {"dtype": str(cpu.dtype).removeprefix("torch."), "shape": list(cpu.shape), "blob": index}, raw


def describe_shape(shape) -> tuple:
    if type(shape) is not list or len(shape) > MAX_DIMS or not all(type(n) is int and 0 <= n < 2**31 for n in shape):
        raise WireError("malformed tensor shape")
    return tuple(shape)


def tensor_from(meta: dict, blobs: list):
    """A fresh CPU tensor from a description and its blob, after checking both strictly."""
    import torch
    if type(meta) is not dict or meta.get("dtype") not in DTYPES:
        raise WireError(f"tensor dtype not accepted: {meta.get('dtype') if type(meta) is dict else meta!r}")
    shape = describe_shape(meta.get("shape"))
    index = meta.get("blob")
    if type(index) is not int or not 0 <= index < len(blobs):
        raise WireError("tensor without its bytes")
    raw = blobs[index]
    count = 1
    for n in shape:
        count *= n
    if len(raw) != count * DTYPES[meta["dtype"]]:
        raise WireError("tensor bytes do not match its shape and dtype")
    dtype = getattr(torch, meta["dtype"])
    if not raw:
        return torch.empty(shape, dtype=dtype)
    # a buffer :func:`recv` filled is this tensor's alone (a blob becomes one tensor at most); any other is copied
    return torch.frombuffer(raw if type(raw) is bytearray else bytearray(raw), dtype=dtype).reshape(shape)
