"""Flags for a person to review: code in a submission that reaches into the grader or the libraries.

A notebook runs in the same process as Otter's grading code (on Gradescope too), so code that
rewrites Otter, the hidden-test helpers or ``sys.modules`` could fake results in any Otter
autograder. The hidden checks defend torch, numpy and the clocks; this scan, done by the batch
grader outside the sandbox without running anything, points the instructor at the rest.
"""

import json
import re
import zipfile

#: (flag, pattern) over the code cells of the notebook(s) in a submission
PATTERNS = (
    ("touches the grader's runner or judge",
     r"\b(import|from)\s+autograder\b|\bautograder\s*\.\s*(runner|judge|wire)\b|\bserve\s*\.\s*call\b|\bwire\s*\.\s*\w"),
    ("touches Otter's grading internals", r"\botter\s*\.\s*(test_files|execute|run|check|api)\b|\bGradingResults\b|\bTestFile\b"),
    ("edits sys.modules", r"\bsys\s*\.\s*modules\b"),
    ("imports dynamically", r"\b__import__\b|\bimportlib\b|\brunpy\b"),
    ("edits builtins", r"\bbuiltins\b|__builtins__"),
    ("inspects frames or the heap", r"\binspect\b|\bcurrentframe\b|\bf_back\b|\bf_locals\b|\b_getframe\b|\bgc\s*\.\s*get_objects\b"),
    ("replaces a library function", r"^\s*(torch|np|numpy|time|timeit|math|F)(\s*\.\s*\w+)+\s*=[^=]"),
    ("sets attributes on a library", r"\bsetattr\s*\(\s*(torch|np|numpy|time|timeit|math|F)\b"),
    ("uses ctypes", r"\bctypes\b"),
    ("signals or exits the process", r"\bos\s*\.\s*(kill|killpg|_exit)\b"),
)

#: files an Otter export zip holds besides the notebook
EXPECTED_IN_ZIP = re.compile(r"(^|/)(\.OTTER_LOG|[^/]+\.ipynb|[^/]+\.pdf)$")
MAX_BYTES = 50 * 1024 * 1024


def _code(notebook_text: str) -> str:
    try:
        cells = json.loads(notebook_text).get("cells", [])
    except (ValueError, AttributeError):
        return ""
    return "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list) else str(c.get("source", ""))
                     for c in cells if isinstance(c, dict) and c.get("cell_type") == "code")


def flags(path: str) -> str:
    """``"; "``-joined review flags for the submission at ``path`` ("" when nothing stands out)."""
    found, code = [], ""
    try:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                extra = [n for n in names if not n.endswith("/") and not EXPECTED_IN_ZIP.search(n)]
                if extra:
                    found.append("extra files in the zip: " + ", ".join(extra[:5]))
                for name in names:
                    info = z.getinfo(name)
                    if name.endswith(".ipynb") and info.file_size <= MAX_BYTES:
                        code += _code(z.read(name).decode("utf-8", "replace"))
        elif path.endswith(".ipynb"):
            with open(path, encoding="utf-8", errors="replace") as f:
                code = _code(f.read(MAX_BYTES))
    except (OSError, zipfile.BadZipFile):
        return ""
    for flag, pattern in PATTERNS:
        if re.search(pattern, code, re.MULTILINE):
            found.append(flag)
    return "; ".join(found)
