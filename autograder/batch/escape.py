"""Text a student controls, made safe for the instructor's files.

Names of files, names and emails from ``submission_metadata.yml``, statuses that quote a
submission: all are shown, never obeyed. Control and format characters (newlines, escape
sequences, bidirectional overrides) become visible escapes; spreadsheet formulas are neutralised
in CSV cells (OWASP's rule: a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a
leading ``'``); Markdown and HTML metacharacters are escaped in the summary.
"""

import html
import re
import unicodedata

#: the first characters that make a spreadsheet read a cell as a formula; ``'`` itself too, so
#: that the escape can be undone exactly
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _visible(ch: str) -> str:
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return ch


def shown(text, limit: int = 300) -> str:
    """``text`` on one line with every control character visible, shortened to ``limit``."""
    text = "".join(_visible(ch) for ch in str(text)[: limit * 2])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text (numbers pass through)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def from_csv_cell(value):
    """The value :func:`csv_cell` was given."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def markdown(text, limit: int = 300) -> str:
    """Student text for Markdown (rendered as HTML too): shown, HTML-escaped, metacharacters escaped."""
    return _MARKDOWN.sub(r"\\\1", html.escape(shown(text, limit), quote=True))
