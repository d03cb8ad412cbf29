"""Check groups run on plain functions in this process's own forks: the GPU check's way in, and
the unit tests' (torch only; no notebook, no sandbox, no Otter).

:class:`LocalSession` stands in for a submission: its "runner" is a fork of this process
serving the given functions (our own code, never a submission's) over the same wire.
"""

from .. import spec
from . import checks, references
from .questions import GRADED
from .runners import ReferenceRunner
from .session import Session
from .stand_ins import FunctionProxy


class LocalSession(Session):
    def __init__(self, functions: dict, cuda: bool = False, core: int = None):
        super().__init__(None, "", "rnn_hidden_state.ipynb",
                         start_reference=lambda: ReferenceRunner(references.timed_functions(), core))
        self.functions, self.core = functions, core
        self.cuda = cuda

    def ensure(self):
        if self.runner is None:
            self.runner = ReferenceRunner(self.functions, self.core)
            self.names = {n: "function" if n in self.functions else "missing" for n in spec.GRADED_NAMES}
            if self.group_deadline is not None:  # as a submission's runner: its start is not the group's time
                self.start_group()
        return self.runner


def run_group(question: str, group: str, func, cuda: bool = False) -> str:
    """One check group on ``func``: its note, or raises CheckFailure."""
    session = LocalSession({GRADED[question].function: func}, cuda)
    session.start_group()
    try:
        return checks.GROUPS[group](GRADED[question], FunctionProxy(session, GRADED[question]))
    finally:
        session.close()
