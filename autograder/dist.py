"""``make dist``: build every generated file from the master notebook, deterministically.

    solutions/rnn_hidden_state.ipynb  (master, Otter Assign format) + autograder/spec.py (groups, points)
      -> the hidden-test cells (generated, one per check group) and README.md's points table
      -> assignment/rnn_hidden_state.ipynb            student notebook (committed)
      -> autograder/rnn_hidden_state-autograder.zip   Gradescope autograder (committed)
      -> build/solution-submission.ipynb              the solution as a student would submit it
      -> examples/submissions/*.ipynb                 correct, partly wrong, untouched (committed)
      -> solutions/rnn_hidden_state-executed.ipynb    the executed solution (with --execute)

Otter Assign runs in a scratch folder (build/assign) holding only the master, the grader's
judge and runner modules and the autograder requirements. Its outputs are then normalized: cell
ids numbered, zip entries sorted with fixed dates, the browser install that Otter's ``setup.sh``
always adds (needed only for PDF export, which this assignment turns off) removed, ``setup.sh``
extended to create the runner user, and ``run_autograder`` replaced by the judge's entry point
(Otter's own runner would execute the notebook in the process that writes the results).
"""

import argparse
import ast
import fcntl
import glob
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from .config import FUSED_SLOWDOWN_LIMIT, PUBLIC_CALL_LIMIT_S
from .hidden_tests import with_hidden_tests, with_points_table
from .paths import BUILD, EXAMPLES, MASTER, NAME, STUDENT, ZIP
from .paths import REPO as ROOT
from .receipt import answers_from_spec
from .spec import QUESTIONS, SpecError

SOLUTION_SUBMISSION = BUILD / "solution-submission.ipynb"
SOLUTION_RUN = BUILD / "solution-run"
EXECUTED = ROOT / "solutions" / f"{NAME}-executed.ipynb"
STAGE = BUILD / "assign"
README = ROOT / "README.md"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def normalize_notebook(nb) -> str:
    """Stable text for a notebook: numbered cell ids, no execution counts or outputs."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nbformat.writes(nb) + "\n"


def drop_browser_install(setup_sh: str) -> str:
    """``setup.sh`` without the Playwright/Chromium line (PDFs are off; a browser is ~400 MB)."""
    return "".join(line for line in setup_sh.splitlines(keepends=True) if "playwright" not in line)


#: appended to Otter's setup.sh: the unprivileged user that runs submission code
SETUP_RUNNER = "\n# the user that runs submission code (the judge runs as root)\nbash /autograder/source/files/autograder/judge/setup_runner.sh\n"

#: what replaces the last line of Otter's run_autograder (``python .../run_otter.py``): the judge,
#: in the environment Otter's lines before it activate, never Otter's notebook runner
RUN_JUDGE = ("# The judge decides every point as root; submission code runs only in runners as rnn-runner.\n"
             "cd /autograder/source/files && exec python -s -m autograder.judge.gradescope\n")


def run_judge(run_autograder: str) -> str:
    """Otter's ``run_autograder`` with its call of ``run_otter.py`` replaced by the judge."""
    lines = run_autograder.splitlines(keepends=True)
    (otter,) = [i for i, line in enumerate(lines) if "run_otter.py" in line]
    return "".join(lines[:otter]) + RUN_JUDGE + "".join(lines[otter + 1:])

#: the package modules shipped in the zip (files/autograder): the judge, the runner and what they share
SHIPPED = ("__init__.py", "config.py", "spec.py", "wire.py", "operators.py", "rules.py", "receipt.py", "judge", "serving",
           "runner")


