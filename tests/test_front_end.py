"""One bad submission never stops, stalls or rewrites a class's batch, and nothing a student names
reaches the instructor's files raw: the batch grader's front end (discovery, unpacking, review,
gradebook, summary) against hostile files, end to end and under Hypothesis."""

import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.batch import class_report, report, review
from autograder.batch.checkbook import COLUMNS as CHECK_COLUMNS
from autograder.batch.escape import FORMULA_START
from autograder.batch.gradebook import Gradebook
from autograder.batch.submissions import discover
from autograder.judge.submission import NoNotebook, read_file

from conftest import FULL, ROOT, grade

NO_CHECKS = pd.DataFrame(columns=CHECK_COLUMNS)

CORRECT = ROOT / "examples" / "submissions" / "correct.ipynb"
TOTAL = sum(FULL.values())


def _notebook_with(cell: dict) -> str:
    nb = json.loads(CORRECT.read_text())
    nb["cells"].append(cell)
    return json.dumps(nb)


def _encrypted_zip(path: Path) -> None:
    """A zip whose notebook entry says it is encrypted (flag bit 0 set in both headers)."""
    with zipfile.ZipFile(path, "w") as z:
        z.write(CORRECT, "rnn_hidden_state.ipynb")
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        data[i + offset] |= 1
    path.write_bytes(bytes(data))


