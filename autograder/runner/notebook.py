"""Run a submission's notebook, top to bottom, in an IPython shell in this process.

Cells tagged ``otter_ignore`` are skipped, as Otter skips them. Otter's ``export`` and ``check``
do nothing here: the submission is already exported, and public checks carry no points (the
student ran them in their own kernel; running them again would only cost grading time).
"""

import os

import nbformat


def code_cells(text: str) -> list:
    nb = nbformat.reads(text, as_version=4)
    return [c.source for c in nb.cells
            if c.cell_type == "code" and "otter_ignore" not in c.get("metadata", {}).get("tags", [])]


def run(text: str, filename: str) -> dict:
    """Run the notebook's code cells; returns the shell's namespace."""
    cells = code_cells(text)
    with open(filename, "w", encoding="utf-8") as f:  # otter.Notebook("<name>.ipynb") opens it
        f.write(text)
    import otter
    otter.Notebook.export = lambda *args, **kwargs: None
    otter.Notebook.check = lambda *args, **kwargs: None
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    for source in cells:
        shell.run_cell(source, store_history=False, silent=False)
    return shell.user_ns


def prepare() -> None:
    """Import what running a notebook needs, so that a forked runner starts warm."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import IPython.core.interactiveshell  # noqa: F401
    import otter  # noqa: F401
    import torch

    code_cells(nbformat.writes(nbformat.v4.new_notebook()))  # nbformat builds its schema validator at first use
    import IPython.core.completer  # noqa: F401 (every shell imports it)

    from ..serving.trace import OpTrace
    meta = torch.empty(2, 2, device="meta")  # the meta device and the trace cost a second at first use
    with OpTrace():
        torch.cat((meta, meta), 1) @ torch.cat((meta, meta), 0)
        torch.cat((torch.ones(2, 2), torch.ones(2, 2)), 1) @ torch.ones(4, 2)
