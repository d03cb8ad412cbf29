"""The layers of the grader point one way: read from every ``import`` in ``autograder/`` (those
inside functions too), resolved to module names. The judge never imports the runner (the process
that runs submission code), the runner never imports the judge or the batch grader, the serving
layer they share imports neither, and no module reaches itself through its imports."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
MODULE_NAMES = set(MODULES)


def imports_of(path: Path) -> set:
    """Modules of ``autograder`` that ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            modules = {f"{target}.{alias.name}" for alias in node.names} & MODULE_NAMES
            # ``from package import module`` imports the module; ``from module import name``, the module
            found.update(modules or {target})
    return {m for m in found if m.split(".")[0] == "autograder"}

GRAPH = {name: {m for m in imports_of(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def reaches(start: str) -> set:
    seen, todo = set(), [start]
    while todo:
        for m in GRAPH[todo.pop()] - seen:
            seen.add(m)
            todo.append(m)
    return seen


#: (importing layer, layer it must never import)
FORBIDDEN = [
    ("autograder.judge", "autograder.runner"),
    ("autograder.runner", "autograder.judge"), ("autograder.runner", "autograder.batch"),
    ("autograder.serving", "autograder.runner"), ("autograder.serving", "autograder.judge"),
    ("autograder.serving", "autograder.batch"),
    ("autograder.judge", "autograder.batch"), ("autograder.judge", "autograder.bench"),
]


def test_the_graph_was_read():
    assert "autograder.serving.serve" in GRAPH["autograder.runner.__main__"]
    assert "autograder.judge.runners" in GRAPH["autograder.judge.gradescope"]


@pytest.mark.parametrize("importer,forbidden", FORBIDDEN)
def test_a_layer_never_imports_the_one_it_must_not(importer, forbidden):
    bad = sorted(f"{name} -> {m}" for name in GRAPH if name == importer or name.startswith(importer + ".")
                 for m in GRAPH[name] if m == forbidden or m.startswith(forbidden + "."))
    assert not bad, "\n".join(bad)


def test_no_module_reaches_itself_through_its_imports():
    circles = sorted(name for name in GRAPH if name in reaches(name) and not name.endswith("__init__"))
    assert not circles, f"import circles through: {circles}"


def test_the_runner_is_given_every_module_it_imports():
    """A runner imports only from the copy of ``RUNNER_MODULES`` it is given (the judge's modules stay
    behind): everything the runner's entry point reaches must be in that copy."""
    from autograder.judge.gradescope import RUNNER_MODULES
    files = {f"autograder.{name.removesuffix('.py')}".removesuffix(".__init__") for name in RUNNER_MODULES
             if name.endswith(".py")}
    folders = {f"autograder.{name}" for name in RUNNER_MODULES if not name.endswith(".py")}
    missing = sorted(m for m in reaches("autograder.runner.__main__") | reaches("autograder.runner.notebook")
                     if m not in files and not any(m == f or m.startswith(f + ".") for f in folders))
    assert not missing, f"the runner imports modules it is not given: {missing}"
