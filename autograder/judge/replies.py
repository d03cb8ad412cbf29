"""The runner's messages, decoded by the judge against a declared schema (msgspec, strict).

Everything a runner sends is hostile. Each header is converted with ``msgspec.convert(...,
strict=True)`` into the structs below: exact types (a bool is not an int, a list is not a
string), no unknown fields, bounded strings, lists and integers. What a schema cannot say is
checked right after, before any tensor is built: a container's announced length equals its item
count, a tensor's dimensions and their product are bounded, a blob index points at a blob of
exactly the announced size. Any failure here, of any kind, is a :class:`wire.WireError`: the
runner broke the protocol, its check fails, and nothing it said counts.
"""

from dataclasses import dataclass, field
from typing import Annotated, Literal

import msgspec

from .. import wire
from ..config import MAX_MESSAGE_BYTES

Text = Annotated[str, msgspec.Meta(max_length=4000)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
Dim = Annotated[int, msgspec.Meta(ge=0, lt=2**31)]
Shape = Annotated[list[Dim], msgspec.Meta(max_length=wire.MAX_DIMS)]
Index = Annotated[int, msgspec.Meta(ge=0, lt=1 << 16)]

#: the largest product of a shape's dimensions (zeros counted as one) the judge builds a tensor for
MAX_ELEMENTS = MAX_MESSAGE_BYTES
#: how many items a returned tuple or list may hold (the runner describes at most this many)
MAX_ITEMS = 8


class _Strict(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind"):
    pass


class TensorDesc(_Strict, tag="tensor"):
    type: Name
    dtype: Name
    shape: Shape
    device: Name
    blob: Index | None = None


class SubclassDesc(_Strict, tag="subclass"):
    type: Name
    dtype: Name
    shape: Shape
    device: Name


class OtherDesc(_Strict, tag="other"):
    type: Name
    shape: Shape | None = None
    dtype: Name | None = None


Item = TensorDesc | SubclassDesc | OtherDesc


class TupleDesc(_Strict, tag="tuple"):
    length: Annotated[int, msgspec.Meta(ge=0, lt=2**31)]
    items: Annotated[list[Item], msgspec.Meta(max_length=MAX_ITEMS)]


class ListDesc(TupleDesc, tag="list"):
    pass


ResultDesc = TensorDesc | SubclassDesc | OtherDesc | TupleDesc | ListDesc

Op = tuple[Name, Shape | None, Annotated[int, msgspec.Meta(ge=0, lt=2 ** 31)] | None]


class Attest(msgspec.Struct, forbid_unknown_fields=True):
    modified: Annotated[list[Index], msgspec.Meta(max_length=16)] | None = None
    ops: Annotated[list[Op], msgspec.Meta(max_length=1000)] | None = None
    op_count: Annotated[int, msgspec.Meta(ge=0)] | None = None
    outside: Annotated[list[Index], msgspec.Meta(max_length=16)] | None = None
    from_product: Annotated[list[bool | None], msgspec.Meta(max_length=16)] | None = None
    own_kernels: Annotated[list[Name], msgspec.Meta(max_length=16)] | None = None
    product_inputs: Annotated[list[Annotated[list[Annotated[list[Index], msgspec.Meta(max_length=16)]],
                                             msgspec.Meta(min_length=2, max_length=2)] | None],
                              msgspec.Meta(max_length=16)] | None = None
    trace_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] | None = None
    mixed: Annotated[list[Name], msgspec.Meta(max_length=16)] | None = None


class CallReply(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    ok: bool
    result: ResultDesc | None = None
    attest: Attest | None = None
    error: Text | None = None
    where: Text | None = None
    missing: bool = False


class IntsValue(_Strict, tag="ints"):
    type: Name
    items: Annotated[list[Annotated[int, msgspec.Meta(gt=-2**31, lt=2**31)]], msgspec.Meta(max_length=MAX_ITEMS)]


class OtherValue(_Strict, tag="other"):
    type: Name
    repr: Text = ""


class ValueReply(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    ok: bool
    value: IntsValue | OtherValue | None = None
    error: Text | None = None
    missing: bool = False


class Hello(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="hello"):
    python: Name
    torch: Name
    cuda: bool
    uid: int | None = None


class Ready(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="ready"):
    names: dict[Name, Literal["function", "value", "missing"]] | None = None
    error: Text | None = None


def convert(header, schema):
    """``header`` as ``schema``, or a WireError naming the first mismatch."""
    try:
        return msgspec.convert(header, type=schema, strict=True)
    except msgspec.ValidationError as error:
        raise wire.WireError(f"malformed message: {str(error)[:200]}") from None


# --- what the checks read -----------------------------------------------------------------------

@dataclass
class Returned:
    """What a function returned, as the judge rebuilt it from the runner's description."""
    kind: str                      # tensor, subclass, other, tuple, list
    type: str = ""
    dtype: str = ""
    shape: tuple = None
    device: str = ""
    tensor: object = None          # a CPU tensor built from the bytes sent, when any
    items: list = field(default_factory=list)
    length: int = 0

    def describe(self) -> str:
        if self.kind in ("tuple", "list"):
            return f"a {self.kind} of length {self.length}"
        if self.kind == "subclass":
            return f"a subclass of torch.Tensor ({self.type})"
        return f"an object of type {self.type}"


@dataclass
class Reply:
    ok: bool
    error: str = ""
    where: str = ""
    result: Returned = None
    attest: dict = field(default_factory=dict)


def bounded_shape(shape) -> tuple:
    """The shape as a tuple, after checking that a tensor of it can be built without overflow."""
    product = 1
    for n in shape:
        product *= max(n, 1)
    if product > MAX_ELEMENTS:
        raise wire.WireError("tensor shape too large")
    return tuple(shape)


def _returned(desc, blobs: list, used: set) -> Returned:
    if isinstance(desc, TupleDesc):
        if desc.length != len(desc.items):
            raise wire.WireError(f"a {_kind(desc)} announced {desc.length} items and sent {len(desc.items)}")
        kind = _kind(desc)
        return Returned(kind, kind, items=[_returned(i, blobs, used) for i in desc.items], length=desc.length)
    shape = bounded_shape(desc.shape) if desc.shape is not None else None
    out = Returned(_kind(desc), desc.type, desc.dtype or "", shape=shape, device=getattr(desc, "device", ""))
    if isinstance(desc, TensorDesc) and desc.blob is not None:
        if desc.blob in used:
            raise wire.WireError("two tensors share one blob")
        used.add(desc.blob)
        out.tensor = wire.tensor_from({"dtype": desc.dtype, "shape": list(shape), "blob": desc.blob}, blobs)
    return out


def _kind(desc) -> str:
    return {TensorDesc: "tensor", SubclassDesc: "subclass", OtherDesc: "other", TupleDesc: "tuple",
            ListDesc: "list"}[type(desc)]


def call_reply(header, blobs: list) -> Reply:
    """A call's reply as checked data; any violation of the protocol is a WireError."""
    reply = convert(header, CallReply)
    try:
        if not reply.ok:
            if reply.result is not None or reply.attest is not None or reply.error is None:
                raise wire.WireError("a failed call with a result, or without its error")
            return Reply(False, error=reply.error[:600], where=(reply.where or "")[-2000:])
        if reply.result is None or reply.attest is None or reply.error is not None or reply.missing:
            raise wire.WireError("a call's reply without its result and attestation")
        returned = _returned(reply.result, blobs, set())
        attest = {k: v for k, v in msgspec.structs.asdict(reply.attest).items() if v is not None}
        return Reply(True, result=returned, attest=attest)
    except wire.WireError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the data does to the decoder, it counts for nothing
        raise wire.WireError(f"malformed reply ({type(error).__name__})") from None


def value_reply(header) -> dict:
    """A graded value's description, as plain data: ``{"kind": "ints"|"other", ...}``."""
    reply = convert(header, ValueReply)
    if not reply.ok or reply.value is None:
        raise wire.WireError("a value reply without its value")
    value = msgspec.structs.asdict(reply.value)
    value["kind"] = "ints" if isinstance(reply.value, IntsValue) else "other"
    return value