def normalize_zip(raw: bytes) -> bytes:
    """The autograder zip with sorted entries, fixed dates, fixed permissions, no browser install."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            if "__pycache__" in name or name == "run_otter.py":  # Otter's runner: never used
                continue
            data = src.read(name)
            if name == "setup.sh":
                data = (drop_browser_install(data.decode()) + SETUP_RUNNER).encode()
            elif name == "run_autograder":
                data = run_judge(data.decode()).encode()
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = (0o755 if name == "run_autograder" or name.endswith(".sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    return out.getvalue()


PUBLIC_CHECKS = ROOT / "autograder" / "public_checks.py"
OPERATORS = ROOT / "autograder" / "operators.py"
RULES = ROOT / "autograder" / "rules.py"
RECEIPT = ROOT / "autograder" / "receipt.py"


def _set(source: str, name: str, value) -> str:
    """``source`` with its one top-level line ``<name> = ...`` set to ``<name> = <value!r>``."""
    (line,) = [x for x in source.splitlines() if x.startswith(f"{name} = ")]
    return source.replace(line, f"{name} = {value!r}")


def shape_digests() -> dict:
    """q1's salted digests (:func:`autograder.public_checks.shape_digest`) of the judge's expected
    shapes: the student notebook recognises the right shapes without holding them."""
    from .judge.shapes import EXPECTED
    from .public_checks import shape_digest
    return {name: {"shape": shape_digest(name, "shape", shape), "rows": shape_digest(name, "rows", shape[0]),
                   "columns": shape_digest(name, "columns", shape[1])} for name, (shape, _) in EXPECTED.items()}


def without_import(source: str, module: str) -> str:
    """``source`` without its one top-level ``from <module> import ...`` statement: the cell holds
    that module's own source instead."""
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.ImportFrom) and n.module == module]
    lines = source.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1] + lines[node.end_lineno:])


def public_checks_source() -> str:
    """The notebook's "Checks" cell: the operator table of the runner's trace (operators.py), the
    rules the judge shares (rules.py), the public checks'
    module (with the hidden timing limit and the call limit of ``config.py`` and q1's digests),
    then the receipt's (with the questions' answers of the spec). One self-contained cell."""
    checks = PUBLIC_CHECKS.read_text(encoding="utf-8")
    checks = without_import(without_import(checks, "autograder.rules"), "autograder.operators")
    checks = _set(checks, "SPEED_LIMIT", FUSED_SLOWDOWN_LIMIT["wall time"])
    checks = _set(checks, "CALL_LIMIT_S", PUBLIC_CALL_LIMIT_S)
    checks = _set(checks, "SHAPE_DIGESTS", shape_digests())
    receipt = _set(RECEIPT.read_text(encoding="utf-8"), "ANSWERS", answers_from_spec(QUESTIONS))
    return ("# ---- autograder/operators.py: what counts as a matrix product (the runner's trace's own) ----\n\n"
            + OPERATORS.read_text(encoding="utf-8")
            + "\n\n# ---- autograder/rules.py: what counts as right; inputs, references, likely mistakes "
            "(the judge's own) ----\n\n" + RULES.read_text(encoding="utf-8")
            + "\n\n# ---- autograder/public_checks.py: the checks ----\n\n" + checks
            + "\n\n# ---- autograder/receipt.py: what a saved notebook holds, read without running it ----\n\n" + receipt)


def with_public_checks(nb):
    """The master with its "Checks" cell (tagged ``public_checks``) holding the module's source."""
    (cell,) = [c for c in nb.cells if "public_checks" in c.get("metadata", {}).get("tags", [])]
    cell.source = public_checks_source()
    return nb


