"""One list of dependencies: requirements.txt; environment.yml and the autograder's list agree."""

import re

import yaml

from conftest import ROOT


def pins(lines):
    """``{name: version}`` from requirement lines (extras dropped, options and comments skipped)."""
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line).groups()
        out[name.lower()] = version
    return out


def root_pins():
    return pins((ROOT / "requirements.txt").read_text().splitlines())


def test_environment_yml_lists_exactly_the_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip) == root_pins()


def test_autograder_requirements_use_the_same_versions():
    ag = pins((ROOT / "autograder" / "requirements.txt").read_text().splitlines())
    root = root_pins()
    assert set(ag) == {"torch", "psutil", "msgspec"}
    assert ag["torch"].split("+")[0] == root["torch"], "the Gradescope torch must be the version tested here"
    assert ag["torch"].endswith("+cpu"), "Gradescope has no GPU: install the CPU build"
    assert ag["psutil"] == root["psutil"]
    assert ag["msgspec"] == root["msgspec"]
    assert "download.pytorch.org/whl/cpu" in (ROOT / "autograder" / "requirements.txt").read_text()


def test_every_requirement_is_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        assert not line or "==" in line, f"unpinned requirement: {line}"
