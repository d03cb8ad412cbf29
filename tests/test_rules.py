"""autograder/rules.py and autograder/operators.py, what the judge, the runner's trace and the
public checks share: every side reads the same table and the same rule, in the grader and in the
student notebook's "Checks" cell as built."""

import ast

import pytest
import torch
import torch.nn.functional as F

from autograder import dist, operators, rules
from autograder.judge import causes, verify
from autograder.judge.questions import UndecidedFailure
from autograder.serving.trace import OpTrace

A, B, V = torch.randn(5, 7), torch.randn(7, 3), torch.randn(7)

#: every way a matrix product reaches aten: (label, code), each with the contraction size 7
PRODUCTS = [
    ("mm", lambda: torch.mm(A, B)),
    ("addmm", lambda: torch.addmm(torch.zeros(3), A, B)),
    ("_addmm_activation", lambda: torch._addmm_activation(torch.zeros(3), A, B)),
    ("bmm", lambda: torch.bmm(A[None], B[None])),
    ("baddbmm", lambda: torch.baddbmm(torch.zeros(1, 5, 3), A[None], B[None])),
    ("mv", lambda: torch.mv(A, V)),
    ("addmv", lambda: torch.addmv(torch.zeros(5), A, V)),
    ("dot", lambda: torch.dot(V, V)),
    ("vdot", lambda: torch.vdot(V, V)),
    ("@", lambda: A @ B),
    ("einsum", lambda: torch.einsum("nk,kh->nh", A, B)),
    ("linear", lambda: F.linear(A, B.T, torch.zeros(3))),
]


def _cell() -> dict:
    """The namespace of the student notebook's "Checks" cell, as ``make dist`` writes it."""
    namespace = {}
    exec(compile(dist.public_checks_source(), "public_checks", "exec"), namespace)
    return namespace


def _runner_products(code) -> list:
    with OpTrace("cpu") as trace:
        code()
    return [k for _, _, k in trace.ops if k is not None]


def _public_products(cell, code) -> list:
    with cell["_Trace"]() as trace:
        code()
    return [k for _, _, k in trace.ops if k is not None]


@pytest.mark.parametrize("label,code", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_the_runner_trace_and_the_public_checks_count_the_same_matrix_products(label, code):
    """One operator table: the runner's trace (which the judge's ``fused`` reads) and the public
    checks' trace in the notebook cell see exactly one product of inner size 7 in each."""
    runner, public = _runner_products(code), _public_products(_cell(), code)
    assert runner == public == [7], f"{label}: runner trace {runner}, public checks {public}"


def test_the_operator_tables_are_the_shared_ones():
    cell = _cell()
    assert cell["MATMUL_OPS"] == operators.MATMUL_OPS and cell["VIEW_OPS"] == operators.VIEW_OPS
    assert {"vdot", "_addmm_activation", "addmm", "mm", "bmm"} <= set(operators.MATMUL_OPS)
    from autograder.judge import fused
    from autograder.serving import trace
    assert fused.VIEW_OPS is operators.VIEW_OPS and trace.contraction_size is operators.contraction_size


@pytest.mark.parametrize("path,allowed", [(dist.RULES, {"math", "torch"}), (dist.OPERATORS, set())],
                         ids=["rules", "operators"])
def test_the_inlined_modules_import_only_torch_and_the_standard_library(path, allowed):
    """So that make dist can write their source into the notebook and it runs there on its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level], "relative import"
    assert imported <= allowed, imported


def test_an_ill_conditioned_float32_reference_is_undecided_for_the_judge():
    reference = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(rules.IllConditioned):
        rules.tolerance(torch.float32, reference, (reference + 1).float())
    with pytest.raises(UndecidedFailure, match="undecided"):
        verify.tolerance("float32", reference, (reference + 1).float())
    gap = 2e-6
    tol = verify.tolerance("float32", reference, (reference + gap).float())
    assert tol == rules.tolerance(torch.float32, reference, (reference + gap).float())
    assert tol["atol"] >= max(rules.TOLERANCES["float32"]["atol"], 0.95 * rules.FLOAT32_ERROR_MARGIN * gap)


def test_every_cause_code_of_the_rules_is_explained():
    g = torch.Generator().manual_seed(0)
    codes = {code for _, code, _ in rules.RAISED_CAUSES} | {rules.raised_cause("no such words")[0]}
    codes |= {code for code, _, _ in rules.likely_step_mistakes(*rules.step_inputs(g, 5, 3, 4, torch.float64))}
    codes |= {code for code, _, _ in rules.likely_sequence_mistakes(*rules.sequence_inputs(g, 3, 5, 3, 4, torch.float64))}
    codes |= {rules.shape_cause(shape, 5, 3, 4)[0] for shape in ((5, 7), (7, 4), (8, 4), (2, 2))}
    reference = torch.zeros(2, 2, dtype=torch.float64)
    codes.add(rules.mismatch(reference + 1, reference, rules.tolerance("float64"))[1])
    assert codes <= set(causes.CAUSES), codes - set(causes.CAUSES)


@pytest.mark.parametrize("n,h", [(1, 1), (1, 3), (4, 1), (5, 3)])
def test_a_product_scaled_by_a_number_stays_the_product_at_every_size(n, h):
    """The runner's trace follows the product's output through a scaling by a number, also when
    the product has a single element (a drawn n = h = 1 once cost a correct q3 its fused points),
    and a one-element tensor that is not a product never makes a sum count as one."""
    X, W = torch.randn(n, 6), torch.randn(6, h)
    with OpTrace("cpu", inputs=(X, W)) as trace:
        out = X @ W
        scale = out.abs().max().item() + 1.0
        kept = out * (scale / scale)
        other = X[:, :1].sum(1, keepdim=True).expand(n, h).contiguous()
        mixed = other + 0 * out
    assert trace.from_products([out, kept]) == [True, True]
    assert trace.from_products([mixed]) == [n * h == 1]
