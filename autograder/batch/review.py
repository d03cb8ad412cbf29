"""Flags for a person to review: code in a submission that reaches into the grader, rewrites
libraries, or builds code at run time.

Nothing here decides a point (the judge verifies what pays); the flags point the instructor at
notebooks worth reading. The review reads exactly the notebook the judge grades (the same bytes,
:func:`autograder.judge.submission.read_file`, converted to nbformat 4 as the runner converts it)
and reads its cells as code: each cell is parsed with ``ast`` (IPython's ``%`` and ``!`` lines
blanked out) and its names, attributes, imports and string constants are looked up in tables.
Every step is linear in the size of the notebook. Code a cell builds at run time (``exec`` of a
decoded string) is out of reach of any reading: building it is what gets flagged.
"""

import ast
import functools
import re
import zipfile

import nbformat

from ..judge.submission import NoNotebook, read_file
from ..paths import STUDENT

#: module (first dotted part) imported -> flag
IMPORTS = {
    "autograder": "touches the grader's runner or judge",
    "importlib": "imports dynamically", "runpy": "imports dynamically",
    "builtins": "edits builtins",
    "inspect": "inspects frames or the heap", "gc": "inspects frames or the heap",
    "ctypes": "uses ctypes", "cffi": "uses ctypes",
    "base64": "decodes an encoded payload", "binascii": "decodes an encoded payload",
    "codecs": "decodes an encoded payload", "zlib": "decodes an encoded payload",
    "lzma": "decodes an encoded payload", "bz2": "decodes an encoded payload", "gzip": "decodes an encoded payload",
    "marshal": "decodes an encoded payload", "pickle": "decodes an encoded payload",
    "subprocess": "starts processes", "multiprocessing": "starts processes", "pty": "starts processes",
}

#: Otter's parts a notebook has no business touching (``otter.Notebook`` is the student's API)
OTTER_INTERNALS = {"test_files", "execute", "run", "check", "api", "assign", "grade", "export", "utils"}
_OTTER = "touches Otter's grading internals"

_SHELL = "runs shell commands or IPython magics"
_NAMESPACES = "reaches namespaces by name (globals(), vars(), __dict__)"
#: IPython magics an honest notebook uses (timing, plots); every other magic or shell escape is flagged
HARMLESS_MAGICS = {"time", "timeit", "matplotlib", "capture", "precision", "config"}
#: magics that run Python: the rest of a line magic's line (after its options), a cell magic's
#: body, are reviewed as code (red team, round 23: code on ``%time`` lines went unreviewed)
PYTHON_MAGICS = {"time", "timeit", "capture"}
_OPTIONS = re.compile(r"(?:\s*-(?:[nrp]\s*\d+|[tcqo]|-no-\w+)(?=\s|$))*\s*")

#: a bare name used anywhere -> flag (``model.eval()`` or ``torch.compile`` are attributes: fine)
BARE_NAMES = {
    "exec": "runs code built at run time", "eval": "runs code built at run time",
    "compile": "runs code built at run time", "__import__": "imports dynamically",
    "__builtins__": "edits builtins", "setattr": "sets attributes dynamically",
    "delattr": "sets attributes dynamically", "get_ipython": _SHELL,
    "globals": _NAMESPACES, "vars": _NAMESPACES, "locals": _NAMESPACES,
}

_WATCH = "recognises how it is called (PyTorch's dispatch modes)"
_KERNELS = "registers kernels of its own for torch operators (torch.library), which the operator trace does not see into"
_SUBCLASS = "defines a tensor subclass that runs torch operators itself (__torch_dispatch__)"
_FRAMES, _PAYLOAD, _GRADER, _PROCESSES = ("inspects frames or the heap", "decodes an encoded payload",
                                          "touches the grader's runner or judge", "starts processes")
