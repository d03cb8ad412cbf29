"""A process the notebook forks must never answer for its runner (red-team notebook
"row loop + fork-hoppers": its leftover processes returned into the runner's code, read requests
meant for the runner and answered them, and another question's correct function lost its points
on the Gradescope path). Children that come back into the runner's code, through ``os.fork``
(Python's at-fork hook closes the pipes) or behind Python's back (``fork`` from libc: the runner's
own code checks who it runs in), leave without a word: every function here is correct."""

import multiprocessing

import pytest

from autograder.batch import worker
from autograder.batch.autograder_zip import unpack
from autograder.bench.variants import function_source, replace_function
from autograder.paths import EXAMPLES, ZIP

from conftest import FULL

#: gradings at most until one is decided (an undecided one pays nothing and is graded again)
REGRADES = 3

#: each call forks a copy that returns the same (right) answer a little later
FORKS = {
    "hidden_state_separate": ("X, W_xh, H, W_hh", "import os, time\nif os.fork() == 0:\n    time.sleep(0.02)\n"
                              "return X @ W_xh + H @ W_hh"),
    "rnn_forward": ("X, H0, W_xh, W_hh, b_h", "import ctypes, time\nif ctypes.CDLL(None).fork() == 0:\n"
                    "    time.sleep(0.02)\nW = torch.cat((W_xh, W_hh), 0)\nH, outs = H0, []\nfor X_t in X:\n"
                    "    H = torch.tanh(torch.cat((X_t, H), 1) @ W + b_h)\n    outs.append(H)\n"
                    "return torch.stack(outs), H"),
}


@pytest.fixture(scope="module")
def unsafe_worker(tmp_path_factory):
    tests_dir, config = unpack(str(ZIP), str(tmp_path_factory.mktemp("zip")))
    worker.init(tests_dir, config, True, multiprocessing.Value("i", 0))
    yield
    worker.close()


def test_copies_of_the_runner_never_answer_for_it(unsafe_worker, tmp_path):
    text = (EXAMPLES / "correct.ipynb").read_text()
    for name, (args, body) in FORKS.items():
        text = replace_function(text, name, function_source(name, args, body))
    path = tmp_path / "forks.ipynb"
    path.write_text(text)
    for _ in range(REGRADES):  # a machine too busy to decide says so, and is graded again, as the batch does
        answer = worker.grade(str(path), 6000, 120)
        for test in answer["results"]["tests"]:
            assert "does not answer the request" not in test["output"], test["output"]
        if not answer["status"].startswith("needs-regrade"):
            break
    assert answer["status"].startswith("graded"), answer["status"]
    scored = [test for test in answer["results"]["tests"] if test["name"] in FULL]  # not "Submission received"
    assert [t["name"] for t in scored] == list(FULL)
    for test in scored:
        assert test["score"] == FULL[test["name"]], test["output"]
