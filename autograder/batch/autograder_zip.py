"""What the batch grader reads from the built autograder zip: its test files and Otter config."""

import json
import os
import zipfile


def unpack(autograder: str, folder: str) -> tuple:
    """The zip's tests folder and Otter config, unpacked into ``folder``."""
    with zipfile.ZipFile(autograder) as z:
        for name in z.namelist():
            if name.startswith("tests/") or name == "otter_config.json":
                z.extract(name, folder)
    with open(os.path.join(folder, "otter_config.json")) as f:
        return os.path.join(folder, "tests"), json.load(f)


def group_points(tests_dir: str) -> dict:
    """``{(question, group): points}`` of every hidden case, from the zip's test files (Otter's
    parser for the points, the judge's own reading of each case for its question and group)."""
    from otter.test_files import ExceptionTestFile

    from ..judge.grade import case_keys
    points = {}
    for name in sorted(os.listdir(tests_dir)):
        path = os.path.join(tests_dir, name)
        keys = case_keys(path)
        for tc in ExceptionTestFile.from_file(path).test_cases:
            if tc.hidden:  # the public cases carry no points
                points[keys[tc.body.test_func.__name__]] = tc.points
    return points


def totals(groups: dict) -> dict:
    """``{question: points}``: the sum of each question's ``{(question, group): points}``."""
    points = {}
    for (question, _), value in groups.items():
        points[question] = points.get(question, 0) + value
    return points


def question_points(tests_dir: str) -> dict:
    """``{question: points}`` from the zip's test files: the sum of its groups' points."""
    return totals(group_points(tests_dir))

