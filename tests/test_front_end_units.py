"""Unit tests of what reads submissions before any grading: the notebook reader, the review
flags, and the normalized autograder zip."""

import io
import json
import os
import zipfile

import pytest

from autograder import dist
from autograder.batch import review
from autograder.judge.submission import NoNotebook, read_file, read_folder

from conftest import ZIP

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            z.writestr(name, data)
    return str(path)


def test_a_notebook_and_an_export_zip_are_read_the_assignment_first(tmp_path):
    (tmp_path / "a.ipynb").write_text(NB)
    assert read_file(str(tmp_path / "a.ipynb")) == NB
    path = write_zip(tmp_path / "export.zip", [("other.ipynb", "{}"), ("rnn_hidden_state.ipynb", NB), (".OTTER_LOG", b"\x80")])
    assert read_file(path) == NB


@pytest.mark.parametrize("entries, words", [
    ([("x.txt", "hi")], "holds no notebook"),
    ([("sub/rnn_hidden_state.ipynb", NB)], "holds no notebook"),
    ([("rnn_hidden_state.ipynb", NB), ("rnn_hidden_state.ipynb", NB)], "two entries of the same name"),
])
def test_an_export_zip_without_one_clear_notebook_is_refused_with_a_reason(tmp_path, entries, words):
    with pytest.raises(NoNotebook, match=words):
        read_file(write_zip(tmp_path / "e.zip", entries))


def test_links_folders_corrupt_zips_and_other_files_are_refused(tmp_path):
    (tmp_path / "real.ipynb").write_text(NB)
    os.symlink(tmp_path / "real.ipynb", tmp_path / "link.ipynb")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "notes.txt").write_text("hi")
    for name, words in (("link.ipynb", "symbolic link"), ("broken.zip", "not a readable zip"),
                        ("notes.txt", "not a notebook")):
        with pytest.raises(NoNotebook, match=words):
            read_file(str(tmp_path / name))
    (tmp_path / "sub").mkdir()
    with pytest.raises(NoNotebook, match="no notebook found"):
        read_folder(str(tmp_path / "sub"))


@pytest.mark.parametrize("code, flag", [
    ("exec('print(1)')", "code built at run time"),
    ("x = getattr(torch, name)", "computed names"),
    ("import autograder.serving.serve", "runner or judge"),
    ("torch.matmul = lambda a, b: a", "replaces a library function"),
    ("import os\nos.kill(1, 9)", "signal"),
    # red team round 11: tampering that the review did not flag (each ran, unflagged, at 22 points)
    ("%%bash\npython3 -c 'import ctypes'", "shell commands"),
    ("!python3 -c \"import ctypes, sys; print(ctypes.sizeof(ctypes.c_int))\"", "shell commands"),
    ("%time _x = 1\n!echo shell", "shell commands"),
    ("_b = globals()['__buil' + 'tins__']\n_ev = (_b.__dict__ if hasattr(_b, '__dict__') else _b)['ev' + 'al']",
     "namespaces by name"),
    ("get_ipython().system('ls')", "shell commands"),
    ("f = open('/proc/self/mem', 'wb')", "/proc"),
    # red team round 12: the trace switched off through an import the review did not read
    ("from torch.utils._python_dispatch import _disable_current_modes", "recognises how it is called"),
    ("import torch.utils._python_dispatch as d", "recognises how it is called"),
    # red team round 15: torch's internals reached through attrgetter of names spelled backwards
    ("import operator as _op\n_r = lambda s: s[::-1]\n_hide = _op.attrgetter(_r('hctapsiDhcroTelbasiD_.C_'))(torch)",
     "computed names"),
    ("from operator import methodcaller\nf = methodcaller(name)", "computed names"),
    ("m = 'kcats_edom_hctapsid_tnerruc_teg_.hctapsid_nohtyp_.slitu'", "recognises how it is called"),
    ("f = operator.attrgetter('shape')", None),
    # red team round 18: numpy inside a kernel registered for aten::mm, behind an honest-looking trace
    ("lib = torch.library.Library('aten', 'IMPL')\nlib.impl('mm', lambda a, b: a, 'CPU')", "kernels of its own"),
    ("from torch.library import custom_op", "kernels of its own"),
    ("class T(torch.Tensor):\n    @classmethod\n    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):\n"
     "        return func(*args)", "tensor subclass"),
    ("s = X.as_subclass(T)", "tensor subclass"),
    ("from torch.utils.cpp_extension import load_inline", "kernels of its own"),
    # red team round 23: code on the lines of the magics that run Python went unreviewed
    ("%time _k = torch._C._DisableTorchDispatch", "torch._C"),
    ("%timeit -n 10 -r 3 exec('x = 1'); import subprocess", "starts processes"),
    ("%%time\nimport ctypes", "ctypes"),
    ("%%capture out\nimport ctypes", "ctypes"),
    ("%%timeit -n 5 import ctypes\nf()", "ctypes"),
    # honest magics stay unflagged
    ("%time y = X @ W_xh", None),
    ("%timeit -n10 -r 3 -q hidden_state_fused(X, W_xh, H, W_hh)", None),
    ("for n in (10, 100):\n    %time hidden_state_fused(X[:n], W_xh, H[:n], W_hh)", None),
    ("%%time\ny = hidden_state_fused(X, W_xh, H, W_hh)", None),
    ("%%capture --no-stdout\nprint(1)", None),
    ("%matplotlib inline\nimport torch", None),
])
def test_review_flags_read_code_as_code(code, flag):
    found = "; ".join(sorted(review.code_flags(code)))
    assert (flag in found) if flag else found == "", found