#: an attribute (or a name imported from a module) used anywhere -> flag
ATTRIBUTE_NAMES = {
    "_getframe": _FRAMES, "currentframe": _FRAMES, "f_back": _FRAMES, "f_locals": _FRAMES,
    "f_globals": _FRAMES, "get_objects": _FRAMES, "get_referrers": _FRAMES, "__code__": _FRAMES,
    "__globals__": _FRAMES, "__subclasses__": _FRAMES, "__builtins__": "edits builtins", "__dict__": _NAMESPACES,
    "fromhex": _PAYLOAD, "b64decode": _PAYLOAD, "unhexlify": _PAYLOAD, "decompress": _PAYLOAD,
    "serve": _GRADER, "wire": _GRADER,
    "GradingResults": "touches Otter's grading internals", "TestFile": "touches Otter's grading internals",
    "kill": "signals or exits the process", "killpg": "signals or exits the process",
    "_exit": "signals or exits the process", "pthread_kill": "signals or exits the process",
    "sigqueue": "signals or exits the process", "fork": _PROCESSES, "forkpty": _PROCESSES,
    "posix_spawn": _PROCESSES, "system": _PROCESSES, "popen": _PROCESSES, "execv": _PROCESSES,
    "execve": _PROCESSES,
    "_len_torch_dispatch_stack": _WATCH, "_get_current_dispatch_mode": _WATCH, "_get_dispatch_mode": _WATCH,
    "_python_dispatch": _WATCH, "_get_current_dispatch_mode_stack": _WATCH, "_is_torch_function_mode_enabled": _WATCH,
    "_DisableTorchDispatch": _WATCH, "_DisableTorchFunction": _WATCH, "_DisableTorchFunctionSubclass": _WATCH,
    "no_dispatch": _WATCH, "_disable_current_modes": _WATCH, "_pop_mode": _WATCH, "_push_mode": _WATCH,
    "_pop_mode_temporarily": _WATCH, "_set_torch_function_mode": _WATCH, "_ExcludeDispatchKeyGuard": _WATCH, "_C": "reaches into torch's C internals (torch._C)",
    # red team round 18: a kernel of its own for a torch operator runs outside the operator trace
    "library": _KERNELS, "Library": _KERNELS, "custom_op": _KERNELS, "cpp_extension": _KERNELS,
    "load_inline": _KERNELS, "register_kernel": _KERNELS, "register_fake": _KERNELS,
    "__torch_dispatch__": _SUBCLASS, "as_subclass": _SUBCLASS, "_make_subclass": _SUBCLASS,
    "_make_wrapper_subclass": _SUBCLASS,
}

#: a function or method defined under this name -> flag
DEFINED_NAMES = {"__torch_dispatch__": _SUBCLASS}

#: (base name, attribute) used anywhere -> flag
ATTRIBUTES = {
    ("sys", "modules"): "edits sys.modules", ("pickle", "loads"): "decodes an encoded payload",
    ("marshal", "loads"): "decodes an encoded payload",
}

#: modules whose attributes a submission must not assign to
LIBRARIES = {"torch", "np", "numpy", "time", "timeit", "math", "F", "nn", "otter", "sys", "os", "psutil"}

#: a string constant this long that looks like hex or base64 is a payload
PAYLOAD = re.compile(r"[0-9A-Fa-f]{160,}|[A-Za-z0-9+/=\s]{240,}")

#: files an Otter export zip holds besides the notebook
EXPECTED_IN_ZIP = re.compile(r"(^|/)(\.OTTER_LOG|__zip_filename__|[^/]+\.ipynb|[^/]+\.pdf)$")


def _strip_magics(source: str) -> tuple:
    """``(code, flags)``: IPython's line magics and shell escapes become ``pass`` (indentation
    kept), or the Python a :data:`PYTHON_MAGICS` magic runs; a shell escape or a magic that is not
    :data:`HARMLESS_MAGICS` is flagged. A cell magic other than those (``%%bash``) makes the whole
    cell not Python: its body is left out and the magic flagged."""
    lines, found = [], set()
    for line in source.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            magic = re.match(r"%{1,2}(\w*)", stripped)
            if stripped.startswith("!") or magic.group(1) not in HARMLESS_MAGICS:
                found.add(_SHELL)
            runs = "pass"
            if magic and magic.group(1) in PYTHON_MAGICS:
                rest = stripped[magic.end():]
                rest = rest[_OPTIONS.match(rest).end():]
                # %%capture's line names where the output goes; %%timeit's holds set-up code
                if rest.strip() and not (stripped.startswith("%%") and magic.group(1) == "capture"):
                    runs = rest
            elif stripped.startswith("%%") and not lines:
                return "", found
            line = line[: len(line) - len(stripped)] + runs
        lines.append(line)
    return "\n".join(lines), found


def _base(node) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


#: calls that look an attribute up by a name given as an argument: ``getattr(obj, name)``,
#: ``operator.attrgetter(name)``, ``operator.methodcaller(name)`` (red team round 15 reached
#: torch's internals through ``attrgetter`` of a reversed string)
LOOKUPS = {"getattr": 1, "attrgetter": 0, "methodcaller": 0}


