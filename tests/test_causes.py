"""Every likely-cause code the judge can give is one the class report can explain, and the named
mistakes are told apart by the values check (the report counts causes, so a wrong code is a
wrong count)."""

import ast
import pathlib
import random

import pytest
import torch

from autograder import rules
from autograder.judge import causes
from autograder.judge.questions import GRADED, CheckFailure
from autograder.judge.verify import expect_close

JUDGE = pathlib.Path(causes.__file__).parent
RAISERS = {"CheckFailure", "UndecidedFailure", "RunnerFailure"}


def _codes_in_source():
    """(file, line, code) of every literal cause code given to a failure in the judge's source."""
    found = []
    for path in sorted(JUDGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node.func, "id", getattr(node.func, "attr", "")) if isinstance(node, ast.Call) else ""
            if name in RAISERS | {"record"}:
                args = (node.args[1:2] if name in RAISERS else []) + [k.value for k in node.keywords if k.arg == "cause"]
                for value in _leaves(args):
                    found.append((path.name, node.lineno, value))
    return found


def _leaves(nodes):
    """The string constants an expression can evaluate to (through ``a if c else b``)."""
    for node in nodes:
        if isinstance(node, ast.IfExp):
            yield from _leaves([node.body, node.orelse])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_every_code_the_judge_raises_is_explained():
    found = _codes_in_source()
    assert len(found) > 30, "the scan found too few cause codes: it no longer reads the raise sites"
    unknown = [f for f in found if f[2] not in causes.CAUSES]
    assert not unknown, f"cause codes missing from autograder/judge/causes.py: {unknown}"


def test_named_mistakes_have_known_codes():
    rng = torch.Generator().manual_seed(0)
    X, W_xh, H, W_hh = (torch.randn(*s, generator=rng, dtype=torch.float64) for s in ((5, 3), (3, 4), (5, 4), (4, 4)))
    codes = [c for c, _, _ in rules.likely_step_mistakes(X, W_xh, H, W_hh)]
    T = torch.randn(6, 5, 3, generator=rng, dtype=torch.float64)
    codes += [c for c, _, _ in rules.likely_sequence_mistakes(T, H, W_xh, W_hh, torch.randn(4, dtype=torch.float64))]
    assert set(codes) <= set(causes.CAUSES) and {"missing_tanh", "missing_bias", "transposed_weight"} <= set(codes)


class _Value:
    def __init__(self, tensor):
        self.tensor, self.dtype = tensor, "float64"


@pytest.mark.parametrize("mistake", ["missing_tanh", "missing_bias"])
def test_a_sequence_mistake_is_named(mistake):
    graded = GRADED["q4_rnn_forward"]
    rng = random.Random(1)
    sizes = {"T": 5, "n": 4, "d": 3, "h": 6}
    args = graded.make_inputs(rng, sizes, torch.float64)
    wrong = {c: t for c, _, t in graded.mistakes(*args)}[mistake]
    with pytest.raises(CheckFailure, match="Likely cause") as info:
        expect_close(graded, _Value(wrong), graded.reference(*args)[0], "outputs", sizes,
                     lambda: graded.mistakes(*args))
    assert info.value.cause == mistake
    expect_close(graded, _Value(graded.reference(*args)[0]), graded.reference(*args)[0], "outputs", sizes,
                 lambda: graded.mistakes(*args))  # the right answer is not a mistake
