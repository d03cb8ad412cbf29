"""Check groups run on plain functions, for the GPU check and the unit tests (torch only).

:class:`LocalSession` stands in for a submission: its "runner" is a fork of this process
serving the given functions (our own code, never a submission's) over the same wire.
"""

from .. import spec
from ..judge import checks, references
from ..judge.questions import GRADED
from ..judge.runners import ReferenceRunner
from ..judge.session import Session
from ..judge.stand_ins import FunctionProxy


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
        return self.runner



def run_group(question: str, group: str, func, cuda: bool = False) -> str:
    """One check group on ``func``: its note, or raises CheckFailure."""
    session = LocalSession({GRADED[question].function: func}, cuda)
    session.start_group()
    try:
        return checks.GROUPS[group](GRADED[question], FunctionProxy(session, GRADED[question]))
    finally:
        session.close()
