"""What a submitted notebook holds, read without running it: for each question, whether its answer
is there (``q1_shapes: shape_XH, shape_W assigned``, ``q3_fused: hidden_state_fused still the stub
(its body is only ...)``, ``q4_rnn_forward: rnn_forward not defined in any code cell``).

The judge shows these lines at once on Gradescope (the 0-point test "Submission received"), and
the student notebook's export cell prints them for the zip it wrote, so a student sees before
uploading that the saved file holds the answers. Nothing from the notebook is executed, imported
or unpickled: its JSON text is parsed with :mod:`json` and each code cell with :mod:`ast` (IPython's
``%`` and ``!`` lines blanked out), as the runner would run them: top to bottom, the last
definition of a name wins, cells tagged ``otter_ignore`` are skipped. Standard library only:
``make dist`` copies this module into the student notebook's "Checks" cell with ``ANSWERS``
written from :mod:`autograder.spec`; the judge passes :func:`answers_from_spec` instead.
"""

import ast
import json

#: ``{question: ("function", name) or ("values", names)}``; ``make dist`` writes it into the notebook
ANSWERS = {}
#: a cell larger than this is not parsed (it is reported as unread)
MAX_CELL_CHARS = 200_000


def answers_from_spec(questions) -> dict:
    """``ANSWERS`` from the spec's question table (:data:`autograder.spec.QUESTIONS`)."""
    return {q.name: ("function", q.function) if q.function else ("values", tuple(q.values))
            for q in questions.values()}


def code_cells(text: str) -> list:
    """The sources of the notebook's code cells that a grader runs; raises ValueError when the
    text is not a notebook."""
    nb = json.loads(text)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    sources = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = (cell.get("metadata") or {}).get("tags") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(tags, list) and "otter_ignore" in tags:
            continue
        source = cell.get("source", "")
        sources.append("".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source))
    return sources


def _parse(source: str):
    """The cell's module, or None when it is too large or not Python."""
    if len(source) > MAX_CELL_CHARS:
        return None
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _is_stub(node) -> bool:
    """``...`` alone, or a def whose body (after its docstring) is only ``...`` or ``pass``."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return isinstance(node, ast.Constant) and node.value is Ellipsis
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                           and s.value.value is Ellipsis) for s in body)


def _statements(body):
    """The statements that run at a cell's top level, into if/for/while/with/try blocks but not
    into functions or classes."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            yield from _statements(handler.body)


def _targets(node):
    """``(name, what it is)`` for each plain name a statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield node.name, ("stub" if _is_stub(node) else "defined")
    elif isinstance(node, ast.ClassDef):
        yield node.name, "defined"
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        for target in targets:
            items = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            for item in items:
                if isinstance(item, ast.Name):
                    stub = value is not None and isinstance(target, ast.Name) and _is_stub(value)
                    yield item.id, ("stub" if stub else "assigned")
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0], "imported"


def bindings(text: str) -> tuple:
    """``({name: how the last binding made it}, [numbers of the code cells that could not be read])``."""
    found, unread = {}, []
    for number, source in enumerate(code_cells(text), 1):
        tree = _parse(source)
        if tree is None:
            unread.append(number)
            continue
        for node in _statements(tree.body):
            for name, how in _targets(node):
                found[name] = how
    return found, unread


def _function_line(name: str, how) -> tuple:
    if how is None:
        return f"{name} not defined in any code cell", False
    if how == "stub":
        return f"{name} still the stub (its body is only ... or pass)", False
    return f"{name} {how}", True


def _values_line(names, found: dict) -> tuple:
    groups = {"assigned": [], "stub": [], None: []}
    for name in names:
        how = found.get(name)
        groups["stub" if how == "stub" else None if how is None else "assigned"].append(name)
    parts = []
    if groups["assigned"]:
        parts.append(", ".join(groups["assigned"]) + " assigned")
    if groups["stub"]:
        parts.append(", ".join(groups["stub"]) + " still ...")
    if groups[None]:
        parts.append(", ".join(groups[None]) + " not assigned in any code cell")
    return "; ".join(parts), not groups["stub"] and not groups[None]


def question_lines(text: str, table: dict = None) -> tuple:
    """``(lines, complete)``: one line per question saying whether its answer is in the notebook,
    and whether every answer is. Never raises: a file that cannot be read says so in one line."""
    table = ANSWERS if table is None else table
    try:
        found, unread = bindings(text)
    except Exception as error:  # noqa: BLE001 - whatever the file is, the receipt only describes it
        return [f"the file could not be read as a notebook ({type(error).__name__}): no answer found"], False
    lines, complete = [], True
    for question, (kind, names) in table.items():
        line, ok = _function_line(names, found.get(names)) if kind == "function" else _values_line(names, found)
        lines.append(f"{question}: {line}")
        complete = complete and ok
    if unread:
        lines.append(f"code cell(s) {', '.join(map(str, unread[:10]))} could not be read as Python "
                     "(a syntax error?): what they define is not counted above")
    return lines, complete
