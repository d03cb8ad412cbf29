"""Read a submission's notebook as text: from a notebook file, or from the ``.ipynb`` inside an
export zip. Nothing else in a zip is opened (``.OTTER_LOG``, which Otter would unpickle,
included), nothing is extracted, and sizes are capped."""

import os
import zipfile

from ..config import MAX_MESSAGE_BYTES

ASSIGNMENT = "rnn_hidden_state"


class NoNotebook(Exception):
    """The submission holds no notebook the judge can read; the message says why."""


def read_file(path: str) -> str:
    name = os.path.basename(path)
    if os.path.isdir(path):
        raise NoNotebook(f"no notebook or export zip in the submission {name}")
    if path.endswith(".ipynb"):
        if os.path.getsize(path) > MAX_MESSAGE_BYTES:
            raise NoNotebook(f"{name} is larger than {MAX_MESSAGE_BYTES >> 20} MB")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    if path.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as z:
                members = [i for i in z.infolist() if i.filename.endswith(".ipynb") and "/" not in i.filename]
                members.sort(key=lambda i: i.filename != f"{ASSIGNMENT}.ipynb")
                if not members:
                    raise NoNotebook(f"{name} holds no notebook")
                if members[0].file_size > MAX_MESSAGE_BYTES:
                    raise NoNotebook(f"the notebook in {name} is larger than {MAX_MESSAGE_BYTES >> 20} MB")
                with z.open(members[0]) as f:
                    return f.read(MAX_MESSAGE_BYTES).decode("utf-8", "replace")
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as error:
            raise NoNotebook(f"{name} is not a readable zip ({type(error).__name__})") from None
    raise NoNotebook(f"{name} is not a notebook (.ipynb) or an export zip")


def read_folder(folder: str) -> str:
    """The notebook of a Gradescope ``submission/`` folder (the assignment's name first)."""
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    names.sort(key=lambda n: (n != f"{ASSIGNMENT}.ipynb", not n.endswith(".ipynb"), not n.endswith(".zip")))
    for name in names:
        if name.endswith((".ipynb", ".zip")):
            return read_file(os.path.join(folder, name))
    raise NoNotebook(f"no notebook found in the submission (expected {ASSIGNMENT}.ipynb or the export zip)")
