"""The catalogue of student variants, each graded through the real autograder zip.

Every variant becomes a student's submission (the solution with one function replaced) in a
Gradescope "Export Submissions" folder; the batch grader grades them all in one run, with Otter's
grading code and the zip's hidden tests. The variant's question must get exactly the catalogue's
points, and every other question full marks; the per-check gradebook and the class report must
count exactly the checks and likely causes the catalogue expects; grading a small class again with one point
value changed must list exactly the scores that change.
"""

import collections
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from autograder.batch.report import submission_dir

from browser import opened
from catalogue import FUNCTION, LOST, VARIANTS, lost_checks
from conftest import FULL, GROUP_POINTS, ZIP, grade


def key(variant) -> str:
    return f"submission_{variant.name}"


#: students beyond the catalogue, all correct: each answers every question in its own style, and
#: two of them hand in a near-copy of another's notebook (locals renamed, a comment added). The
#: similarity pass must list exactly the copies.
OTHERS = {
    "submission_source": (("sep_einsum", "fused_linear", "rnn_iter_linear"), {}, ""),
    "submission_copy": (("sep_einsum", "fused_linear", "rnn_iter_linear"),
                        {"outs": "states", "W =": "Wc =", "W.T": "Wc.T"}, "\n# checked it twice\n"),
    "submission_source2": (("sep_multiline", "fused_addmm", "rnn_loop"), {}, ""),
    "submission_copy2": (("sep_multiline", "fused_addmm", "rnn_loop"), {"out": "total", "XH": "joined"}, ""),
    "submission_own1": (("sep_linear", "fused_concat_matmul", "rnn_iter_linear"), {}, ""),
    "submission_own2": (("sep_matmul", "fused_einsum", "rnn_loop"), {}, ""),
}
COPIES = {frozenset(("submission_source", "submission_copy")), frozenset(("submission_source2", "submission_copy2"))}
BY_NAME = {v.name: v for v in VARIANTS}


def student_notebook(solution, names, renames, comment):
    nb = nbformat.from_dict(solution)
    for name in names:
        variant = BY_NAME[name]
        (cell,) = [c for c in nb.cells
                   if c.cell_type == "code" and c.source.startswith(f"def {FUNCTION[variant.question]}(")]
        source = variant.source()
        for old, new in renames.items():
            source = source.replace(old, new)
        cell.source = source + comment
    return nb


