"""Find the submissions to grade: notebooks and export zips in a folder, or a Gradescope
"Export Submissions" archive (zip or unpacked folder) with its ``submission_metadata.yml``.

Every file a student named is hostile. Nothing outside the submissions tree is read: symbolic
links and special files become rows with a status, never followed. The class list comes only
from the export's own top-level ``submission_metadata.yml`` (at the archive's root, or in its
one top folder); a ``submission_metadata.yml`` inside a student's folder is only that student's
file. Discovery never raises for one bad entry: each becomes a row that says what is wrong.
"""

import os
import stat
import zipfile
from dataclasses import dataclass, field

import yaml

METADATA = "submission_metadata.yml"
#: an export archive is unpacked only within these bounds (a zip bomb is refused as a whole)
MAX_EXPORT_BYTES = 8 << 30
MAX_EXPORT_FILES = 200_000


class SubmissionsError(Exception):
    """The submissions path cannot be graded; the message says why."""


@dataclass
class Submission:
    key: str            # the gradebook's ``file`` column: the path relative to the submissions root
    path: str           # a notebook or a zip to grade
    student: dict = field(default_factory=dict)  # name, email, sid, late where known
    refused: str = ""   # why this entry is not graded (a link, a special file), or ""


def _late(info: dict) -> str:
    """"yes" / "no" from a submission's ``:late:`` entry, "" where the export does not say."""
    value = next((info[k] for k in (":late", "late", ":late?") if k in info), None)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return {"true": "yes", "false": "no"}.get(str(value).strip().lower(), "") if value is not None else ""


def _gradescope_students(root: str) -> dict:
    """``{submission folder: {"name", "email", "sid", "late"}}`` from ``submission_metadata.yml``;
    an unreadable file gives no names (the submissions are still graded)."""
    try:
        with open(os.path.join(root, METADATA), encoding="utf-8") as f:
            meta = yaml.safe_load(f) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    students = {}
    for folder, info in (meta.items() if isinstance(meta, dict) else ()):
        people = (info or {}).get(":submitters") or (info or {}).get("submitters") or [] if isinstance(info, dict) else []
        if isinstance(people, list) and people and isinstance(people[0], dict):
            p = people[0]
            students[str(folder)] = {k: str(p.get(f":{k}", p.get(k, "")) or "") for k in ("name", "email", "sid")}
            students[str(folder)]["late"] = _late(info)
    return students


def _gradable(path: str) -> bool:
    return path.endswith((".ipynb", ".zip"))


def _kind(path: str) -> str:
    """"file", "dir", or why the entry is refused."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as error:
        return f"cannot be read ({type(error).__name__})"
    if stat.S_ISLNK(mode):
        return "a symbolic link (links are not followed)"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "a special file (not a regular file)"


def export_root(names: list) -> str:
    """The folder of an export archive's own ``submission_metadata.yml``: "" for the archive's
    root, ``top/`` for its one top folder; None when the archive is not an export."""
    if METADATA in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names if n.strip("/")}
    if len(tops) == 1:
        top = tops.pop() + "/"
        if top + METADATA in names:
            return top
    return None


def _unpack_export(path: str, unpack_to: str) -> str:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > MAX_EXPORT_FILES or sum(i.file_size for i in infos) > MAX_EXPORT_BYTES:
            raise SubmissionsError(f"{path} is larger than this grader unpacks ({MAX_EXPORT_FILES} files, "
                                   f"{MAX_EXPORT_BYTES >> 30} GB)")
        root = export_root(z.namelist())
        z.extractall(unpack_to)  # zipfile keeps members inside unpack_to and writes links as plain files
    return os.path.join(unpack_to, root)


def _export(root: str) -> list:
    students = _gradescope_students(root)
    found = []
    for folder in sorted(os.listdir(root)):
        sub = os.path.join(root, folder)
        kind = _kind(sub)
        if kind == "file":
            continue
        if kind != "dir":
            found.append(Submission(folder, sub, students.get(folder, {}), refused=kind))
            continue
        files = sorted(f for f in os.listdir(sub) if _gradable(f) and _kind(os.path.join(sub, f)) == "file")
        links = sorted(f for f in os.listdir(sub) if _gradable(f) and _kind(os.path.join(sub, f)) != "file")
        nb = next((f for f in files if f.endswith(".ipynb")), files[0] if files else None)
        refused = "" if nb or not links else f"{links[0]} is {_kind(os.path.join(sub, links[0]))}"
        found.append(Submission(folder, os.path.join(sub, nb) if nb else sub, students.get(folder, {}), refused))
    if not found:
        raise SubmissionsError(f"{root} has {METADATA} but no submission folders")
    return found


def _folder(path: str) -> list:
    found = []
    for dirpath, dirnames, filenames in os.walk(path):  # never descends into a linked folder
        dirnames.sort()
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if _kind(full) != "dir":
                found.append(Submission(os.path.relpath(full, path), full, refused=_kind(full)))
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and _kind(os.path.join(dirpath, d)) == "dir"]
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            kind = _kind(full)
            found.append(Submission(os.path.relpath(full, path), full, refused="" if kind == "file" else kind))
    if not found:
        raise SubmissionsError(f"{path} holds no files to grade (expected .ipynb notebooks or export .zip files)")
    return found


def discover(path: str, unpack_to: str) -> list:
    """All submissions under ``path``, sorted by key; a Gradescope export zip is unpacked into
    ``unpack_to`` (the caller's temporary folder). Raises SubmissionsError with a clear message."""
    if not os.path.exists(path):
        raise SubmissionsError(f"no such file or folder: {path}")
    if os.path.isfile(path):
        if path.endswith(".zip") and _is_gradescope_export(path):
            return discover(_unpack_export(path, unpack_to), unpack_to)
        return [Submission(os.path.basename(path), path)]
    if os.path.isfile(os.path.join(path, METADATA)):
        return _export(path)
    return _folder(path)


def _is_gradescope_export(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return export_root(z.namelist()) is not None
    except Exception:  # noqa: BLE001 - not a readable zip: graded (and refused) as one submission
        return False
