"""The public checks, run as a student runs them: every catalogue variant is put into the student's
notebook (public tests only), executed top to bottom in a fresh kernel, and the output of its
question's ``grader.check`` cell is read. Every valid style passes every public check; every
honest mistake fails one whose message names it. Public checks carry no points."""

import ast
import concurrent.futures
import json
import re
from datetime import datetime

import nbformat
import pytest

from autograder import operators
from autograder.judge.shapes import EXPECTED as SHAPES

from catalogue import FUNCTION, LOST, VARIANTS
from conftest import FULL, dist, execute_notebook
from test_catalogue import variant_notebook

HONEST = [v for v in VARIANTS if v.public is not None]


def _check_outputs(nb) -> dict:
    """``{question: text of its grader.check cell's outputs}``."""
    out = {}
    for cell in nb.cells:
        found = re.search(r'grader\.check\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
        if found:
            out[found.group(1)] = "\n".join(
                o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) + str(o.get("evalue", ""))
                for o in cell.outputs)
    return out


def _run(args):
    """Execute one notebook as a student would (the ungraded exploration left out: it times the
    student's functions over many sizes and would only wait on the hanging variants)."""
    source, folder = args
    from pathlib import Path
    nb = nbformat.reads(source, 4)
    nb.cells = [c for c in nb.cells if "otter_ignore" not in c.get("metadata", {}).get("tags", [])]
    try:
        executed, seconds, _ = execute_notebook(nbformat.writes(nb), Path(folder))
    except Exception as error:  # reported by the test of this variant, not by the whole module
        return {"error": f"{type(error).__name__}: {error}"}, 0.0
    return _check_outputs(executed), seconds


@pytest.fixture(scope="module")
def public_runs(built, tmp_path_factory):
    solution = nbformat.reads(built[dist.SOLUTION_SUBMISSION], 4)
    jobs = [(nbformat.writes(variant_notebook(solution, v)), str(tmp_path_factory.mktemp(v.name))) for v in HONEST]
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_run, jobs))
    return {v.name: r for v, r in zip(HONEST, results)}


def test_the_student_notebook_carries_no_hidden_test_and_no_points(built):
    nb = nbformat.reads(built[dist.STUDENT], 4)
    tests = nb.metadata["otter"]["tests"]
    for question, source in tests.items():
        assert "points: 0" in source or "points=0" in source, f"{question}: public checks must carry no points"
    checks_cell = [c for c in nb.cells if "public_checks" in c.get("metadata", {}).get("tags", [])]
    assert len(checks_cell) == 1 and "def public_check(" in checks_cell[0].source


def test_passing_every_public_check_means_full_hidden_marks():
    """For every honest catalogue variant (one with a public expectation): it passes every public
    check (``public == ""``) exactly when it gets full hidden marks (no :data:`catalogue.LOST`
    entry, and the question's full points). Both halves are enforced by their own tests, so this
    equivalence of expectations is one of verdicts: the public half by
    :func:`test_public_checks_pass_every_valid_style_and_name_every_mistake` (the notebook run as a
    student runs it), the hidden half by tests/test_catalogue.py's
    ``test_variant_scores_as_expected`` and ``test_the_expected_lost_checks_add_up_to_the_expected_points``
    (graded through the zip)."""
    disagree = [(v.name, repr(v.public), LOST.get(v.name, "full marks"), v.points) for v in HONEST
                if not (v.public == "") == (v.name not in LOST) == (v.points == FULL[v.question])]
    assert disagree == [], f"public and hidden verdicts disagree: {disagree}"


