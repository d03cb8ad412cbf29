"""Hostile and odd submissions, graded in one batch with a correct one, and the worst of them on
the Gradescope path too.

Two kinds. *Disruptive* cells (after the setup cell) try to break grading: each row must say
what happened and cost no other row anything. *Cheating* cells (at the end) replace
``hidden_state_fused`` with a slow row loop or a wrong function plus a trick; each must score no
more than its honest base: at most 5 on q3 for a loop (values, inputs, devices), 0 for a wrong
function. The tricks follow the classes of the judge issue: patching Otter or the runner,
forging replies on the runner's pipes, pickles for Otter to load, reading answers from disk,
remembering results, behaving differently when traced or timed, slowing the yardstick with a
process left running, exhausting the judge's memory, filling the disk, fork bombs.
"""

import io
import os
import pickle
import re
import shutil
import socket
import subprocess
import threading
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.batch.report import submission_dir
from autograder.bench import gradescope_layout

from conftest import FULL, PARTLY_WRONG, ROOT, grade

MARK = f"hostile-{uuid.uuid4().hex[:8]}"
OUTSIDE = [f"/tmp/{MARK}-tmp", str(ROOT / f"{MARK}-repo")]
PWNED = f"/tmp/{MARK}-pwned"
TOTAL = sum(FULL.values())
LOOP_BASE = TOTAL - FULL["q3_fused"] + 5  # a row loop keeps values, inputs and devices of q3

LOOP = ("def hidden_state_fused(X, W_xh, H, W_hh):\n"
        "    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
        "    return torch.stack([XH[i] @ W for i in range(XH.shape[0])])\n")


def disruptive(port):
    return {
        "loops-forever": "while True:\n    pass",
        "sleeps": "import time\ntime.sleep(600)",
        # runs into its memory limit (MemoryError), then lets the memory go: holding it would leave its own
        # functions a draw-dependent sliver of address space (q4 inputs once raised MemoryError), which is
        # the notebook's own doing, not the grader's; what is tested is that the limit costs nothing else
        "eats-memory": ("blocks = []\ntry:\n    for _ in range(12):\n        blocks.append(bytearray(512 * 2**20))\n"
                        "finally:\n    del blocks"),
        "calls-sys-exit": "import sys\nsys.exit(3)",
        "calls-os-exit": "import os\nos._exit(7)",
        "segfaults": "import ctypes\nctypes.string_at(0)",
        "kills-its-parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        # stops the zygote that would fork the next submission's runner: the next one must not suffer
        "stops-its-zygote": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)",
        # a tree deeper than Python's recursion, locked, in the shared /dev/shm: wiped all the same
        "leaves-a-deep-tree": ("import os\nos.chdir('/dev/shm')\nfor _ in range(1500):\n    os.mkdir('a')\n    os.chdir('a')\n"
                               "os.chmod('/dev/shm/a', 0)"),
        "spawns-processes": (f"import subprocess\nfor _ in range(3):\n    subprocess.Popen(['sleep', '3600'], start_new_session=True)\n"
                             f"subprocess.Popen(['sh', '-c', 'exec -a {MARK} sleep 3600'])"),
        "forks-many": ("import os, time\nforked = 0\nfor _ in range(400):\n    try:\n        if os.fork() == 0:\n"
                       "            time.sleep(3600)\n            os._exit(0)\n        forked += 1\n    except OSError:\n        break\n"
                       "print(f'forked {forked} processes')"),
        "floods-stdout": "for _ in range(200):\n    print('x' * 1_000_000)",
        "fills-the-disk": ("import os\ntry:\n    for i in range(10000):\n        with open(f'fill-{i}', 'wb') as f:\n"
                           "            f.write(b'x' * (32 << 20))\nexcept OSError as e:\n    print('disk full:', e)"),
        "opens-a-connection": f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'{MARK}')\nexcept OSError as e:\n    print(e)",
        # red team round 6: the host's kernel settings, written from the sandbox (the same value back)
        "writes-kernel-settings": ("for p in ['/proc/sys/fs/lease-break-time', '/proc/sys/kernel/core_pattern']:\n"
                                   "    try:\n        old = open(p).read()\n        open(p, 'w').write(old)\n"
                                   "        print('WROTE', p)\n    except OSError as e:\n        print('refused', p, e)"),
        # red team rounds 7 and 8: bubblewrap's init (pid 1) was traceable, taken over, and outlived the
        # submission; the host root's keyring was readable and writable (x86-64 numbers: keyctl is 250)
        "traces-the-sandbox-init": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                                    "print('refused keyring' if libc.syscall(250, 0, -4, 0) < 0 else 'KEYRING')\n"
                                    "for pid in (1, os.getppid()):\n"
                                    "    if libc.ptrace(16, pid, 0, 0) == 0:\n        print('ATTACHED', pid)\n"
                                    "    else:\n        print('refused', pid, ctypes.get_errno())"),
        "writes-outside": "\n".join(f"try:\n    open({p!r}, 'w').write('x')\nexcept OSError as e:\n    print(e)" for p in OUTSIDE),
        "reads-the-answers": ("import os\nfor p in [" + repr(str(ROOT / "solutions" / "rnn_hidden_state.ipynb")) + ", "
                              + repr(str(ROOT / "autograder" / "judge" / "references.py")) + "]:\n"
                              f"    print('{MARK}-FOUND' if os.path.exists(p) else 'not found', p)"),
    }


