"""The catalogue of student variants, each graded through the real autograder zip.

Every variant becomes a notebook (the solution with one function replaced); the batch grader grades
them all in one run, with Otter's grading code and the zip's hidden tests. The variant's question
must get exactly the catalogue's points, and every other question full marks.
"""

from pathlib import Path

import nbformat
import pytest

from autograder.batch.report import submission_dir

from catalogue import FUNCTION, VARIANTS
from conftest import FULL, grade


def variant_notebook(solution, variant):
    nb = nbformat.from_dict(solution)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {FUNCTION[variant.question]}(")]
    cell.source = variant.source()
    return nb


@pytest.fixture(scope="module")
def catalogue_book(solution_nb, tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    for variant in VARIANTS:
        nbformat.write(variant_notebook(solution_nb, variant), folder / f"{variant.name}.ipynb")
    output = tmp_path_factory.mktemp("catalogue-grades")
    done, book = grade(folder, output)
    return book, output


def test_catalogue_is_large_and_covers_every_question():
    assert len(VARIANTS) >= 30
    assert {v.question for v in VARIANTS} == set(FUNCTION)
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_scores_as_expected(catalogue_book, variant):
    book, output = catalogue_book
    row = book.loc[f"{variant.name}.ipynb"]
    feedback = (Path(submission_dir(output, f"{variant.name}.ipynb")) / "feedback.txt").read_text()
    assert row["grading_status"] == "graded"
    assert row[variant.question] == variant.points, f"{variant.name}: {row[variant.question]} != {variant.points}\n{feedback}"
    for question in FULL:  # what a function does to the libraries never reaches another question
        if question != variant.question:
            assert row[question] == FULL[question], f"{variant.name}: {question} got {row[question]}\n{feedback}"
    assert row["q1_shapes"] == 2


def test_review_flags_point_at_tampering_and_spare_honest_code(catalogue_book):
    book, _ = catalogue_book
    for variant in VARIANTS:
        flags = book.loc[f"{variant.name}.ipynb", "review_flags"]
        if any(word in variant.name for word in ("tamper", "inspect")):
            assert flags, f"{variant.name} is not flagged for review"
        elif variant.points == FULL[variant.question]:
            assert not flags, f"{variant.name} is honest but flagged: {flags}"
