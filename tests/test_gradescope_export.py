"""A Gradescope "Export Submissions" archive: names and emails come from submission_metadata.yml."""

import shutil
import zipfile

import yaml

from conftest import FULL, ROOT, grade

META = {
    "submission_101": {":submitters": [{":name": "Ada Lovelace", ":sid": "1", ":email": "ada@example.edu"}], ":score": None},
    "submission_102": {":submitters": [{":name": "李雷", ":sid": "2", ":email": "lilei@example.edu"}], ":score": None},
    "submission_103": {":submitters": [{":name": "Empty Folder", ":sid": "3", ":email": "empty@example.edu"}]},
}


def make_export(folder):
    root = folder / "assignment_9_export"
    root.mkdir(parents=True)
    (root / "submission_metadata.yml").write_text(yaml.safe_dump(META, allow_unicode=True), encoding="utf-8")
    (root / "submission_101").mkdir()
    shutil.copy(ROOT / "examples" / "submissions" / "correct.ipynb", root / "submission_101" / "rnn_hidden_state.ipynb")
    (root / "submission_102").mkdir()
    with zipfile.ZipFile(root / "submission_102" / "rnn_hidden_state_2026_11_28.zip", "w") as z:
        z.write(ROOT / "examples" / "submissions" / "untouched.ipynb", "rnn_hidden_state.ipynb")
    (root / "submission_103").mkdir()
    return root


def check_book(book):
    assert book.loc["submission_101", "name"] == "Ada Lovelace"
    assert book.loc["submission_101", "email"] == "ada@example.edu"
    assert book.loc["submission_101", "total_points_earned"] == sum(FULL.values())
    assert book.loc["submission_102", "name"] == "李雷"
    assert book.loc["submission_102", "total_points_earned"] == 0
    assert "no notebook or export zip" in book.loc["submission_103", "grading_status"]


def test_unpacked_export_folder(built, tmp_path):
    root = make_export(tmp_path / "export")
    _, book = grade(root, tmp_path / "out")
    check_book(book)


def test_export_zip(built, tmp_path):
    root = make_export(tmp_path / "export")
    archive = shutil.make_archive(str(tmp_path / "submissions"), "zip", root.parent)
    _, book = grade(archive, tmp_path / "out")
    check_book(book)
