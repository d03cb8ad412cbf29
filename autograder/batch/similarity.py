"""Similar submissions across a class, for the instructor's report: never a score, never run.

The answers of this assignment are short, so every honest correct student writes nearly the same
code: two answers being alike is no evidence. What is evidence is the same *rare* choices, all
through a notebook. So:

1. :func:`answer_code` reads a notebook as plain data (``nbformat``; code is only tokenized, never
   executed, imported or evaluated) and keeps the student's own code: the code cells that differ
   from the distributed notebook, less the stub's lines (``def`` lines, docstrings, ``...``), less
   the ``grader.check``/``grader.export`` calls and the cells tagged ``otter_ignore``.
2. Each answer (a cell, matched across notebooks by its distributed cell id) becomes a token
   stream (Python's ``tokenize``): names the student chose become ``V`` (renaming is no
   disguise), the assignment's own names (``X``, ``W_xh``...), attributes (``torch.cat``, ``.T``),
   keyword arguments, modules, builtins, keywords, numbers and strings stay as written; comments
   and whitespace drop out. Each token is one character, so copydetect's
   :class:`~copydetect.CodeFingerprint` takes k-grams of *tokens* (``filter=False``: its own filter
   turns ``torch.einsum`` and ``torch.mm`` alike into ``V.V``, erasing what tells short answers
   apart). No winnowing (``win_size=1``): the answers are small, and keeping every k-gram makes
   the result independent of Python's per-process string hashes.
3. A pair's score is ``coverage ** 2 * min(1, evidence / EVIDENCE_FULL)``. *Coverage*: how much
   of the two notebooks' answer code agrees, all answers together (each answer's k-gram Jaccard
   index, weighed by its size; an answer one has and the other has not counts as disagreement).
   *Evidence* (nats): for each answer, how alike the two are times how rare what they share is,
   ``-log`` of the share of the class whose same answer also holds it (MOSS's idea that what
   many share is boilerplate, here graded); plus, up to :data:`MARKS_CAP`, the odd comments and
   names of their own that the two share. Two students who both wrote the commonest one-liners
   share nothing rare; untouched notebooks have no answer and are never paired.

A class of 300 takes about a second (matrix products over the notebooks). Nothing here reads
the solution or touches a grade.
"""

from __future__ import annotations

import builtins
import functools
import io
import keyword
import math
import re
import textwrap
import tokenize
import warnings
from dataclasses import dataclass

import nbformat
import numpy as np
from copydetect import CodeFingerprint

#: pairs scoring at least this are listed (calibrated in tests/test_similarity.py)
DEFAULT_THRESHOLD = 0.40
#: tokens per fingerprint (a k-gram of normalised tokens)
K = 3
#: evidence (nats) at which a pair's confidence reaches 1
EVIDENCE_FULL = 8.0
#: a comment or a name of the student's own is odd when at most this fraction of the class (or
#: two notebooks) has it; the odd ones two notebooks share add their rarity to the evidence...
MARK_FRACTION = 0.02
#: ...up to this many nats in all (a copier renames and rewords: code is the main evidence)
MARKS_CAP = 1.0
#: notebook cells whose tags say they are not the student's answer
IGNORED_TAGS = frozenset({"otter_ignore"})
#: names a notebook uses that stay as written: modules and their usual aliases
MODULES = frozenset({"torch", "nn", "F", "np", "numpy", "math", "functional"})
#: a notebook larger than this is not read (a class's notebooks are kilobytes)
MAX_NOTEBOOK_CHARS = 20_000_000
#: IPython magics and shell lines (``%time``, ``!pip``): not Python, left out
_MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Pair:
    """Two submissions' keys, their similarity in [0, 1], and the answer code of each."""
    a: str
    b: str
    score: float
    code_a: str
    code_b: str


