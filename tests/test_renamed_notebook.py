"""The student notebook works under any file name (a browser saves a second download as
``rnn_hidden_state (1).ipynb``): executed with nbclient as renamed copies, its checks run and its
export zips the renamed file; where it cannot know which copy it is, its first cell says so."""

import os
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import dist

pytestmark = pytest.mark.slow

RENAMED = "rnn_hidden_state (1).ipynb"


def _execute(folder, name, env=None, only_first=False):
    nb = nbformat.read(folder / name, 4)
    nb.cells = [c for c in nb.cells if "otter_ignore" not in c.get("metadata", {}).get("tags", [])]
    if only_first:
        nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    client.execute(**({"env": env} if env else {}))
    return nb


def _outputs(nb) -> str:
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) + o.get("ename", "") + " "
                     + o.get("evalue", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _errors(nb) -> list:
    return [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def test_a_renamed_download_beside_another_notebook_checks_and_exports(built, tmp_path):
    (tmp_path / RENAMED).write_text(built[dist.STUDENT], encoding="utf-8")
    (tmp_path / "notes.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    nb = _execute(tmp_path, RENAMED)
    assert not _errors(nb), _errors(nb)
    text = _outputs(nb)
    assert "NameError" not in text and "FileNotFoundError" not in text
    assert text.count("failed") >= 4, "the untouched notebook's public checks should run, and fail"
    (export,) = tmp_path.glob("rnn_hidden_state (1)_*.zip")
    with zipfile.ZipFile(export) as z:
        assert RENAMED in z.namelist()  # at the top level, as the judge reads it
    assert f"{export.name} holds {RENAMED}" in text and "still the stub" in text


def test_among_two_copies_the_one_jupyter_names_is_graded_and_exported(built, tmp_path):
    (tmp_path / RENAMED).write_text(built[dist.SOLUTION_SUBMISSION], encoding="utf-8")
    (tmp_path / "rnn_hidden_state.ipynb").write_text(built[dist.STUDENT], encoding="utf-8")
    # what Jupyter Server >= 2 tells a kernel about its notebook (ipykernel sets __session__ from it)
    env = {**os.environ, "JPY_SESSION_NAME": str(tmp_path / RENAMED)}
    nb = _execute(tmp_path, RENAMED, env=env)
    assert not _errors(nb), _errors(nb)
    text = _outputs(nb)
    assert text.count("All test cases passed") == 4, text
    (export,) = tmp_path.glob("rnn_hidden_state (1)_*.zip")
    assert not list(tmp_path.glob("rnn_hidden_state_*.zip"))
    assert "Upload this zip to Gradescope" in text


def test_two_copies_and_no_word_from_jupyter_say_what_to_do_in_both_languages(built, tmp_path):
    for name in (RENAMED, "rnn_hidden_state.ipynb"):
        (tmp_path / name).write_text(built[dist.STUDENT], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    nb = _execute(tmp_path, RENAMED, env=env, only_first=True)
    (error,) = _errors(nb)
    assert error.startswith("FileNotFoundError: Several copies of this assignment")
    assert RENAMED in error and "move the copies you do not work in" in error and "请把不用的副本移到其他文件夹" in error
