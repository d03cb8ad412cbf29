"""Stand-ins for a notebook's graded names in the judge's test environment.

Otter's hidden test files run in the judge against these, never against the submission's objects:
a :class:`FunctionProxy` calls the student's function in the runner on inputs the judge drew and
hands back what came out as checked data (:class:`replies.Returned`); a :class:`ValueStandIn` fetches a
graded value as plain data.
"""

from .. import wire
from ..spec import sides
from . import replies
from .questions import CheckFailure


class FunctionProxy:
    """The student's function, as the judge may use it: through the runner, on the judge's inputs."""

    def __init__(self, session, question):
        self.session, self.question = session, question

    def call(self, args, device="cpu", check_inputs=False, forbid_sync=False, runner=None) -> replies.Reply:
        session = self.session
        name = self.question.function
        if runner is None:
            session.ensure()
            if session.names.get(name) == "missing":
                raise CheckFailure(f"{name} is not defined: run its cell, and keep its name.", "not_defined")
            if session.names.get(name) != "function":
                raise CheckFailure(f"{name} is not a function.", "not_a_function")
        header, blobs = self.encode(args, device, check_inputs=check_inputs, forbid_sync=forbid_sync)
        reply, reply_blobs = session.request(header, blobs, runner=runner)
        reply = replies.call_reply(reply, reply_blobs)
        if reply.ok:
            session.credit(reply.attest.get("trace_s", 0.0))
        return reply

    def encode(self, args, device="cpu", **options) -> tuple:
        """``(header, blobs)`` of a call request on ``args`` (shapes only for ``meta``)."""
        metas, blobs = [], []
        for t in args:
            if device == "meta":
                metas.append({"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)})
            else:
                meta, raw = wire.tensor_blob(t, len(blobs))
                metas.append(meta)
                blobs.append(raw)
        return {"op": "call", "name": self.question.function, "device": device, **options,
                "sides": sides(self.question.spec.arguments), "inputs": metas}, blobs


class ValueStandIn:
    """A graded value (q1's shapes), fetched from the runner as plain data."""

    def __init__(self, session, name: str):
        self.session, self.name = session, name

    def get(self) -> dict:
        return self.session.value(self.name)
