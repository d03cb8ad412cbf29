"""Hostile and odd submissions, graded in one batch with a correct one (issue: batch grading).

Each hostile notebook is the correct solution plus one hostile cell after the setup cell, so any
point it loses is lost to what the cell did. Bounded: sleepers end, the memory hog stops at a few
GB, the fork bomb at a few hundred processes.
"""

import socket
import subprocess
import threading
import uuid
import zipfile

import nbformat
import pytest

from autograder.batch import limits
from conftest import FULL, ROOT, grade

MARK = f"hostile-{uuid.uuid4().hex[:8]}"
OUTSIDE = [f"/tmp/{MARK}-tmp", str(ROOT / f"{MARK}-repo")]
TOTAL = sum(FULL.values())


FAKE_HELPERS = ("import sys, types\nfake = types.ModuleType('rnn_checks')\n"
                "fake.check = fake.check_shapes = lambda *a: None\nsys.modules['rnn_checks'] = fake")


def hostile_cells(port):
    return {
        "loops-forever": "while True:\n    pass",
        "sleeps": "import time\ntime.sleep(600)",
        "eats-memory": "blocks = []\nfor _ in range(12):\n    blocks.append(bytearray(512 * 2**20))",
        "calls-sys-exit": "import sys\nsys.exit(3)",
        "calls-os-exit": "import os\nos._exit(7)",
        "segfaults": "import ctypes\nctypes.string_at(0)",
        "kills-its-parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "spawns-processes": (f"import subprocess\nfor _ in range(3):\n    subprocess.Popen(['sleep', '3600'], start_new_session=True)\n"
                             f"subprocess.Popen(['sh', '-c', 'exec -a {MARK} sleep 3600'])"),
        "forks-many": ("import os, time\nfor _ in range(300):\n    try:\n        if os.fork() == 0:\n            time.sleep(3600)\n"
                       "            os._exit(0)\n    except OSError:\n        break"),
        "floods-stdout": "for _ in range(200):\n    print('x' * 1_000_000)",
        "opens-a-connection": f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'{MARK}')\nexcept OSError as e:\n    print(e)",
        # a fake helpers module: the hidden tests load theirs from source/files, never by name
        "fakes-the-helpers": FAKE_HELPERS,
        "writes-outside": "\n".join(f"try:\n    open({p!r}, 'w').write('x')\nexcept OSError as e:\n    print(e)" for p in OUTSIDE),
    }


@pytest.fixture(scope="module")
def hostile_batch(solution_nb, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    received = []

    def listen():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
            except OSError:
                pass

    stop = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    nbformat.write(solution_nb, folder / "学生 张三 (correct).ipynb")
    setup = next(i for i, c in enumerate(solution_nb.cells) if c.cell_type == "code")
    for name, code in hostile_cells(server.getsockname()[1]).items():
        nb = nbformat.from_dict(solution_nb)
        nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(code))
        nbformat.write(nb, folder / f"{name}.ipynb")
    # a partly wrong answer shipped with a fake helpers folder that would pass everything
    with zipfile.ZipFile(folder / "ships-fake-helpers.zip", "w") as z:
        z.write(ROOT / "examples" / "submissions" / "partly-wrong.ipynb", "rnn_hidden_state.ipynb")
        z.writestr("rnn_checks/__init__.py", "def check(*a):\n    pass\n\ndef check_shapes(*a):\n    pass\n")
        z.writestr("rnn_checks/entry.py", "def check(*a):\n    pass\n\ndef check_shapes(*a):\n    pass\n")
    partly = nbformat.read(ROOT / "examples" / "submissions" / "partly-wrong.ipynb", 4)
    partly.cells.insert(setup + 1, nbformat.v4.new_code_cell(FAKE_HELPERS))
    nbformat.write(partly, folder / "partly-wrong-fakes-the-helpers.ipynb")
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (folder / "notes.txt").write_text("not a notebook")
    done, book = grade(folder, tmp_path_factory.mktemp("hostile-grades"), "--timeout", "25", "--memory-mb", "1500")
    stop.set()
    listener.join()
    server.close()
    survivors = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return book, received, survivors


def status(book, name):
    return book.loc[name, "grading_status"]


def test_correct_submission_with_an_odd_name_gets_full_marks(hostile_batch):
    book, _, _ = hostile_batch
    assert book.loc["学生 张三 (correct).ipynb", "total_points_earned"] == TOTAL
    assert status(book, "学生 张三 (correct).ipynb") == "graded"


@pytest.mark.parametrize("name, expected", [
    ("loops-forever.ipynb", "timeout"),
    ("sleeps.ipynb", "timeout"),
    ("calls-os-exit.ipynb", "ended the grading process early"),
    ("segfaults.ipynb", "signal 11"),
    ("kills-its-parent.ipynb", "killed its grading worker"),
    ("empty.ipynb", "error"),
    ("corrupt.zip", "not a readable submission"),
    ("notes.txt", "error"),
])
def test_fatal_submissions_get_a_row_saying_what_happened(hostile_batch, name, expected):
    book, _, _ = hostile_batch
    assert expected in status(book, name)
    assert book.loc[name, "total_points_earned"] == 0


@pytest.mark.parametrize("name", ["calls-sys-exit.ipynb", "spawns-processes.ipynb", "floods-stdout.ipynb",
                                  "opens-a-connection.ipynb", "writes-outside.ipynb", "eats-memory.ipynb",
                                  "fakes-the-helpers.ipynb"])
def test_survivable_hostility_is_graded_on_its_answers(hostile_batch, name):
    book, _, _ = hostile_batch
    assert status(book, name).startswith("graded")
    assert book.loc[name, "total_points_earned"] == TOTAL


def test_memory_hog_is_reported(hostile_batch):
    book, _, _ = hostile_batch
    assert "ran out of memory" in status(book, "eats-memory.ipynb")


def test_fork_bomb_is_held_and_has_its_row(hostile_batch):
    # held by the pids cgroup (root) or RLIMIT_NPROC; with every process slot taken, its checks may
    # not run before the time limit: either outcome is its own, and the other rows are untouched
    book, _, _ = hostile_batch
    assert status(book, "forks-many.ipynb").startswith(("graded", "timeout")), status(book, "forks-many.ipynb")


def test_fake_helpers_earn_nothing_and_are_flagged_for_review(hostile_batch):
    book, _, _ = hostile_batch
    for name in ("partly-wrong-fakes-the-helpers.ipynb", "ships-fake-helpers.zip"):
        assert book.loc[name, "total_points_earned"] == 19, f"{name}: the fake helpers changed the score"
    assert "extra files in the zip: rnn_checks/" in book.loc["ships-fake-helpers.zip", "review_flags"]
    flags = book.loc["partly-wrong-fakes-the-helpers.ipynb", "review_flags"]
    assert "sys.modules" in flags and "hidden-test helpers" in flags


def test_no_process_survives(hostile_batch):
    _, _, survivors = hostile_batch
    assert MARK not in survivors and "sleep 3600" not in survivors


def test_nothing_written_outside_and_no_connection_left_the_sandbox(hostile_batch):
    if not limits.bwrap_prefix("/"):
        pytest.skip("bubblewrap is not installed or cannot run here: network and file-system isolation "
                    "are not provided (see README)")
    _, received, _ = hostile_batch
    assert not received, "a submission reached a server on the grading machine"
    for path in OUTSIDE:
        assert not __import__("os").path.exists(path), f"a submission wrote {path}"