def variant_notebook(solution, variant):
    nb = nbformat.from_dict(solution)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {FUNCTION[variant.question]}(")]
    cell.source = variant.source()
    return nb


def export(solution_nb, folder: Path, variants=VARIANTS, others=tuple(OTHERS)) -> Path:
    """A Gradescope export: one student per variant and one per name of :data:`OTHERS` (all of
    both unless told), with name, sid and lateness in its metadata."""
    meta = {}
    notebooks = [(key(v), variant_notebook(solution_nb, v)) for v in variants]
    notebooks += [(name, student_notebook(solution_nb, *OTHERS[name])) for name in others]
    for i, (name, nb) in enumerate(notebooks):
        (folder / name).mkdir(parents=True)
        nbformat.write(nb, folder / name / "rnn_hidden_state.ipynb")
        meta[name] = {":submitters": [{":name": f"Student {i}", ":sid": f"{9000 + i}",
                                       ":email": f"s{i}@example.edu"}], ":late": i % 5 == 0}
    (folder / "submission_metadata.yml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def catalogue_book(solution_nb, tmp_path_factory):
    folder = export(solution_nb, tmp_path_factory.mktemp("catalogue") / "export")
    output = tmp_path_factory.mktemp("catalogue-grades")
    done, book = grade(folder, output)
    return book, output


def test_catalogue_is_large_and_covers_every_question():
    assert len(VARIANTS) >= 30
    assert {v.question for v in VARIANTS} == set(FUNCTION)
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)


def test_the_other_students_get_full_marks(catalogue_book):
    book, _ = catalogue_book
    for name in OTHERS:
        assert book.loc[name, "total_points_earned"] == sum(FULL.values()), name


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_scores_as_expected(catalogue_book, variant):
    book, output = catalogue_book
    row = book.loc[key(variant)]
    feedback = (Path(submission_dir(output, key(variant))) / "feedback.txt").read_text()
    assert row["grading_status"] == "graded"
    assert row[variant.question] == variant.points, f"{variant.name}: {row[variant.question]} != {variant.points}\n{feedback}"
    for question in FULL:  # what a function does to the libraries never reaches another question
        if question != variant.question:
            assert row[question] == FULL[question], f"{variant.name}: {question} got {row[question]}\n{feedback}"
    assert row["q1_shapes"] == 2


def test_review_flags_point_at_tampering_and_spare_honest_code(catalogue_book):
    book, _ = catalogue_book
    for variant in VARIANTS:
        flags = book.loc[key(variant), "review_flags"]
        if any(word in variant.name for word in ("tamper", "inspect")):
            assert flags, f"{variant.name} is not flagged for review"
        elif variant.points == FULL[variant.question]:
            assert not flags, f"{variant.name} is honest but flagged: {flags}"


def test_the_expected_lost_checks_add_up_to_the_expected_points():
    assert set(LOST) <= {v.name for v in VARIANTS}
    for variant in VARIANTS:
        lost = sum(GROUP_POINTS[k] for k in lost_checks(variant))
        assert FULL[variant.question] - lost == variant.points, f"{variant.name}: LOST and points disagree"


def expected_losses() -> collections.Counter:
    """``{(question, group, cause): count}`` over the whole class, from the catalogue."""
    return collections.Counter((q, g, cause) for v in VARIANTS for (q, g), cause in lost_checks(v).items())


def test_checks_csv_and_the_report_count_what_the_catalogue_expects(catalogue_book):
    book, output = catalogue_book
    checks = pd.read_csv(output / "checks.csv", keep_default_na=False, dtype=str)
    students = len(VARIANTS) + len(OTHERS)
    assert len(checks) == students * len(GROUP_POINTS)
    assert set(checks["sid"]) == {str(9000 + i) for i in range(students)}
    lost = checks[checks["points"].astype(float) < checks["max_points"].astype(float)]
    assert collections.Counter(zip(lost["question"], lost["group"], lost["cause"])) == expected_losses()
    per_check = collections.Counter((q, g) for q, g, _ in expected_losses().elements())
    with opened(output / "report.html") as (page, requests):
        for (q, g) in GROUP_POINTS:
            row = page.locator(f"#checks tr[data-question={q}][data-group={g}]")
            assert row.get_attribute("data-lost") == str(per_check[(q, g)]), (q, g)
            shown = {li.get_attribute("data-cause"): int(li.get_attribute("data-count"))
                     for li in row.locator("li[data-cause]").all()}
            assert shown == {c: n for (qq, gg, c), n in expected_losses().items() if (qq, gg) == (q, g)}, (q, g)
        assert "needing a regrade (left out of the statistics): 0" in page.locator("body").inner_text()
        listed = {frozenset((d.get_attribute("data-a"), d.get_attribute("data-b")))
                  for d in page.locator("#similar div.similar").all()}
        assert listed == COPIES, f"similar pairs listed: {listed}"
        assert "checked it twice" in page.locator("#similar").inner_text(), "the code is not shown side by side"
        assert requests == []
    lms = pd.read_csv(output / "lms_grades.csv", keep_default_na=False, dtype=str).set_index("sid")
    assert lms.loc["9000", "late"] == "yes" and lms.loc["9001", "late"] == "no"
    assert float(lms.loc["9000", "total"]) == book.loc[key(VARIANTS[0]), "total_points_earned"]


def with_points(zip_path: Path, out: Path, question: str, group: str, points: int) -> Path:
    """A copy of the autograder zip with one hidden check's points changed (as a TA's edit of the
    spec and ``make dist`` would)."""
    test = f"tests/{question}.py"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == test:
                text = data.decode()
                marker = f"def test_{question.split('_')[0]}_hidden_{group}("
                head, tail = text.split(marker)
                old = f"@test_case(points={GROUP_POINTS[(question, group)]}, hidden=True)\n"
                assert head.endswith(old)
                data = (head[: -len(old)] + f"@test_case(points={points}, hidden=True)\n" + marker + tail).encode()
            dst.writestr(item, data)
    return out


#: the class graded twice by the point-change test: q2 styles whose ``inputs`` check passes, fails,
#: or is gated off by failed values, one whose ``devices`` fails, another question's, and an
#: all-correct student (a small class: the whole catalogue, graded again, took 80 s of the suite)
REGRADED = [BY_NAME[n] for n in ("sep_at", "sep_inplace_H", "sep_missing_term", "sep_numpy_roundtrip", "fused_is_separate")]


def test_a_changed_point_value_regrades_everyone_and_lists_the_changes(solution_nb, tmp_path):
    folder = export(solution_nb, tmp_path / "export", REGRADED, ("submission_own1",))
    done, book = grade(folder, tmp_path / "grades")
    before = pd.read_csv(tmp_path / "grades" / "checks.csv", keep_default_na=False, dtype=str)
    changed = with_points(ZIP, tmp_path / "changed.zip", "q2_separate", "inputs", 2)
    done, after = grade(folder, tmp_path / "grades", "--autograder", str(changed))
    assert "the autograder changed" in done.stderr
    passed = before[(before["question"] == "q2_separate") & (before["group"] == "inputs") & (before["status"] == "passed")]
    assert set(passed["file"]) == {key(BY_NAME["sep_at"]), key(BY_NAME["sep_numpy_roundtrip"]), key(BY_NAME["fused_is_separate"]),
                                   "submission_own1"}, "the class no longer has the cases it was chosen for"
    changes = pd.read_csv(tmp_path / "grades" / "changes.csv", keep_default_na=False, dtype=str)
    expected = sorted((f, q, "1.0") for f in passed["file"] for q in ("q2_separate", "total"))
    assert sorted(zip(changes["file"], changes["question"], changes["change"])) == expected
    assert all(line.startswith("inputs: passed 1/1 -> passed 2/2") for line in
               changes.loc[changes["question"] == "q2_separate", "checks_changed"])
    for name in [*map(key, REGRADED), "submission_own1"]:
        delta = 1 if name in set(passed["file"]) else 0
        assert after.loc[name, "q2_separate"] == book.loc[name, "q2_separate"] + delta, name
