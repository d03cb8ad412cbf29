"""Find the submissions to grade: notebooks and export zips in a folder, or a Gradescope
"Export Submissions" archive (zip or unpacked folder) with its ``submission_metadata.yml``."""

import os
import zipfile
from dataclasses import dataclass, field

import yaml


class SubmissionsError(Exception):
    """The submissions path cannot be graded; the message says why."""


@dataclass
class Submission:
    key: str            # the gradebook's ``file`` column: the path relative to the submissions root
    path: str           # a notebook or a zip to grade
    student: dict = field(default_factory=dict)  # name, email, sid where known


def _gradescope_students(root: str) -> dict:
    """``{submission folder: {"name", "email", "sid"}}`` from ``submission_metadata.yml``."""
    with open(os.path.join(root, "submission_metadata.yml"), encoding="utf-8") as f:
        meta = yaml.safe_load(f) or {}
    students = {}
    for folder, info in meta.items():
        people = (info or {}).get(":submitters") or (info or {}).get("submitters") or []
        if people:
            p = people[0]
            students[folder] = {k: str(p.get(f":{k}", p.get(k, "")) or "") for k in ("name", "email", "sid")}
    return students


def _gradable(path: str) -> bool:
    return path.endswith((".ipynb", ".zip"))


def discover(path: str, unpack_to: str) -> list:
    """All submissions under ``path``, sorted by key; a Gradescope export zip is unpacked into
    ``unpack_to`` (the caller's temporary folder). Raises SubmissionsError with a clear message."""
    if not os.path.exists(path):
        raise SubmissionsError(f"no such file or folder: {path}")
    if os.path.isfile(path):
        if path.endswith(".zip") and _is_gradescope_export(path):
            with zipfile.ZipFile(path) as z:
                z.extractall(unpack_to)
            inner = [os.path.join(unpack_to, d) for d in os.listdir(unpack_to)]
            root = next((d for d in inner if os.path.isfile(os.path.join(d, "submission_metadata.yml"))), unpack_to)
            return discover(root, unpack_to)
        return [Submission(os.path.basename(path), path)]
    if os.path.isfile(os.path.join(path, "submission_metadata.yml")):
        students = _gradescope_students(path)
        found = []
        for folder in sorted(os.listdir(path)):
            sub = os.path.join(path, folder)
            if os.path.isdir(sub):
                files = sorted(f for f in os.listdir(sub) if _gradable(f))
                nb = next((f for f in files if f.endswith(".ipynb")), files[0] if files else None)
                found.append(Submission(folder, os.path.join(sub, nb) if nb else sub, students.get(folder, {})))
        if not found:
            raise SubmissionsError(f"{path} has submission_metadata.yml but no submission folders")
        return found
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            found.append(Submission(os.path.relpath(full, path), full))
    if not found:
        raise SubmissionsError(f"{path} holds no files to grade (expected .ipynb notebooks or export .zip files)")
    return found


def _is_gradescope_export(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("submission_metadata.yml") for n in z.namelist())
    except zipfile.BadZipFile:
        return False
