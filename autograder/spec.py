"""The questions: one torch-free table from which the judge, the runner, the batch grader, the
benchmarks and the tests all derive. Points are not here: they live in the master notebook's
``TEST CONFIG`` and are read from the built test files with Otter's API.

Groups are *verified* (the judge computes the verdict from data it checked itself: values,
timing) or *attested* (only the runner can observe it: in-place updates, devices, the operator
trace). An attested group pays only when every group in its ``gate`` passed.
"""

from dataclasses import dataclass, field

VERIFIED = ("shapes", "values", "timing")
ATTESTED = ("inputs", "devices", "fused")


@dataclass(frozen=True)
class Question:
    name: str
    groups: tuple                      # check groups, in the order the hidden tests run them
    function: str = ""                 # the graded function ("" for a value question)
    arguments: tuple = ()              # its argument names
    results: tuple = ()                # names of what it returns, e.g. ("outputs", "H_T")
    family: str = ""                   # the judge's inputs and reference: "step" or "sequence"
    values: tuple = ()                 # the graded names of a value question
    gates: dict = field(default_factory=dict)  # group -> groups that must pass for it to pay
    host_sync: bool = True             # False: on CUDA the function may not synchronize with the host

    @property
    def names(self) -> tuple:
        """The notebook names the judge asks the runner for."""
        return (self.function,) if self.function else self.values

    def gate(self, group: str) -> tuple:
        return self.gates.get(group, ("values",) if group in ATTESTED else ())


STEP_ARGS = ("X", "W_xh", "H", "W_hh")

QUESTIONS = {q.name: q for q in (
    Question("q1_shapes", groups=("shapes",), values=("shape_XH", "shape_W")),
    Question("q2_separate", groups=("values", "inputs", "devices"),
             function="hidden_state_separate", arguments=STEP_ARGS, results=("the result",), family="step"),
    Question("q3_fused", groups=("values", "inputs", "devices", "fused", "timing"),
             function="hidden_state_fused", arguments=STEP_ARGS, results=("the result",), family="step",
             gates={"fused": ("values", "timing"), "timing": ("values",)}, host_sync=False),
    Question("q4_rnn_forward", groups=("values", "inputs", "devices", "fused"),
             function="rnn_forward", arguments=("X", "H0", "W_xh", "W_hh", "b_h"), results=("outputs", "H_T"),
             family="sequence"),
)}

#: Every notebook name the judge may ask a runner for.
GRADED_NAMES = tuple(name for q in QUESTIONS.values() for name in q.names)

#: The functions timed against the reference fused step.
TIMED = tuple(q.function for q in QUESTIONS.values() if "timing" in q.groups)