def _corrupt_deflate_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(CORRECT, "rnn_hidden_state.ipynb")
    data = bytearray(path.read_bytes())
    start = data.find(b"rnn_hidden_state.ipynb") + len("rnn_hidden_state.ipynb")
    for i in range(start + 40, start + 400):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def hostile_class(folder: Path) -> dict:
    """Three correct notebooks beside every hostile input of the issue; returns
    ``{key: what its row must say}`` (None: full marks)."""
    folder.mkdir(parents=True)
    expect = {}
    for name in ("alice.ipynb", "bob.ipynb", "carol.ipynb"):
        shutil.copy(CORRECT, folder / name)
        expect[name] = None
    nb = json.loads(CORRECT.read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": [None]})
    (folder / "null-source.ipynb").write_text(json.dumps(nb))
    expect["null-source.ipynb"] = "error"
    _encrypted_zip(folder / "encrypted.zip")
    expect["encrypted.zip"] = "not a readable zip"
    _corrupt_deflate_zip(folder / "corrupt.zip")
    expect["corrupt.zip"] = "not a readable zip"
    for name in ("final_grades.csv.tmp", "summary.md", "histogram.png", "submissions"):
        (folder / name).write_text("x")
        expect[name] = "not a notebook"
    shutil.copy(CORRECT, folder / "=2+3.ipynb")
    expect["=2+3.ipynb"] = None
    blank = _notebook_with({"cell_type": "code", "metadata": {"tags": ["otter_ignore"]}, "outputs": [],
                            "execution_count": None, "source": "\n" * 200_000})
    (folder / "blank-lines.ipynb").write_text(blank)
    expect["blank-lines.ipynb"] = None
    os.symlink("/etc/shadow", folder / "mallory.ipynb")
    expect["mallory.ipynb"] = "symbolic link"
    os.symlink(folder / "bob.ipynb", folder / "copycat.ipynb")
    expect["copycat.ipynb"] = "symbolic link"
    shutil.copy(CORRECT, folder / "bob.ipynb.")
    expect["bob.ipynb."] = "not a notebook"
    (folder / "alice").mkdir()
    shutil.copy(CORRECT, folder / "alice" / "hw.ipynb")
    expect["alice/hw.ipynb"] = None
    (folder / "alice__hw.ipynb").write_text("{not json")
    expect["alice__hw.ipynb"] = "error"
    shutil.copy(CORRECT, folder / "new\nline <img src=x onerror=alert(1)>.ipynb")
    expect["new\nline <img src=x onerror=alert(1)>.ipynb"] = None
    with zipfile.ZipFile(folder / "duplicate.zip", "w") as z:
        z.write(CORRECT, "rnn_hidden_state.ipynb")
        z.writestr("rnn_hidden_state.ipynb", (ROOT / "examples" / "submissions" / "untouched.ipynb").read_text())
    expect["duplicate.zip"] = "two entries of the same name"
    os.mkfifo(folder / "pipe.ipynb")
    expect["pipe.ipynb"] = "special file"
    return expect


def test_hostile_files_beside_correct_notebooks_each_get_a_row(built, tmp_path):
    expect = hostile_class(tmp_path / "class")
    out = tmp_path / "out"
    t0 = time.monotonic()
    done, _ = grade(tmp_path / "class", out, "--workers", "2")
    seconds = time.monotonic() - t0
    book = pd.read_csv(out / "final_grades.csv", dtype=str, keep_default_na=False)
    assert len(book) == len(expect), book["file"].tolist()
    folders = dict(zip(book["folder"], book.to_dict("records")))
    for key, want in expect.items():
        row = folders[report.folder_of(key)]
        if want is None:
            assert float(row["total_points_earned"]) == TOTAL, (key, row["grading_status"])
        else:
            assert float(row["total_points_earned"]) == 0 and want in row["grading_status"], (key, row)
    for column in ("file", "name", "email", "grading_status"):
        assert not any(str(v).startswith(FORMULA_START[:-1]) for v in book[column]), book[column].tolist()
    summary = (out / "summary.md").read_text()
    assert "<img" not in summary and "\n## Note" not in summary
    assert "root:" not in (out / "final_grades.csv").read_text()
    assert seconds < 600, seconds


def _export(root: Path, top: bool) -> Path:
    base = root / "assignment_9_export" if top else root
    base.mkdir(parents=True)
    meta = {"submission_1": {":submitters": [{":name": "=HYPERLINK(\"http://x\")", ":email": "a@b", ":sid": "1"}]},
            "submission_2": {":submitters": [{":name": "Bob", ":email": "bob@x", ":sid": "2"}]}}
    (base / "submission_metadata.yml").write_text(yaml.safe_dump(meta))
    for sub in meta:
        (base / sub).mkdir()
        shutil.copy(CORRECT, base / sub / "rnn_hidden_state.ipynb")
    # a student's own folder that holds a metadata file of its own, and folders of its own
    (base / "submission_2" / "submission_metadata.yml").write_text(yaml.safe_dump({"x": {":submitters": [{":name": "Eve"}]}}))
    (base / "submission_2" / "x").mkdir()
    archive = shutil.make_archive(str(root.parent / f"export-{top}"), "zip", root)
    return Path(archive)


def test_an_export_is_the_exports_with_or_without_its_top_folder(tmp_path):
    books = []
    for top in (True, False):
        archive = _export(tmp_path / f"e{top}" / "root", top)
        subs = discover(str(archive), str(tmp_path / f"unpacked{top}"))
        books.append(sorted((s.key, s.student.get("name")) for s in subs))
    assert books[0] == books[1] == [("submission_1", "=HYPERLINK(\"http://x\")"), ("submission_2", "Bob")]


def test_the_review_reads_the_notebook_the_judge_grades(tmp_path):
    payload = "exec(bytes.fromhex('7072696e74283129'))"
    nb3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
           "worksheets": [{"cells": [{"cell_type": "code", "input": payload, "outputs": [], "language": "python"}]}]}
    (tmp_path / "v3.ipynb").write_text(json.dumps(nb3))
    assert "runs code built at run time" in review.flags(str(tmp_path / "v3.ipynb"))
    with zipfile.ZipFile(tmp_path / "dup.zip", "w") as z:
        z.writestr("rnn_hidden_state.ipynb", CORRECT.read_text())
        z.writestr("rnn_hidden_state.ipynb", _notebook_with({"cell_type": "code", "metadata": {}, "outputs": [],
                                                              "execution_count": None, "source": payload}))
    try:
        read_file(str(tmp_path / "dup.zip"))
        raise AssertionError("a zip with two notebooks of one name was graded")
    except NoNotebook as error:
        assert "same name" in str(error)


# --- Hypothesis over names, notebook shapes and zip layouts ---------------------------------------

NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=40).filter(
    lambda n: n not in (".", "..") and len(n.encode()) < 200)
GRADER_NAMES = st.sampled_from(["final_grades.csv", "final_grades.csv.tmp", "summary.md", "histogram.png",
                                "submissions", "=1+1.ipynb", "-x.ipynb", "@a.ipynb", "a\nb.ipynb", "a.ipynb.",
                                "a.ipynb", "\u202eevil.ipynb", " .ipynb"])
