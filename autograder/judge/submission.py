"""Read a submission's notebook as text: from a notebook file, or from the ``.ipynb`` inside an
export zip. Nothing else in a zip is opened (``.OTTER_LOG``, which Otter would unpickle,
included), nothing is extracted, and sizes are capped."""

import os
import stat
import zipfile

from ..config import MAX_MESSAGE_BYTES

ASSIGNMENT = "rnn_hidden_state"


class Submitted(str):
    """A notebook's text that knows which file it came from: ``origin`` is "a.ipynb", or
    "a.ipynb in b.zip" (shown to the student in the "Submission received" test)."""

    origin = ""


def _submitted(text: str, origin: str) -> Submitted:
    out = Submitted(text)
    out.origin = origin
    return out


class NoNotebook(Exception):
    """The submission holds no notebook the judge can read; the message says why."""


def _regular(path: str, name: str) -> None:
    """Only a regular file is read: a symbolic link or a special file could point anywhere."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as error:
        raise NoNotebook(f"{name} cannot be read ({type(error).__name__})") from None
    if stat.S_ISLNK(mode):
        raise NoNotebook(f"{name} is a symbolic link; links are not followed: submit the file itself")
    if stat.S_ISDIR(mode):
        raise NoNotebook(f"no notebook or export zip in the submission {name}")
    if not stat.S_ISREG(mode):
        raise NoNotebook(f"{name} is not a regular file")


def notebook_member(z: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The one notebook of an export zip the judge grades (and the review reads): a top-level
    ``.ipynb``, the assignment's name first. Duplicate entries are refused, as are oversize ones."""
    members = [i for i in z.infolist() if i.filename.endswith(".ipynb") and "/" not in i.filename]
    names = [i.filename for i in members]
    if len(set(names)) != len(names):
        raise NoNotebook(f"{name} holds two entries of the same name: re-export it")
    members.sort(key=lambda i: (i.filename != f"{ASSIGNMENT}.ipynb", i.filename))
    if not members:
        raise NoNotebook(f"{name} holds no notebook")
    if members[0].file_size > MAX_MESSAGE_BYTES:
        raise NoNotebook(f"the notebook in {name} is larger than {MAX_MESSAGE_BYTES >> 20} MB")
    return members[0]


def read_file(path: str) -> str:
    """The notebook's text (a :class:`Submitted`, which names the file); raises NoNotebook (with a
    reason a student can act on) for anything else, whatever is wrong with the file."""
    name = os.path.basename(path)
    _regular(path, name)
    if path.endswith(".ipynb"):
        if os.path.getsize(path) > MAX_MESSAGE_BYTES:
            raise NoNotebook(f"{name} is larger than {MAX_MESSAGE_BYTES >> 20} MB")
        with open(path, "rb") as f:
            return _submitted(f.read(MAX_MESSAGE_BYTES + 1).decode("utf-8", "replace"), name)
    if path.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as z:
                member = notebook_member(z, name)
                with z.open(member) as f:
                    data = f.read(MAX_MESSAGE_BYTES + 1)
        except NoNotebook:
            raise
        except Exception as error:  # noqa: BLE001 - encrypted, corrupt, truncated, unsupported: all unreadable
            raise NoNotebook(f"{name} is not a readable zip ({type(error).__name__})") from None
        if len(data) > MAX_MESSAGE_BYTES:
            raise NoNotebook(f"the notebook in {name} is larger than {MAX_MESSAGE_BYTES >> 20} MB")
        return _submitted(data.decode("utf-8", "replace"), f"{member.filename} in {name}")
    raise NoNotebook(f"{name} is not a notebook (.ipynb) or an export zip")


def read_folder(folder: str) -> str:
    """The notebook of a Gradescope ``submission/`` folder (the assignment's name first)."""
    names = sorted(n for n in os.listdir(folder) if not os.path.isdir(os.path.join(folder, n)))
    names.sort(key=lambda n: (n != f"{ASSIGNMENT}.ipynb", not n.endswith(".ipynb"), not n.endswith(".zip")))
    for name in names:
        if name.endswith((".ipynb", ".zip")):
            return read_file(os.path.join(folder, name))
    raise NoNotebook(f"no notebook found in the submission (expected {ASSIGNMENT}.ipynb or the export zip)")
