"""The questions: one torch-free table from which the judge, the runner, the batch grader, the
benchmarks and the tests all derive. Each entry carries its check groups with their points, gates
and behaviours; ``make dist`` generates the hidden-test cells of the master notebook (one per
group, its points in the ``TEST CONFIG``) and the README's points table from it, after
:func:`validate`. Graders read the points back from the built test files with Otter's API.

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
    points: dict = field(default_factory=dict)  # group -> points of its hidden test
    gates: dict = field(default_factory=dict)  # group -> groups that must pass for it to pay
    host_sync: bool = True             # False: on CUDA the function may not synchronize with the host

    @property
    def names(self) -> tuple:
        """The notebook names the judge asks the runner for."""
        return (self.function,) if self.function else self.values

    def gate(self, group: str) -> tuple:
        return self.gates.get(group, ("values",) if group in ATTESTED else ())


STEP_ARGS = ("X", "W_xh", "H", "W_hh")
#: the two sides of the hidden-state product: the activations and the weights. No operator but a
#: matrix product may bring data of the two together (``fused`` fails otherwise)
SIDES = (("X", "H", "H0"), ("W_xh", "W_hh"))


def sides(arguments: tuple) -> list:
    """The indexes of ``arguments`` on each of :data:`SIDES`."""
    return [[i for i, name in enumerate(arguments) if name in side] for side in SIDES]

QUESTIONS = {q.name: q for q in (
    Question("q1_shapes", groups=("shapes",), values=("shape_XH", "shape_W"), points={"shapes": 2}),
    Question("q2_separate", groups=("values", "inputs", "devices"),
             function="hidden_state_separate", arguments=STEP_ARGS, results=("the result",), family="step",
             points={"values": 3, "inputs": 1, "devices": 1}),
    Question("q3_fused", groups=("values", "inputs", "devices", "fused", "timing"),
             function="hidden_state_fused", arguments=STEP_ARGS, results=("the result",), family="step",
             points={"values": 3, "inputs": 1, "devices": 1, "fused": 2, "timing": 1},
             gates={"fused": ("values", "timing"), "timing": ("values", "fused")}, host_sync=False),
    Question("q4_rnn_forward", groups=("values", "inputs", "devices", "fused"),
             function="rnn_forward", arguments=("X", "H0", "W_xh", "W_hh", "b_h"), results=("outputs", "H_T"),
             family="sequence", points={"values": 4, "inputs": 1, "devices": 1, "fused": 1}),
)}


class SpecError(Exception):
    """The question table is inconsistent; the message lists every problem."""


#: the input and reference families the judge knows (``autograder/judge/questions.py``)
FAMILIES = ("step", "sequence")


def problems(questions: dict = None) -> list:
    """Every inconsistency of the question table, in words (an empty list when it is sound)."""
    out = []
    for key, q in (QUESTIONS if questions is None else questions).items():
        where = f"spec entry {key!r}"
        if key != q.name:
            out.append(f"{where} is named {q.name!r}")
        if not q.groups or len(set(q.groups)) != len(q.groups):
            out.append(f"{where}: groups must be a non-empty tuple without repeats, got {q.groups!r}")
        unknown = [g for g in q.groups if g not in VERIFIED + ATTESTED]
        if unknown:
            out.append(f"{where}: unknown groups {unknown}; the judge checks {VERIFIED + ATTESTED}")
        if set(q.points) != set(q.groups):
            out.append(f"{where}: points must give every group its points exactly once: groups {list(q.groups)}, "
                       f"points for {list(q.points)}")
        bad = {g: p for g, p in q.points.items() if type(p) is not int or p < 0}
        if bad:
            out.append(f"{where}: points must be whole numbers >= 0, got {bad}")
        for group, needs in q.gates.items():
            if group not in q.groups or any(n not in q.groups or n == group for n in needs):
                out.append(f"{where}: gate {group!r} -> {needs!r} names a group the question does not have")
        if q.function:
            if q.family not in FAMILIES or not q.arguments or not q.results:
                out.append(f"{where}: a function question needs arguments, results and a family in {FAMILIES}")
        elif not q.values or q.groups != ("shapes",):
            out.append(f"{where}: a value question needs values=(...) and the single group 'shapes'")
    return out


def validate(questions: dict = None) -> None:
    found = problems(questions)
    if found:
        raise SpecError("autograder/spec.py is inconsistent:\n- " + "\n- ".join(found))

#: Every notebook name the judge may ask a runner for.
GRADED_NAMES = tuple(name for q in QUESTIONS.values() for name in q.names)

#: The functions timed against the reference fused step.
TIMED = tuple(q.function for q in QUESTIONS.values() if "timing" in q.groups)