def run_assign(run_tests: bool) -> Path:
    """Run ``otter assign`` on a clean copy of the master; returns its dist folder."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    nbformat.write(with_hidden_tests(with_public_checks(nbformat.read(MASTER, 4))), STAGE / MASTER.name)
    shutil.copy(ROOT / "autograder" / "requirements.txt", STAGE)
    (STAGE / "autograder").mkdir()
    for name in SHIPPED:
        source = ROOT / "autograder" / name
        if source.is_dir():
            shutil.copytree(source, STAGE / "autograder" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, STAGE / "autograder")
    cmd = [sys.executable, "-m", "otter", "assign", f"{NAME}.ipynb", "dist", "--no-pdfs"]
    if not run_tests:  # make test grades the solution through the built zip instead
        cmd.append("--no-run-tests")
    done = subprocess.run(cmd, cwd=STAGE, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"otter assign failed:\n{done.stdout}\n{done.stderr}")
    return STAGE / "dist"


#: The partly wrong example: q3 in the separate form, q4 concatenating the weights at every step.
PARTLY_WRONG = {
    "return torch.cat((X, H), dim=1) @ torch.cat((W_xh, W_hh), dim=0)": "return X @ W_xh + H @ W_hh",
    "    H = torch.tanh(torch.cat((X_t, H), dim=1) @ W + b_h)":
        "    H = torch.tanh(torch.cat((X_t, H), dim=1) @ torch.cat((W_xh, W_hh), dim=0) + b_h)",
}


def with_replacements(nb, replacements: dict):
    """A copy of ``nb`` with each source snippet replaced (each must occur)."""
    nb = nbformat.from_dict(nb)
    for old, new in replacements.items():
        hits = [c for c in nb.cells if old in c.source]
        if not hits:
            raise ValueError(f"snippet not found in the solution: {old!r}")
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    return nb


def generated_files(run_tests: bool = False) -> dict:
    """``{path relative to the repository: text or bytes}``: everything ``make dist`` writes. One
    build at a time per checkout (``make test``'s two workers both build): the stage is shared."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".generate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _generated_files(run_tests)


def _generated_files(run_tests: bool) -> dict:
    dist = run_assign(run_tests)
    (zip_path,) = glob.glob(str(dist / "autograder" / f"{NAME}-autograder_*.zip"))
    solution = nbformat.read(dist / "autograder" / f"{NAME}.ipynb", 4)
    student_nb = nbformat.read(dist / "student" / f"{NAME}.ipynb", 4)
    # the solution as a student would submit it: the student notebook's public tests only
    solution.metadata["otter"]["tests"] = student_nb.metadata["otter"]["tests"]
    student = normalize_notebook(student_nb)
    return {
        STUDENT: student,
        ZIP: normalize_zip(Path(zip_path).read_bytes()),
        SOLUTION_SUBMISSION: normalize_notebook(solution),
        EXAMPLES / "correct.ipynb": normalize_notebook(solution),
        EXAMPLES / "partly-wrong.ipynb": normalize_notebook(with_replacements(solution, PARTLY_WRONG)),
        EXAMPLES / "untouched.ipynb": student,
        README: with_points_table(README.read_text(encoding="utf-8")),
    }


def build(run_tests: bool = False) -> None:
    for path, content in generated_files(run_tests).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        print(f"built {path.relative_to(ROOT)}")


def execute_solution() -> None:
    """Run the solution (as submitted) top to bottom and keep the outputs for instructors.

    It runs under the assignment's own name, which its first cell opens (``otter.Notebook``).
    """
    from nbclient import NotebookClient
    shutil.rmtree(SOLUTION_RUN, ignore_errors=True)
    SOLUTION_RUN.mkdir(parents=True)
    shutil.copy(SOLUTION_SUBMISSION, SOLUTION_RUN / f"{NAME}.ipynb")
    nb = nbformat.read(SOLUTION_RUN / f"{NAME}.ipynb", 4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(SOLUTION_RUN)}}).execute()
    nbformat.write(nb, EXECUTED)
    print(f"built {EXECUTED.relative_to(ROOT)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-tests", action="store_true", help="also run Otter Assign's own test run")
    parser.add_argument("--execute", action="store_true", help="also write the executed solution notebook")
    args = parser.parse_args(argv)
    try:
        build(run_tests=args.run_tests)
    except SpecError as error:
        sys.exit(f"make dist: {error}")
    if args.execute:
        execute_solution()


if __name__ == "__main__":
    main()
