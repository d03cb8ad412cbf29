"""Stand-ins for a notebook's graded names in the judge's test environment.

Otter's hidden test files run in the judge against these, never against the submission's objects:
a :class:`FunctionProxy` calls the student's function in the runner on inputs the judge drew and
hands back what came out as checked data (:class:`Returned`); a :class:`ValueStandIn` fetches a
graded value as plain data.
"""

from dataclasses import dataclass, field

from .. import wire
from .questions import CheckFailure

MAX_TEXT = 200


def _text(value, default="?") -> str:
    return value[:MAX_TEXT] if type(value) is str else default


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

    @classmethod
    def decode(cls, desc, blobs, depth: int = 0) -> "Returned":
        if type(desc) is not dict:
            raise wire.WireError("malformed result")
        kind = desc.get("kind")
        if kind in ("tuple", "list") and depth == 0:
            items = desc.get("items")
            length = desc.get("length")
            if type(items) is not list or type(length) is not int or len(items) > 8:
                raise wire.WireError("malformed container")
            return cls(kind, kind, items=[cls.decode(i, blobs, 1) for i in items], length=length)
        if kind not in ("tensor", "subclass", "other"):
            raise wire.WireError("unknown result kind")
        out = cls(kind, _text(desc.get("type")), _text(desc.get("dtype"), ""), device=_text(desc.get("device"), ""))
        if "shape" in desc:
            out.shape = wire.describe_shape(desc["shape"])
        if kind == "tensor" and "blob" in desc:
            out.tensor = wire.tensor_from(desc, blobs)
        return out

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


class FunctionProxy:
    """The student's function, as the judge may use it: through the runner, on the judge's inputs."""

    def __init__(self, session, question):
        self.session, self.question = session, question

    def call(self, args, device="cpu", trace=False, check_inputs=False, forbid_sync=False, runner=None) -> Reply:
        session = self.session
        name = self.question.function
        if runner is None:
            session.ensure()
            if session.names.get(name) == "missing":
                raise CheckFailure(f"{name} is not defined: run its cell, and keep its name.")
            if session.names.get(name) != "function":
                raise CheckFailure(f"{name} is not a function.")
        metas, blobs = [], []
        for t in args:
            if device == "meta":
                metas.append({"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)})
            else:
                meta, raw = wire.tensor_blob(t, len(blobs))
                metas.append(meta)
                blobs.append(raw)
        header = {"op": "call", "name": name, "device": device, "trace": trace,
                  "check_inputs": check_inputs, "forbid_sync": forbid_sync, "inputs": metas}
        reply, reply_blobs = session.request(header, blobs, runner=runner)
        return decode_reply(reply, reply_blobs)


def decode_reply(reply: dict, blobs: list) -> Reply:
    if reply.get("ok") is True:
        attest = reply.get("attest")
        if type(attest) is not dict:
            raise wire.WireError("malformed attestation")
        return Reply(True, result=Returned.decode(reply.get("result"), blobs), attest=attest)
    return Reply(False, error=_text(reply.get("error"), "an error")[:600], where=_text(reply.get("where"), "")[:800])


class ValueStandIn:
    """A graded value (q1's shapes), fetched from the runner as plain data."""

    def __init__(self, session, name: str):
        self.session, self.name = session, name

    def get(self) -> dict:
        value = self.session.value(self.name)
        if type(value) is not dict:
            raise wire.WireError("malformed value")
        return value