def _computed_lookup(call: ast.Call) -> bool:
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    at = LOOKUPS.get(name)
    return at is not None and len(call.args) > at and not isinstance(call.args[at], ast.Constant)


def code_flags(source: str) -> set:
    """Flags for one cell of code."""
    code, found = _strip_magics(source)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return found | {"a code cell that does not parse as Python"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(IMPORTS.get(a.name.split(".")[0]) for a in node.names)
            found.update(ATTRIBUTE_NAMES.get(part) for a in node.names for part in a.name.split("."))
            found.update(_OTTER for a in node.names if a.name.startswith("otter."))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found.add(IMPORTS.get(module.split(".")[0]))
            found.update(ATTRIBUTE_NAMES.get(part) for part in module.split("."))
            if module.startswith("otter.") or (module == "otter" and {a.name for a in node.names} & OTTER_INTERNALS):
                found.add(_OTTER)
            found.update(ATTRIBUTE_NAMES.get(a.name) or BARE_NAMES.get(a.name) for a in node.names)
        elif isinstance(node, ast.Name):
            found.add(BARE_NAMES.get(node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(DEFINED_NAMES.get(node.name))
        elif isinstance(node, ast.Call) and _computed_lookup(node):
            found.add("looks up attributes by computed names")
        elif isinstance(node, ast.Attribute):
            found.add(ATTRIBUTE_NAMES.get(node.attr))
            if isinstance(node.value, ast.Name):
                found.add(ATTRIBUTES.get((node.value.id, node.attr)))
                found.add(IMPORTS.get(node.value.id) if node.value.id == "autograder" else None)
                found.add(_OTTER if node.value.id == "otter" and node.attr in OTTER_INTERNALS else None)
            if isinstance(node.ctx, (ast.Store, ast.Del)) and _base(node) in LIBRARIES:
                found.add("replaces a library function")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            text += "\n" + text[::-1]  # a name spelled backwards is the same name (red team round 15)
            if PAYLOAD.search(text):
                found.add("holds an encoded payload")
            if "autograder" in text:
                found.add("touches the grader's runner or judge")
            if "/proc/" in text or "/dev/mem" in text:
                found.add("reads or writes process memory or kernel files (/proc)")
            if "dispatch" in text:
                found.add(_WATCH)
    found.discard(None)
    return found


@functools.cache
def _baseline() -> frozenset:
    """The code cells of the student notebook as distributed: its own stubs and public checks are
    boilerplate, not the student's code, and are not reviewed."""
    try:
        nb = nbformat.read(str(STUDENT), as_version=4)
    except OSError:
        return frozenset()
    return frozenset(c.source.strip() for c in nb.cells if c.cell_type == "code")


def notebook_flags(text: str, baseline: frozenset = None) -> set:
    """Flags for a notebook's text, read as nbformat 4 as the runner reads it; cells identical to
    the distributed notebook's (``baseline``) are skipped."""
    baseline = _baseline() if baseline is None else baseline
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = [c for c in nb.cells if c.get("cell_type") == "code"
                 and "otter_ignore" not in (c.get("metadata", {}).get("tags") or [])]
        sources = [c.source if isinstance(c.source, str) else "".join(map(str, c.source)) for c in cells]
    except Exception:  # noqa: BLE001 - whatever is wrong with it, the runner will not run it either
        return {"not a readable notebook"}
    found = set()
    for source in sources:
        if source.strip() not in baseline:
            found |= code_flags(source)
    return found


def zip_extras(path: str) -> list:
    """Files in an export zip beyond what Otter's export writes."""
    try:
        with zipfile.ZipFile(path) as z:
            return [n for n in z.namelist() if not n.endswith("/") and not EXPECTED_IN_ZIP.search(n)]
    except Exception:  # noqa: BLE001 - read_file has said what is wrong with the zip
        return []


def flags(path: str) -> str:
    """``"; "``-joined review flags for the submission at ``path`` ("" when nothing stands out)."""
    found = []
    if path.endswith(".zip"):
        extra = zip_extras(path)
        if extra:
            found.append("extra files in the zip: " + ", ".join(extra[:5]))
    try:
        text = read_file(path)
    except NoNotebook:
        return "; ".join(found)
    found += sorted(notebook_flags(text))
    return "; ".join(found)