def test_review_skips_the_distributed_cells_and_flags_only_new_ones():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "exec('1')"}
    nb = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert review.notebook_flags(nb, baseline=frozenset({"exec('1')"})) == set()
    assert review.notebook_flags(nb, baseline=frozenset()) != set()


def test_otters_own_export_files_are_not_flagged(tmp_path):
    path = write_zip(tmp_path / "e.zip", [("rnn_hidden_state.ipynb", NB), (".OTTER_LOG", b""),
                                          ("__zip_filename__", "e.zip"), ("rnn_hidden_state.pdf", b"")])
    assert review.zip_extras(path) == []
    path = write_zip(tmp_path / "f.zip", [("rnn_hidden_state.ipynb", NB), ("evil.py", "")])
    assert review.zip_extras(path) == ["evil.py"]


def test_the_committed_zip_is_normalized():
    with zipfile.ZipFile(io.BytesIO(ZIP.read_bytes())) as z:
        names = z.namelist()
        assert names == sorted(names) and "run_otter.py" not in names and not any("__pycache__" in n for n in names)
        assert all(i.date_time == dist.ZIP_DATE for i in z.infolist())
        assert {i.external_attr >> 16 for i in z.infolist()} <= {0o644, 0o755}
        assert "autograder.judge.gradescope" in z.read("run_autograder").decode()
        assert z.read("setup.sh").decode().endswith(dist.SETUP_RUNNER)


def test_normalizing_replaces_otters_runner_and_fixes_dates():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("run_otter.py", "")
        z.writestr("run_autograder", "#!/usr/bin/env bash\ncd /autograder/source\npython3 run_otter.py\n")
        z.writestr("setup.sh", "apt-get install -y wget\n")
        z.writestr("b/__pycache__/x.pyc", "")
        z.writestr("a.py", "x = 1\n")
    with zipfile.ZipFile(io.BytesIO(dist.normalize_zip(out.getvalue()))) as z:
        assert z.namelist() == ["a.py", "run_autograder", "setup.sh"]
        assert "run_otter" not in z.read("run_autograder").decode()
        assert all(i.date_time == dist.ZIP_DATE for i in z.infolist())


def test_output_txt_has_no_terminal_colour_codes(tmp_path):
    from autograder.batch.report import submission_dir, write_submission
    row = {"total_points_earned": 0.0, "grading_status": "graded", "q1_shapes": 0.0}
    write_submission(str(tmp_path), "a.ipynb", {"status": "graded", "results": None,
                                                 "output": "\x1b[0;31mValueError\x1b[0m: bad\n"},
                     row, ["q1_shapes"], {"q1_shapes": 2})
    assert (tmp_path / submission_dir("", "a.ipynb") / "output.txt").read_text() == "ValueError: bad\n"
