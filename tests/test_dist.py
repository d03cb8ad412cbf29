"""make dist: committed generated files match a fresh build; the student notebook is clean and runs."""

import io
import json
import re
import zipfile

import nbformat

from autograder.judge.shapes import EXPECTED as SHAPES
from autograder.spec import QUESTIONS

from conftest import ROOT, dist, execute_notebook


def test_committed_generated_files_match_a_fresh_build(built):
    stale = []
    for path, content in built.items():
        if path == dist.SOLUTION_SUBMISSION:
            continue  # under build/, not committed
        fresh = content if isinstance(content, bytes) else content.encode()
        if path.read_bytes() != fresh:
            stale.append(str(path.relative_to(ROOT)))
    assert not stale, f"out of date, run make dist and commit: {stale}"


def test_the_build_is_deterministic(built):
    again = dist.generated_files()
    assert again == built


def _solution_lines(master):
    """The master's solution code: lines inside ``# BEGIN/END SOLUTION`` and ``# SOLUTION`` lines."""
    lines = []
    for cell in master.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.splitlines():
            code = line.split("#")[0].strip()
            if line.strip() == "# BEGIN SOLUTION":
                inside = True
            elif line.strip() == "# END SOLUTION":
                inside = False
            elif (inside or line.rstrip().endswith("# SOLUTION")) and len(code) > 15:
                lines.append(code)
    return lines


def test_student_notebook_has_no_solution_and_no_hidden_test(built):
    text = built[dist.STUDENT]
    master = nbformat.read(dist.MASTER, 4)
    leaked = [line for line in _solution_lines(master) if line in text]
    assert len(_solution_lines(master)) >= 6
    assert not leaked, f"solution lines in the student notebook: {leaked}"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "autograder.judge", "BEGIN TEST CONFIG", "hidden: true"):
        assert marker not in text
    nb = nbformat.reads(text, 4)
    tests = nb.metadata["otter"]["tests"]
    assert set(tests) == set(QUESTIONS)
    for question, test in tests.items():
        assert "hidden=True" not in test and "hidden=False" in test, f"hidden test case in {question}"


def answer_spellings(shape) -> list:
    """How the answer could be written: (3, 5), (3,5), [3, 5], Size([3, 5]), 3 x 5, ..."""
    a, b = shape
    return [rf"[(\[]\s*{a}\s*,\s*{b}\s*[)\]]", rf"\b{a}\s*[x×]\s*{b}\b"]


def leaked_answers(text: str) -> list:
    return [(name, pattern) for name, (shape, _) in SHAPES.items() for pattern in answer_spellings(shape)
            if re.search(pattern, text)]


def test_the_leak_detector_finds_the_answer_where_it_is():
    assert leaked_answers('expected = {"shape_XH": (3, 5), "shape_W": (5, 4)}') != []
    assert leaked_answers("torch.Size([3,5])") != []
    assert leaked_answers("X (3, 1), W_xh (1, 4), H (3, 4), W_hh (4, 4)") == []


def test_the_student_notebook_does_not_hold_q1s_answer(built):
    """q1's expected shapes (the judge's) appear nowhere in the student notebook: not in its public
    checks (salted digests only), not in its prose, not in its metadata."""
    nb = nbformat.reads(built[dist.STUDENT], 4)
    text = "\n".join(c.source for c in nb.cells)
    assert leaked_answers(text) == [], leaked_answers(text)
    assert not any(str(shape) in json.dumps(nb.metadata) for shape, _ in SHAPES.values())


def test_autograder_zip_layout(built):
    with zipfile.ZipFile(io.BytesIO(built[dist.ZIP])) as z:
        names = set(z.namelist())
        setup = z.read("setup.sh").decode()
        config = json.loads(z.read("otter_config.json"))
        env = z.read("environment.yml").decode()
    assert {"run_autograder", "setup.sh", "environment.yml", "otter_config.json",
            "files/autograder/judge/__init__.py", "files/autograder/serving/serve.py", "files/autograder/runner/__main__.py",
            "files/autograder/judge/setup_runner.sh"} <= names
    assert {f"tests/{q}.py" for q in QUESTIONS} <= names
    assert not any("__pycache__" in n for n in names)
    assert "playwright" not in setup and "chromium" not in setup
    assert "setup_runner.sh" in setup, "setup.sh must create the runner user"
    with zipfile.ZipFile(io.BytesIO(built[dist.ZIP])) as z:
        run = z.read("run_autograder").decode()
        shipped = [n for n in z.namelist() if n.startswith("files/")]
    assert "autograder.judge.gradescope" in run and "run_otter" not in run, "run_autograder must start the judge"
    assert not any(n.startswith(("files/autograder/batch", "files/autograder/bench")) for n in shipped)
    assert config["pdf"] is False and config["show_hidden"] is True
    assert "torch==2.13.0+cpu" in env and "whl/cpu" in env


def _errors_and_checks(nb):
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    checks = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                       for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source for o in c.outputs)
    return errors, checks


def test_untouched_student_notebook_runs_top_to_bottom(built, tmp_path):
    nb, seconds, _ = execute_notebook(built[dist.STUDENT], tmp_path)
    errors, checks = _errors_and_checks(nb)
    assert not errors, errors[0]
    assert seconds < 60, f"Restart & Run All took {seconds:.0f} s"
    assert checks.count("failed") >= 4, "every public check of the untouched notebook should fail"
    assert list(tmp_path.glob("*.zip")), "the export cell wrote no zip"
    text, stderr = export_output(nb)
    assert not stderr and "still the stub" in text and "save the notebook" in text


def export_output(nb) -> tuple:
    """``(text of the export cell's streams, names of its stderr streams)``."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return text, [o for o in cell.outputs if o.output_type == "stream" and o.get("name") == "stderr"]


def test_solution_runs_top_to_bottom_and_exports(executed_solution):
    nb, seconds, folder = executed_solution
    errors, checks = _errors_and_checks(nb)
    assert not errors, errors[0]
    assert seconds < 60, f"Restart & Run All took {seconds:.0f} s"
    assert checks.count("All test cases passed") == len(QUESTIONS), checks
    (export,) = folder.glob("rnn_hidden_state_*.zip")
    text, stderr = export_output(nb)
    assert not stderr and "TCP" not in text and "warn" not in text.lower(), "the export cell prints noise"
    assert f"{export.name} holds rnn_hidden_state.ipynb" in text and "Upload this zip to Gradescope" in text
    assert all(f"{q}: " in text for q in QUESTIONS)
    source = "\n".join(c.source for c in nb.cells)
    assert "Please save before exporting" not in source and "It saves the notebook" not in source


def test_every_document_is_a_readable_page():
    """Each page of docs/ and the README opens with a title and stays a page long (an edit once
    wrote a paragraph between every character of docs/checks.md: 9.4 MB)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.startswith("# "), f"{page.name} does not open with a title"
        assert len(text) < 100_000, f"{page.name} holds {len(text)} characters"