@dataclass(frozen=True)
class _Stub:
    """What the distributed notebook gives every student."""
    cells: frozenset          # stripped sources of its code cells (a cell left as it is: not an answer)
    by_id: dict               # cell id -> stripped lines of that cell
    lines: frozenset          # stripped lines of its answer cells (def lines, docstrings, ``...``)
    names: frozenset          # names it defines or takes (functions, arguments, variables)


def _code_cells(text: str):
    """The code cells of a notebook's JSON text, as nbformat 4 (raises on anything that is not)."""
    if not isinstance(text, str) or len(text) > MAX_NOTEBOOK_CHARS:
        raise ValueError("not a notebook")
    with warnings.catch_warnings():  # a hostile notebook's validation warnings are not the report's
        warnings.simplefilter("ignore")
        nb = nbformat.reads(text, as_version=4)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("no cells")
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            continue
        meta = cell.get("metadata")
        tags = meta.get("tags", []) if isinstance(meta, dict) else []
        tags = {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
        cid = cell.get("id")
        out.append((cid if isinstance(cid, str) else None, source, tags))
    return out


def _stub_names(source: str) -> set:
    """Names a stub cell defines or takes (read with ``tokenize``: the NAME tokens, less keywords)."""
    return {tok for kind, tok in _tokens(source) if kind == tokenize.NAME and not keyword.iskeyword(tok)}


def _has_stub_line(source: str) -> bool:
    """Whether a cell holds a stub to fill in: a line ``...`` or ``name = ...``."""
    return any(s == "..." or s.endswith("= ...") for s in (line.strip() for line in source.splitlines()))


@functools.lru_cache(maxsize=4)
def _stub(baseline_text: str | None) -> _Stub:
    try:
        cells = _code_cells(baseline_text) if baseline_text is not None else []
    except Exception:
        cells = []
    answer = [(cid, src) for cid, src, tags in cells if "otter_answer_cell" in tags or _has_stub_line(src)]
    lines = frozenset(s for _, src in answer for line in src.splitlines() if (s := line.strip()))
    names = frozenset().union(*(_stub_names(src) for _, src in answer)) if answer else frozenset()
    return _Stub(frozenset(src.strip() for _, src, _ in cells),
                 {cid: {ln.strip() for ln in src.splitlines()} for cid, src, _ in cells if cid},
                 lines, names)


def _grader_rows(source: str) -> set:
    """Rows (1-based) of the logical lines that call the grader (``grader.check(...)``, ``grader.export(...)``)."""
    rows, line, start = set(), [], None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if len(line) >= 2 and line[0] == "grader" and line[1] == ".":
                    rows.update(range(start, tok.start[0] + 1))
                line, start = [], None
            elif tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                if start is None:
                    start = tok.start[0]
                line.append(tok.string)
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return rows


def _answer_cell(source: str, stub_lines: set) -> str:
    source = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    drop = _grader_rows(source)
    kept = [line for row, line in enumerate(source.splitlines(), 1)
            if row not in drop and line.strip() and line.strip() not in stub_lines and line.strip() != "..."]
    return textwrap.dedent("\n".join(kept)).strip("\n")


def _answers(notebook_text: str, baseline_text: str | None) -> list:
    """``[(unit, code)]``: each answer cell's own code (see :func:`answer_code`); ``unit`` names
    the cell it came from (its id, as distributed, else its place) so answers to the same
    question are compared with each other. ``[]`` when the notebook cannot be read."""
    try:
        stub = _stub(baseline_text)
        out = []
        for place, (cid, source, tags) in enumerate(_code_cells(notebook_text)):
            if tags & IGNORED_TAGS or source.strip() in stub.cells:
                continue
            code = _answer_cell(source, stub.lines | stub.by_id.get(cid, set()))
            if code:
                out.append((cid or f"#{place}", code))
        return out
    except Exception:  # hostile input: any failure to read is "no answer", never a crash
        return []


def answer_code(notebook_text: str, baseline_text: str | None) -> str:
    """The student's answer code: the code cells that differ from the distributed notebook
    (``baseline_text``), each less the stub's lines (its ``def`` lines, docstrings and ``...``)
    and the grader calls, cells tagged ``otter_ignore`` left out; cells joined by a blank line.
    "" when nothing is left or the notebook cannot be read. Never runs anything from it."""
    return "\n\n".join(code for _, code in _answers(notebook_text, baseline_text))


def _tokens(code: str):
    """``(type, string)`` of each token; on a tokenize error, each line on its own (best effort)."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            out.append((tok.type, tok.string))
        return out
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    out = []
    for line in code.splitlines():
        try:
            for tok in tokenize.generate_tokens(io.StringIO(line.strip()).readline):
                out.append((tok.type, tok.string))
        except (tokenize.TokenError, SyntaxError, ValueError):
            continue
    return out


_BUILTINS = frozenset(dir(builtins))
_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}


def _normalise(code: str, known: frozenset):
    """One answer's code -> (tokens, marks): the names the student chose become ``V``; marks are
    what only a copy shares besides code: each comment (lowercased, spaces collapsed) and each of
    the student's own names as written."""
    tokens, marks = [], set()
    significant = [(kind, text) for kind, text in _tokens(code) if kind not in _SKIP]
    depth, previous = 0, ""
    for i, (kind, text) in enumerate(significant):
        following = significant[i + 1][1] if i + 1 < len(significant) else ""
        if kind == tokenize.COMMENT:
            words = " ".join(text.lstrip("#").lower().split())
            if words:
                marks.add("#" + words)
            continue
        if kind == tokenize.OP and text in "([{":
            depth += 1
        elif kind == tokenize.OP and text in ")]}":
            depth = max(0, depth - 1)
        if kind == tokenize.NAME and not keyword.iskeyword(text) and previous != "." \
                and not (depth and following == "=") \
                and text not in known and text not in _BUILTINS and text not in MODULES:
            marks.add("=" + text)  # a name the student chose (keyword arguments and attributes are the API's)
            text = "V"
        elif kind == tokenize.STRING:
            text = "S" + re.sub(r"\s+", " ", text.strip("'\"rbfRBF"))
        tokens.append(text)
        previous = text
    return tokens, marks


def _scores(units: list, known: frozenset, floor: float = -math.inf) -> np.ndarray:
    """``(n, n)`` scores of ``n`` notebooks' answers (``[{unit: code}]``), see the module's docstring;
    pairs that cannot reach ``floor`` score 0 (what their evidence is is not worked out)."""
    n = len(units)
    vocabulary: dict[str, str] = {}

    def char(token: str) -> str:  # one character per distinct token: copydetect's k-grams are of tokens
        if token not in vocabulary:
            i = len(vocabulary)
            vocabulary[token] = chr(0x100 + i if i < 0xD000 else 0x10000 + i)
        return vocabulary[token]

    prints, marks = [dict() for _ in range(n)], [set() for _ in range(n)]
    for i, answers in enumerate(units):
        for unit, code in answers.items():
            tokens, mark = _normalise(code, known)
            marks[i] |= mark
            doc = "".join(char(t) for t in tokens)
            if len(doc) >= K:
                prints[i][unit] = CodeFingerprint(unit, K, 1, filter=False, fp=io.StringIO(doc)).hashes
            elif doc:
                prints[i][unit] = {doc}

    columns = {}  # unit -> (n, F) presence of its fingerprints
    coverage_num, coverage_den = np.zeros((n, n)), np.zeros((n, n))
    for unit in sorted({u for p in prints for u in p}):
        present = _presence([p.get(unit, set()) for p in prints])
        columns[unit] = present
        size = present.sum(axis=1)
        inter = present @ present.T
        union = size[:, None] + size[None, :] - inter
        match = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        weight = (size[:, None] + size[None, :]) / 2
        coverage_num += match * weight
        coverage_den += weight
    coverage = np.divide(coverage_num, coverage_den, out=np.zeros_like(coverage_num), where=coverage_den > 0)

    # evidence, for the pairs whose score can reach the floor: for each answer the two share,
    # how rare what they share is (the classmates whose answer holds it too), times how alike
    evidence = np.zeros((n, n))
    ia, ib = np.nonzero(np.triu(coverage ** 2 >= floor, k=1))
    for start in range(0, len(ia), 2048):
        a, b = ia[start:start + 2048], ib[start:start + 2048]
        for present in columns.values():
            shared = present[a] * present[b]                      # (m, F)
            both = shared.sum(axis=1)
            alike = both / np.maximum(1.0, present[a].sum(axis=1) + present[b].sum(axis=1) - both)
            held = (shared @ present.T) / np.maximum(1.0, both)[:, None]   # (m, n): share of it each holds
            held[np.arange(len(a)), a] = 0.0
            held[np.arange(len(a)), b] = 0.0
            rarity = -np.log((2.0 + (held ** 2).sum(axis=1)) / (n + 1.0))
            evidence[a, b] += np.where(both > 0, alike * rarity, 0.0)
    evidence = evidence + evidence.T
    # identical comments and identical names of the student's own that (nearly) nobody else has
    evidence += np.minimum(MARKS_CAP, _intersections(marks, n))
    return np.clip(coverage ** 2 * np.minimum(1.0, evidence / EVIDENCE_FULL), 0.0, 1.0)


def _presence(sets: list) -> np.ndarray:
    """``(n, F)``: 1 where set i holds element j (the elements of all ``n`` sets, in one order)."""
    column: dict = {}
    rows = [[column.setdefault(x, len(column)) for x in s] for s in sets]
    present = np.zeros((len(sets), max(1, len(column))))
    for i, cols in enumerate(rows):
        present[i, cols] = 1.0
    return present


def _intersections(marks: list, n: int) -> np.ndarray:
    """``(n, n)``: the rarity summed over the odd marks two notebooks share (those in at most
    :data:`MARK_FRACTION` of the class)."""
    df: dict = {}
    for m in marks:
        for x in m:
            df[x] = df.get(x, 0) + 1
    odd = max(2, round(MARK_FRACTION * n))
    column = {x: j for j, x in enumerate(x for x, c in df.items() if 2 <= c <= odd)}
    present = np.zeros((n, max(1, len(column))))
    weight = np.zeros(max(1, len(column)))
    for x, j in column.items():
        weight[j] = -math.log(df[x] / (n + 1.0))
    for i, m in enumerate(marks):
        for x in m:
            if x in column:
                present[i, column[x]] = 1.0
    out = (present * weight) @ present.T
    np.fill_diagonal(out, 0.0)
    return out


def similar_pairs(notebooks: dict[str, str], baseline_text: str | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Pair]:
    """Pairs of ``notebooks`` (key -> notebook JSON text) whose answers agree in what is rare in
    this class, scoring at least ``threshold`` in [0, 1], most similar first. Notebooks that
    cannot be read or hold no answer are skipped; nothing here changes a score."""
    answers = {key: _answers(text, baseline_text) for key, text in notebooks.items()}
    keys = [key for key, a in answers.items() if a]
    if len(keys) < 2:
        return []
    score = _scores([dict(answers[k]) for k in keys], _stub(baseline_text).names, floor=threshold)
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(score >= threshold, k=1))):
        a, b = keys[i], keys[j]
        pairs.append(Pair(a, b, round(float(score[i, j]), 4), "\n\n".join(c for _, c in answers[a]),
                          "\n\n".join(c for _, c in answers[b])))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs


def pair_scores(notebooks: dict[str, str], baseline_text: str | None = None) -> list[Pair]:
    """Every pair with its score (threshold -inf), most similar first: for calibration."""
    return similar_pairs(notebooks, baseline_text, threshold=-math.inf)
