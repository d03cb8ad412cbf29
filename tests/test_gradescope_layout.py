"""The local Gradescope layout (autograder/bench/gradescope_layout.py) runs one grading at a time on
a machine: every layout's runner runs as the same user, and the judge freezes and kills its runner
with ``kill(-1)`` as that user, which would reach a second layout's runner."""

import fcntl
import os
import threading

import pytest

from autograder.bench import gradescope_layout


@pytest.mark.root
@pytest.mark.skipif(os.getuid() != 0, reason="the layout binds /autograder, made as root")
def test_a_second_layout_waits_until_the_first_is_done(tmp_path, monkeypatch):
    ag = tmp_path / "ag"
    (ag / "results").mkdir(parents=True)
    (ag / "results" / "results.json").write_text('{"score": 1}')
    monkeypatch.setattr(gradescope_layout, "layout", lambda folder, submission: ag)
    monkeypatch.setattr(gradescope_layout, "command", lambda folder, layout, script: ["true"])
    monkeypatch.setattr(gradescope_layout, "LOCK", tmp_path / "lock")
    graded = []
    second = threading.Thread(target=lambda: graded.append(gradescope_layout.run(tmp_path, tmp_path / "sub")))
    with open(tmp_path / "lock", "a") as first:  # a first layout is grading
        fcntl.flock(first, fcntl.LOCK_EX)
        second.start()
        second.join(1.0)
        assert second.is_alive() and graded == [], "a second layout ran beside the first"
    second.join(30)
    assert graded and graded[0][0] == {"score": 1} and graded[0][2].returncode == 0