def _top_level_names(source: str) -> set:
    """Names a module's source defines at its top level (functions, classes, assignments)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def test_the_checks_cell_holds_the_judges_rules_and_no_copy_of_them(built):
    """The student notebook's "Checks" cell holds autograder/rules.py's source, as the judge runs
    it, and imports nothing from ``autograder`` (students download one notebook). public_checks.py
    defines none of rules.py's names itself, nor a tolerance or an operator name of its own, so a
    private copy cannot creep back; no name of the cell shadows a graded answer or another part."""
    nb = nbformat.reads(built[dist.STUDENT], 4)
    (cell,) = [c for c in nb.cells if "public_checks" in c.get("metadata", {}).get("tags", [])]
    shared_source = dist.RULES.read_text(encoding="utf-8")
    table_source = dist.OPERATORS.read_text(encoding="utf-8")
    assert shared_source in cell.source and table_source in cell.source
    imports = [node for node in ast.walk(ast.parse(cell.source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not [ast.unparse(node) for node in imports if "autograder" in ast.unparse(node)]

    checks_source = dist.PUBLIC_CHECKS.read_text(encoding="utf-8")
    shared = _top_level_names(shared_source) | _top_level_names(table_source)
    tree = ast.parse(checks_source)
    imported = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module in ("autograder.rules",
                                                                                          "autograder.operators")]
    assert len(imported) == 2 and {a.name for n in imported for a in n.names} <= shared
    own = _top_level_names(dist.without_import(dist.without_import(checks_source, "autograder.rules"),
                                               "autograder.operators"))
    assert not own & shared, f"public_checks.py defines names of autograder/rules.py itself: {own & shared}"
    tolerances = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg in ("rtol", "atol")
                  or isinstance(n, ast.Dict) and {"rtol", "atol"} & {getattr(k, "value", None) for k in n.keys}]
    assert not tolerances, f"a tolerance of its own: {tolerances}"
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not {c for c in constants if isinstance(c, str)} & (set(operators.MATMUL_OPS) | operators.VIEW_OPS), \
        "an operator table of its own"

    receipt = _top_level_names(dist.RECEIPT.read_text(encoding="utf-8"))
    parts = {"rules and operators": shared, "public_checks": own, "receipt": receipt}
    for a in parts:
        for b in parts:
            assert a >= b or not parts[a] & parts[b], f"{a} and {b} both define {parts[a] & parts[b]}"
    answers = set(FUNCTION.values()) | set(SHAPES)
    assert not (shared | own | receipt) & answers, "the Checks cell would shadow a student's answer"


@pytest.mark.parametrize("variant", HONEST, ids=[v.name for v in HONEST])
def test_public_checks_pass_every_valid_style_and_name_every_mistake(public_runs, variant):
    outputs, _ = public_runs[variant.name]
    assert "error" not in outputs, outputs.get("error")
    text = outputs[variant.question]
    if variant.public == "":
        assert "All test cases passed" in text, f"{variant.name}: a valid style failed a public check:\n{text}"
    else:
        assert "All test cases passed" not in text, f"{variant.name} passed every public check:\n{text}"
        assert variant.public.lower() in text.lower(), f"{variant.name}: no public message says {variant.public!r}:\n{text}"
    for question, other in outputs.items():
        if question != variant.question:
            assert "All test cases passed" in other, f"{variant.name}: {question} failed:\n{other}"


def test_every_question_prints_a_compact_verdict(executed_solution):
    nb, _, _ = executed_solution
    outputs = _check_outputs(nb)
    assert set(outputs) == set(FULL)
    assert "q3_fused: values ✓" in outputs["q3_fused"] and "speed ✓" in outputs["q3_fused"]


def test_public_checks_take_a_few_seconds_per_question(executed_solution):
    nb, _, _ = executed_solution
    seconds = {}
    for cell in nb.cells:
        found = re.search(r'grader\.check\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
        timing = cell.get("metadata", {}).get("execution", {})
        if found and "iopub.execute_input" in timing:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            seconds[found.group(1)] = (end - start).total_seconds()
    print("public check seconds per question:", json.dumps(seconds))
    assert set(seconds) == set(FULL)
    assert max(seconds.values()) < 10, seconds