CELLS = st.lists(st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", "raw", None, 3]),
                                        "source": st.one_of(st.text(max_size=50), st.lists(st.one_of(st.none(), st.text(max_size=10)), max_size=3),
                                                            st.none(), st.integers())}), max_size=4)
CONTENT = st.one_of(st.binary(max_size=100), CELLS.map(lambda cells: json.dumps({"nbformat": 4, "nbformat_minor": 5,
                                                                                  "metadata": {}, "cells": cells}).encode()))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(st.one_of(NAMES, GRADER_NAMES), CONTENT, st.sampled_from(["file", "zip", "dir"])),
                      min_size=1, max_size=6, unique_by=lambda f: f[0]))
def test_any_names_and_contents_give_one_row_each_and_stay_in_the_output(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("class")
    out = tmp_path_factory.mktemp("out")
    keys = []
    for name, content, layout in files:
        path = root / name
        if layout == "dir":
            path.mkdir()
            (path / "rnn_hidden_state.ipynb").write_bytes(content)
        elif layout == "zip":
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("rnn_hidden_state.ipynb", content)
        else:
            path.write_bytes(content)
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    t0 = time.monotonic()
    subs = discover(str(root), str(tmp_path_factory.mktemp("unpack")))
    book = Gradebook(str(out), list(FULL), FULL)
    for sub in subs:
        flags = review.flags(sub.path) if not sub.refused else ""
        try:
            read_file(sub.path)
            status = "graded"
        except NoNotebook as error:
            status = f"error: {error}"
        row = book.add(sub.key, None, status, {"name": sub.key}, flags)
        report.write_submission(str(out), sub.key, {"status": status, "results": None, "output": ""}, row,
                                list(FULL), FULL)
        keys.append(sub.key)
    class_report.write(str(out), book.frame(), NO_CHECKS, list(FULL), FULL)
    assert time.monotonic() - t0 < 30
    assert len(set(keys)) == len(keys) == len(pd.read_csv(out / "final_grades.csv", dtype=str, keep_default_na=False))
    assert len(set(map(report.folder_of, keys))) == len(keys)
    assert set(os.listdir(out)) <= {"final_grades.csv", "lms_grades.csv", "summary.md", "histogram.png", "report.html",
                                    "submissions"}
    assert set(os.listdir(out / "submissions")) == set(map(report.folder_of, keys))
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before, "the submissions tree was written to"
    csv = pd.read_csv(out / "final_grades.csv", dtype=str, keep_default_na=False)
    for column in ("file", "name", "grading_status"):
        assert not any(v.startswith(FORMULA_START[:-1]) for v in csv[column]), csv[column].tolist()
    assert "\n" not in "".join(csv["file"]) and "<" not in (out / "summary.md").read_text().replace("&lt;", "")


# --- undecided rows and regrading chosen submissions ---------------------------------------------

def test_an_undecided_row_has_no_number_is_left_out_and_is_graded_again(tmp_path):
    book = Gradebook(str(tmp_path), list(FULL), FULL)
    book.add("a.ipynb", None, "graded", {})
    book.add("b.ipynb", None, "needs-regrade: the grader could not decide q3_fused timing", {})
    csv = pd.read_csv(tmp_path / "final_grades.csv", dtype=str, keep_default_na=False).set_index("file")
    assert csv.loc["b.ipynb", "total_points_earned"] == "" and csv.loc["a.ipynb", "total_points_earned"] == "0.0"
    again = Gradebook(str(tmp_path), list(FULL), FULL)
    assert again.graded("a.ipynb") and not again.graded("b.ipynb")
    text = class_report.write(str(tmp_path), again.frame(), NO_CHECKS, list(FULL), FULL)
    assert "needing a regrade (left out of the statistics): 1" in text


def test_only_regrades_chosen_submissions_in_place(built, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice.ipynb", "bob.ipynb"):
        shutil.copy(CORRECT, folder / name)
    out = tmp_path / "out"
    grade(folder, out)
    (folder / "bob.ipynb").write_text((ROOT / "examples" / "submissions" / "untouched.ipynb").read_text())
    _, book = grade(folder, out, "--only", "bob.ipynb")
    assert len(book) == 2
    assert book.loc["alice.ipynb", "total_points_earned"] == TOTAL
    assert book.loc["bob.ipynb", "total_points_earned"] == 0
    done, _ = grade(folder, out, "--only", "carol.ipynb", check=False)
    assert done.returncode == 2 and "carol.ipynb" in done.stderr