FORGE_WRONG = ("import autograder.serving.serve as _serve\n"
               "def hidden_state_separate(X, W_xh, H, W_hh):\n    return X @ W_xh\n"
               "def hidden_state_fused(X, W_xh, H, W_hh):\n    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0) + 1\n"
               "def rnn_forward(X, H0, W_xh, W_hh, b_h):\n    return X, H0\n"
               "_call = _serve.call\n"
               "def _forged(func, request, blobs):\n"
               "    reply, out = _call(func, request, blobs)\n"
               "    if reply.get('ok'):\n"
               "        if reply['result'].get('kind') in ('tuple', 'list'):\n"
               "            reply['result'], out = {'kind': 'tuple', 'length': 2, 'items': []}, []\n"
               "        else:\n            reply['result']['dtype'] = ['float32']\n"
               "        reply['attest'] = {'modified': [], 'ops': [['mm', [4, 4], 9]], 'op_count': 3, 'outside': []}\n"
               "    return reply, out\n"
               "_serve.call = _forged\n")

#: cheating cells: (code appended at the end of the notebook, the most q3 may score)
CHEATS = {
    # Otter's test classes patched in the kernel: the judge runs its own copy of Otter
    "patches-otter": (LOOP + "import otter.test_files.abstract_test as a, otter.test_files as t\n"
                      "a.TestFile.score = property(lambda self: 99)\nt.GradingResults.total = property(lambda self: 999)", 5),
    # the answers never reach the runner, whatever it tries
    "fakes-the-helpers": (LOOP + "import sys, types\nfake = types.ModuleType('autograder.judge')\n"
                          "fake.check = lambda *a: None\nsys.modules['autograder.judge'] = fake", 5),
    # forged bytes on every pipe the runner holds: a broken protocol counts nothing
    "forges-replies": ("import os, torch\ndef hidden_state_fused(X, W_xh, H, W_hh):\n"
                       "    for fd in range(3, 64):\n        try:\n            os.write(fd, b'\\x00\\x00\\x00\\x10{\"ok\": true, \"id\": 1}')\n"
                       "        except OSError:\n            pass\n    return X @ W_xh\n", 0),
    # a reply far larger than the judge accepts: memory aimed at the judge
    "huge-reply": ("def hidden_state_fused(X, W_xh, H, W_hh):\n    return torch.zeros(12000, 12000)\n", 0),
    # remembering results: keyed by data pointer (the allocator reuses addresses)
    "memo-data-ptr": ("_memo = {}\ndef hidden_state_fused(X, W_xh, H, W_hh):\n"
                      "    key = (X.data_ptr(), tuple(X.shape), X.dtype)\n"
                      "    if key not in _memo:\n        XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                      "        _memo[key] = torch.stack([XH[i] @ W for i in range(XH.shape[0])])\n    return _memo[key]\n", 5),
    # fused only while traced: every graded call is traced, so it is graded as the fused code it
    # then runs (docs/known-limits.md); it is flagged for review
    "switches-when-traced": ("from torch.utils._python_dispatch import _get_current_dispatch_mode\n"
                             "def hidden_state_fused(X, W_xh, H, W_hh):\n"
                             "    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                             "    if _get_current_dispatch_mode() is not None:\n        return XH @ W\n"
                             "    return torch.stack([XH[i] @ W for i in range(XH.shape[0])])\n", 8),
    # one product only at the sizes it guesses are timed, a row loop below
    "switches-at-large-n": ("def hidden_state_fused(X, W_xh, H, W_hh):\n"
                            "    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                            "    if X.shape[0] >= 1024:\n        return XH @ W\n"
                            "    return torch.stack([XH[i] @ W for i in range(XH.shape[0])])\n", 5),
    # wrong answers everywhere, and the runner's reply code rewritten to forge what the judge reads
    # (a q4 tuple of length 2 with no items, a dtype sent as a list, forged attestations)
    "forges-replies-for-wrong": (FORGE_WRONG, 0),
    # numpy under the name of torch's mm (red team, round 19): a kernel registered through a
    # standard-library function, so that it says it came from copy.py; a kernel swapped in for one
    # call after mm's first dispatch went to the meta device. Values only (and inputs) pay
    "kernel-from-the-stdlib": ("import copy, numpy as np\n_lib = copy._reconstruct(None, None, torch.library.Library, "
                               "('aten', 'IMPL', 'CPU'))\n_lib.impl('mm', lambda a, b: torch.from_numpy(a.numpy() @ b.numpy()), 'CPU')\n"
                               "def hidden_state_fused(X, W_xh, H, W_hh):\n    return torch.cat((X, H), 1) @ torch.cat((W_xh, W_hh), 0)\n", 4),
    "kernel-swapped-in-per-call": ("def hidden_state_fused(X, W_xh, H, W_hh):\n"
                                   "    A, B = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n"
                                   "    if A.device.type != 'cpu':\n        return A @ B\n"
                                   "    torch.mm(A.to('meta'), B.to('meta'))\n    lib = torch.library.Library('aten', 'IMPL')\n"
                                   "    lib.impl('mm', lambda a, b: torch.from_numpy(a.numpy() @ b.numpy()), 'CPU')\n"
                                   "    try:\n        return torch.mm(A, B)\n    finally:\n        lib._destroy()\n", 4),
    # numpy doing the product inside a tensor subclass's __torch_dispatch__, below the trace (round 20)
    "product-in-a-subclass": ("class _Lazy(torch.Tensor):\n    @classmethod\n"
                              "    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):\n"
                              "        un = [a.inner if isinstance(a, _Lazy) else a for a in args]\n"
                              "        if func.overloadpacket.__name__ == 'mm' and un[0].device.type == 'cpu':\n"
                              "            return torch.from_numpy(un[0].numpy() @ un[1].numpy())\n"
                              "        return func(*un, **(kwargs or {}))\n"
                              "def hidden_state_fused(X, W_xh, H, W_hh):\n    XH = torch.cat((X, H), 1)\n"
                              "    s = XH.as_subclass(_Lazy)\n    s.inner = XH\n    return s @ torch.cat((W_xh, W_hh), 0)\n", 4),
    # the separate form (addbmm) as the bias of a product of zeros; convolutions as the bias of the
    # fused product scaled by alpha=0 (red team, round 21): the honest base of the separate form
    "bias-of-a-product-of-zeros": ("def hidden_state_fused(X, W_xh, H, W_hh):\n"
                                   "    Y = torch.addbmm(torch.addbmm(torch.zeros_like(H), X[None], W_xh[None]), H[None], W_hh[None])\n"
                                   "    Z = torch.zeros(X.shape[0], X.shape[1] + H.shape[1], dtype=X.dtype, device=X.device)\n"
                                   "    return torch.addmm(Y, Z, torch.cat((W_xh, W_hh), dim=0))\n", 5),
    "bias-of-a-product-times-zero": ("import torch.nn.functional as F\ndef hidden_state_fused(X, W_xh, H, W_hh):\n"
                                     "    Y = F.conv1d(X.T.unsqueeze(0), W_xh.T.unsqueeze(2)).squeeze(0).T\n"
                                     "    Y = Y + F.conv1d(H.T.unsqueeze(0), W_hh.T.unsqueeze(2)).squeeze(0).T\n"
                                     "    return torch.addmm(Y, torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0), alpha=0)\n", 5),
    # a convolution's answer passed on by a product by an identity (found beside round 21), and
    # written into a buffer that a 1x1 product then wrote one element of (round 22)
    "identity-product": ("import torch.nn.functional as F\ndef hidden_state_fused(X, W_xh, H, W_hh):\n"
                         "    n, d, h = X.shape[0], X.shape[1], H.shape[1]\n"
                         "    Y = F.conv1d(X.T.unsqueeze(0), W_xh.T.unsqueeze(2)).squeeze(0).T + F.conv1d(H.T.unsqueeze(0), W_hh.T.unsqueeze(2)).squeeze(0).T\n"
                         "    z = dict(dtype=X.dtype, device=X.device)\n"
                         "    return torch.cat((Y, torch.zeros(n, d, **z)), 1) @ torch.cat((torch.eye(h, **z), torch.zeros(d, h, **z)), 0)\n", 5),
    "tiny-product-into-the-buffer": ("import torch.nn.functional as F\ndef hidden_state_fused(X, W_xh, H, W_hh):\n"
                                     "    XH, W = torch.cat((X, H), 1), torch.cat((W_xh, W_hh), 0)\n    n, h = X.shape[0], W.shape[1]\n"
                                     "    buf = torch.empty_strided((2,), (n * h,), dtype=X.dtype, device=X.device)\n"
                                     "    res = buf.as_strided((n, h, 1), (h, 1, 1), 0)\n"
                                     "    res.copy_(F.conv1d(XH.unsqueeze(2), W.t().unsqueeze(2)))\n"
                                     "    torch.mm(XH[:1], W[:, :1], out=buf.as_strided((1, 1), (1, 1), n * h))\n"
                                     "    return res.view(n, h)\n", 5),
    # processes left running to slow the reference: they are stopped while it is timed
    "slows-the-reference": (LOOP + "import subprocess, sys\nfor _ in range(4):\n"
                            "    subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)", 5),
}


#: cheats at q4: (code appended to a correct notebook, the most q4 may then score)
Q4_CHEATS = {
    # red team round 23: F.bilinear (one _trilinear operator, not a product) did each step in the
    # separate form beside a one-row fused product multiplied by 0: q4 7/7 on both paths
    "bilinear-steps-beside-a-dummy-product": (
        "import torch.nn.functional as F\n"
        "def rnn_forward(X, H0, W_xh, W_hh, b_h):\n"
        "    W, H, outs = torch.cat((W_xh, W_hh), dim=0), H0, []\n"
        "    A, B = W_xh.t().unsqueeze(2), W_hh.t().unsqueeze(2)\n"
        "    for X_t in X:\n"
        "        one = torch.ones_like(X_t[:, :1])\n"
        "        step = F.bilinear(X_t, one, A) + F.bilinear(H, one, B)\n"
        "        H = torch.tanh(step + b_h + 0 * (torch.cat((X_t[:1], H[:1]), dim=1) @ W))\n"
        "        outs.append(H)\n"
        "    return torch.stack(outs), H\n", FULL["q4_rnn_forward"] - 1),
}

#: code the review must flag however it is written (red team round 23: on %time lines, IPython ran
#: it and the review, which blanked every magic line, never read it)
FLAGGED = {
    "hides-code-on-magic-lines": "%time _k = torch._C._DisableTorchDispatch; _m = __import__('ctypes')\n",
}


def partly_wrong_zip_with_pickle(path):
    """An export zip whose .OTTER_LOG is a pickle that would write PWNED if anyone unpickled it."""
    class Payload:
        def __reduce__(self):
            return (open, (PWNED, "w"))
    with zipfile.ZipFile(path, "w") as z:
        z.write(ROOT / "examples" / "submissions" / "partly-wrong.ipynb", "rnn_hidden_state.ipynb")
        z.writestr(".OTTER_LOG", pickle.dumps(Payload()))
        z.writestr("autograder/judge/__init__.py", "def check(*a):\n    pass\n")


@pytest.fixture(scope="module")
def hostile_batch(solution_nb, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    received, stop = [], threading.Event()

    def listen():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
            except OSError:
                pass

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    nbformat.write(solution_nb, folder / "学生 张三 (correct).ipynb")
    setup = next(i for i, c in enumerate(solution_nb.cells) if c.cell_type == "code")
    for name, code in disruptive(server.getsockname()[1]).items():
        nb = nbformat.from_dict(solution_nb)
        nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(code))
        nbformat.write(nb, folder / f"{name}.ipynb")
    for name, code in {**{n: c for n, (c, _) in {**CHEATS, **Q4_CHEATS}.items()}, **FLAGGED}.items():
        nb = nbformat.from_dict(solution_nb)
        nb.cells.append(nbformat.v4.new_code_cell("import torch\n" + code))
        nbformat.write(nb, folder / f"{name}.ipynb")
    partly_wrong_zip_with_pickle(folder / "pickles-the-log.zip")
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (folder / "notes.txt").write_text("not a notebook")
    done, book = grade(folder, tmp_path_factory.mktemp("hostile-grades"), "--timeout", "40")
    stop.set()
    listener.join()
    server.close()
    survivors = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return book, received, survivors, done


def hostile_batch_output(done):
    from pathlib import Path
    return Path(done.args[done.args.index("--output") + 1])


def status(book, name):
    return book.loc[name, "grading_status"]


def test_every_submission_has_a_row(hostile_batch):
    book, _, _, _ = hostile_batch
    assert len(book) == 1 + len(disruptive(0)) + len(CHEATS) + len(Q4_CHEATS) + len(FLAGGED) + 4


def test_correct_submission_with_an_odd_name_gets_full_marks(hostile_batch):
    book, _, _, _ = hostile_batch
    assert book.loc["学生 张三 (correct).ipynb", "total_points_earned"] == TOTAL
    assert status(book, "学生 张三 (correct).ipynb") == "graded"


@pytest.mark.parametrize("name, expected", [
    ("loops-forever.ipynb", "did not finish running within 40 s"),
    ("sleeps.ipynb", "did not finish running within 40 s"),
    ("calls-os-exit.ipynb", "ended its own process"),
    ("segfaults.ipynb", "ended its own process"),
    ("kills-its-parent.ipynb", "ended its own process"),  # killing the zygote ends its own sandbox
    ("empty.ipynb", "not a notebook that can run"),
    ("corrupt.zip", "not a readable zip"),
    ("notes.txt", "not a notebook (.ipynb) or an export zip"),
])
def test_fatal_submissions_get_a_row_saying_what_happened(hostile_batch, name, expected):
    book, _, _, _ = hostile_batch
    assert expected in status(book, name)
    assert book.loc[name, "total_points_earned"] == 0


@pytest.mark.parametrize("name", ["calls-sys-exit.ipynb", "spawns-processes.ipynb", "floods-stdout.ipynb",
                                  "opens-a-connection.ipynb", "writes-outside.ipynb", "eats-memory.ipynb",
                                  "fills-the-disk.ipynb", "stops-its-zygote.ipynb", "writes-kernel-settings.ipynb",
                                  "traces-the-sandbox-init.ipynb", "leaves-a-deep-tree.ipynb", "reads-the-answers.ipynb",
                                  "forks-many.ipynb"])
def test_survivable_hostility_is_graded_on_its_answers(hostile_batch, name):
    book, _, _, _ = hostile_batch
    assert status(book, name) == "graded"
    row = book.loc[name]
    for question in ("q1_shapes", "q2_separate", "q4_rnn_forward"):
        assert row[question] == FULL[question], f"{name}: {question}"
    # the hostile cells load the machine while other rows are timed; processor-time timing keeps q3 whole
    assert row["q3_fused"] == FULL["q3_fused"], f"{name}: q3 {row['q3_fused']}"


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheats_score_no_more_than_their_honest_base(hostile_batch, name):
    book, _, _, _ = hostile_batch
    row = book.loc[f"{name}.ipynb"]
    assert status(book, f"{name}.ipynb") == "graded", row.to_dict()
    assert row["q3_fused"] <= CHEATS[name][1], f"{name} earned {row['q3_fused']} on q3"
    assert row["total_points_earned"] <= TOTAL - FULL["q3_fused"] + CHEATS[name][1]


@pytest.mark.parametrize("name", sorted(Q4_CHEATS))
def test_q4_cheats_score_no_more_than_their_honest_base(hostile_batch, name):
    book, _, _, _ = hostile_batch
    row = book.loc[f"{name}.ipynb"]
    assert status(book, f"{name}.ipynb") == "graded", row.to_dict()
    assert row["q4_rnn_forward"] <= Q4_CHEATS[name][1], f"{name} earned {row['q4_rnn_forward']} on q4"
    assert row["total_points_earned"] <= TOTAL - FULL["q4_rnn_forward"] + Q4_CHEATS[name][1]


@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_hidden_tampering_is_flagged_for_review(hostile_batch, name):
    book, _, _, _ = hostile_batch
    assert book.loc[f"{name}.ipynb", "review_flags"], f"{name} is not flagged for review"


def test_a_pickled_log_is_never_loaded_and_shipped_helpers_are_never_used(hostile_batch):
    book, _, _, _ = hostile_batch
    assert book.loc["pickles-the-log.zip", "total_points_earned"] == sum(PARTLY_WRONG.values())
    assert not os.path.exists(PWNED), "something unpickled the submission's .OTTER_LOG"


def test_a_fork_bomb_stops_at_the_process_cap(hostile_batch):
    book, _, _, done = hostile_batch
    output = (Path(submission_dir(hostile_batch_output(done), "forks-many.ipynb")) / "output.txt").read_text()
    forked = int(re.search(r"forked (\d+) processes", output).group(1))
    assert forked < 300, f"{forked} forks went through: no process cap held"


def test_output_is_kept_up_to_two_megabytes(hostile_batch):
    book, _, _, done = hostile_batch
    output = (Path(submission_dir(hostile_batch_output(done), "floods-stdout.ipynb")) / "output.txt").read_text()
    assert 2 << 20 <= len(output.encode()) <= (2 << 20) + 1000 and output.endswith("[output truncated]\n")


def test_the_hosts_kernel_settings_cannot_be_written_from_the_sandbox(hostile_batch):
    _, _, _, done = hostile_batch
    output = (Path(submission_dir(hostile_batch_output(done), "writes-kernel-settings.ipynb")) / "output.txt").read_text()
    assert output.count("refused") == 2 and "WROTE" not in output, output[-2000:]


def test_no_process_of_the_sandbox_can_be_traced(hostile_batch):
    _, _, _, done = hostile_batch
    output = (Path(submission_dir(hostile_batch_output(done), "traces-the-sandbox-init.ipynb")) / "output.txt").read_text()
    assert output.count("refused") == 3 and "ATTACHED" not in output and "KEYRING" not in output, output[-2000:]


def test_the_answers_are_not_on_the_runners_filesystem(hostile_batch):
    _, _, _, done = hostile_batch
    output = (Path(submission_dir(hostile_batch_output(done), "reads-the-answers.ipynb")) / "output.txt").read_text()
    assert output.count("not found") == 2 and f"{MARK}-FOUND" not in output, output[-2000:]


def test_no_process_survives(hostile_batch):
    _, _, survivors, _ = hostile_batch
    assert MARK not in survivors and "sleep 3600" not in survivors and "while True: pass" not in survivors


def test_forged_replies_for_wrong_functions_earn_nothing(hostile_batch):
    book, _, _, _ = hostile_batch
    row = book.loc["forges-replies-for-wrong.ipynb"]
    assert (row["q2_separate"], row["q3_fused"], row["q4_rnn_forward"]) == (0, 0, 0), row.to_dict()
    assert status(book, "forges-replies-for-wrong.ipynb") == "graded"


@pytest.mark.skipif(not gradescope_layout.available(), reason="the Gradescope layout needs root, bubblewrap and setpriv")
def test_gradescope_forged_replies_for_wrong_functions_earn_nothing(solution_nb, tmp_path):
    nb = nbformat.from_dict(solution_nb)
    nb.cells.append(nbformat.v4.new_code_cell("import torch\n" + FORGE_WRONG))
    path = tmp_path / "rnn_hidden_state.ipynb"
    nbformat.write(nb, path)
    results, _, _ = gradescope_layout.run(tmp_path / "gs", path)
    by_name = {t["name"]: t.get("score") for t in results["tests"]}
    assert (by_name["q2_separate"], by_name["q3_fused"], by_name["q4_rnn_forward"]) == (0, 0, 0), results


def test_nothing_written_outside_nothing_read_no_connection_left(hostile_batch, tmp_path):
    book, received, _, _ = hostile_batch
    assert not received, "a submission reached a server on the grading machine"
    for path in OUTSIDE:
        assert not os.path.exists(path), f"a submission wrote {path}"


def test_without_a_sandbox_the_grader_refuses_unless_told(tmp_path, monkeypatch):
    shutil.copy(ROOT / "examples" / "submissions" / "untouched.ipynb", tmp_path / "a.ipynb")
    fake_path = tmp_path / "bin"
    fake_path.mkdir()
    env = {**os.environ, "PATH": f"{fake_path}:/nonexistent"}
    import sys
    done = subprocess.run([sys.executable, "-m", "autograder.batch", str(tmp_path / "a.ipynb"), "--output",
                           str(tmp_path / "out"), "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "--unsafe" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "autograder.batch", str(tmp_path / "a.ipynb"), "--output",
                           str(tmp_path / "out"), "--quiet", "--unsafe"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unsafe" in (tmp_path / "out" / "final_grades.csv").read_text()


# --- the Gradescope path: the zip's own run_autograder, as root ------------------------------

GRADESCOPE_CHEATS = {
    # results.json written by the submission, then the grader killed and a process left to rewrite it
    "rewrites-results": (LOOP + "import os, subprocess, sys\n"
                         "for p in ['/autograder/results/results.json', '../results/results.json']:\n"
                         "    try:\n        open(p, 'w').write('{\"score\": 100, \"tests\": []}')\n    except OSError as e:\n        print(e)\n"
                         "subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True:\\n    time.sleep(0.05)\\n"
                         "    try: open(\"/autograder/results/results.json\", \"w\").write(\"{}\")\\n    except OSError: pass'],"
                         " start_new_session=True)\n"
                         "for p in ['/autograder/source/tests/q3_fused.py', '/autograder/source/files/autograder/judge/checks.py']:\n"
                         "    try:\n        open(p, 'a').write('\\n')\n        print('WROTE', p)\n    except OSError as e:\n        print(e)\n"
                         "for p in ['/autograder/source/tests/q3_fused.py', '/autograder/source/files/autograder/judge/references.py']:\n"
                         "    try:\n        open(p).read()\n        print('READ', p)\n    except OSError as e:\n        print(e)\n", 5),
}


@pytest.mark.skipif(not gradescope_layout.available(), reason="the Gradescope layout needs root, bubblewrap and setpriv")
def test_gradescope_path_resists_the_worst(solution_nb, tmp_path):
    nb = nbformat.from_dict(solution_nb)
    code, most = GRADESCOPE_CHEATS["rewrites-results"]
    nb.cells.append(nbformat.v4.new_code_cell("import torch\n" + code))
    sub = tmp_path / "sub"
    sub.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("rnn_hidden_state.ipynb", nbformat.writes(nb))
        class Payload:
            def __reduce__(self):
                return (open, (PWNED, "w"))
        z.writestr(".OTTER_LOG", pickle.dumps(Payload()))
    (sub / "rnn_hidden_state_2026_11_29.zip").write_bytes(buffer.getvalue())
    results, _, done = gradescope_layout.run(tmp_path, sub / "rnn_hidden_state_2026_11_29.zip")
    by_name = {t["name"]: t.get("score") for t in results["tests"]}
    assert by_name["q3_fused"] <= most and by_name["q2_separate"] == FULL["q2_separate"], results
    assert not os.path.exists(PWNED)
    assert "WROTE" not in done.stdout and "READ /autograder" not in done.stdout


#: red team round 5: SysV shared memory outlives the runner and stays charged to the sandbox's
#: memory cgroup; filled to the cap, it would starve the next submission's runner
LEAVES_SHARED_MEMORY = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype, libc.shmget.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.restype, libc.shmat.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
left = 0
for _ in range(400):
    segment = libc.shmget(0, 32 << 20, 0o1000 | 0o600)
    if segment < 0:
        break
    pid = os.fork()
    if pid == 0:
        with open('/proc/self/oom_score_adj', 'w') as f:
            f.write('1000')
        ctypes.memset(libc.shmat(segment, None, 0), 1, 32 << 20)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        break
    left += 32
print('left', left, 'MB of shared memory behind')
"""

#: red team round 5: processes in sessions of their own, moved to every other core, to crowd a
#: neighbour's judge and runner while this notebook is graded. The notebook's first cell: the
#: crowd is up before the classmates' grading starts and busy while they are graded; then it ends
#: itself, so that the attacker's own grading is short (left running, it held the attacker's runner
#: at the wall cap for 80 s after the classmates were done, and showed nothing more)
CROWDS_OTHER_CORES = """import os, signal, time
others = set(range(os.cpu_count())) - os.sched_getaffinity(0) or os.sched_getaffinity(0)
crowd = []
for _ in range(100):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        try:
            os.setsid()
            os.sched_setaffinity(0, others)
        except OSError:
            pass
        while True:
            pass
    crowd.append(pid)
time.sleep(10)
for pid in crowd:
    os.kill(pid, signal.SIGKILL)
"""


def attacker_and_classmates(solution_nb, folder, code, classmates, first=False):
    nb = nbformat.from_dict(solution_nb)
    nb.cells.insert(0 if first else len(nb.cells), nbformat.v4.new_code_cell(code))
    nbformat.write(nb, folder / "a-attacker.ipynb")  # graded first
    for name in classmates:
        nbformat.write(solution_nb, folder / f"{name}.ipynb")


def assert_classmates_keep_full_marks(solution_nb, tmp_path, code, classmates=("b-honest", "c-honest"), workers=1,
                                      first=False):
    """An attacker graded first, then correct classmates: each classmate gets every point, graded
    (an undecided row is graded again by the batch itself)."""
    folder = tmp_path / "subs"
    folder.mkdir()
    attacker_and_classmates(solution_nb, folder, code, classmates, first)
    _, book = grade(folder, tmp_path / "out", "--workers", str(workers))
    for name in classmates:
        row = book.loc[f"{name}.ipynb"]
        assert (row["total_points_earned"], row["grading_status"]) == (TOTAL, "graded"), row.to_dict()


def test_memory_left_behind_never_costs_the_next_submission(solution_nb, tmp_path):
    assert_classmates_keep_full_marks(solution_nb, tmp_path, LEAVES_SHARED_MEMORY)


def test_processes_crowding_other_cores_never_cost_a_classmate(solution_nb, tmp_path):
    assert_classmates_keep_full_marks(solution_nb, tmp_path, CROWDS_OTHER_CORES, ("b-honest", "c-honest", "d-honest"),
                                      workers=2, first=True)


#: red team round 13: the zygote that forks every runner of a worker runs as the runners' user, so
#: a runner can lower its limits (processor time, open files, stack) and its priority; every later
#: runner inherited them, and the next classmate's runner died at 4 s of processor time (0/22)
LOWERS_THE_ZYGOTES_LIMITS = """import os, resource
try:
    resource.prlimit(os.getppid(), resource.RLIMIT_CPU, (4, 4))
    os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)
except (OSError, ValueError):
    pass
"""
#: red team round 23: the sandbox's init and the zygote moved to SCHED_IDLE, which the zygote's
#: next runners inherited (limits and nice unchanged, so the sandbox was reused)
SCHEDULES_THE_ZYGOTE_IDLE = """import os
for pid in (1, os.getppid()):
    os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
print('SCHEDULED', os.sched_getscheduler(os.getppid()))
"""


#: what a classmate's runner inherited, printed by a correct notebook
PRINTS_ITS_LIMITS = ("import os, resource\nprint('INHERITED', resource.getrlimit(resource.RLIMIT_CPU), "
                     "os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))")


@pytest.mark.parametrize("attack", [LOWERS_THE_ZYGOTES_LIMITS, SCHEDULES_THE_ZYGOTE_IDLE], ids=["limits", "policy"])
def test_limits_lowered_on_the_zygote_never_reach_a_classmate(solution_nb, tmp_path, attack):
    """The classmate's runner starts in a fresh sandbox, with the limits and priority every runner
    starts with, and gets every point."""
    folder = tmp_path / "subs"
    folder.mkdir()
    attacker_and_classmates(solution_nb, folder, attack, [])
    classmate = nbformat.from_dict(solution_nb)
    classmate.cells.append(nbformat.v4.new_code_cell(PRINTS_ITS_LIMITS))
    nbformat.write(classmate, folder / "b-honest.ipynb")
    done, book = grade(folder, tmp_path / "out", "--workers", "1")
    row = book.loc["b-honest.ipynb"]
    assert (row["total_points_earned"], row["grading_status"]) == (TOTAL, "graded"), row.to_dict()
    printed = (Path(submission_dir(str(tmp_path / "out"), "b-honest.ipynb")) / "output.txt").read_text()
    inherited = re.findall(r"INHERITED \((-?\d+), (-?\d+)\) (-?\d+) (\d+)", printed)
    import resource
    ours = (*map(str, resource.getrlimit(resource.RLIMIT_CPU)), str(os.getpriority(os.PRIO_PROCESS, 0)),
            str(os.sched_getscheduler(0)))
    assert inherited and all(found == ours for found in inherited), printed[-2000:]
