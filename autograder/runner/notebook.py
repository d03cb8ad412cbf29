"""Run a submission's notebook, top to bottom, in an IPython shell in this process.

Cells tagged ``otter_ignore`` are skipped, as Otter skips them. Otter's ``export`` and ``check``
do nothing here: the submission is already exported, and public checks carry no points (the
student ran them in their own kernel; running them again would only cost grading time).

What works in Jupyter must not stop a cell here: ``%matplotlib inline`` (a plain IPython shell
has no GUI loop and raised, skipping the rest of the cell: red team, round 14) selects the
non-interactive backend, and shell escapes (``!pip ...``, ``%pip``, ``x = !ls``) are not run, on
either path, with a note in the output: a grading machine has no network and no business
installing anything, and a sandbox has no shell.
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
    shell = _shell()
    for source in cells:
        shell.run_cell(source, store_history=False, silent=False)
    return shell.user_ns


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.text import SList

    class GradingShell(InteractiveShell):
        def enable_gui(self, gui=None):  # no event loop to start: figures go to the Agg backend
            pass

        def system(self, cmd):
            print(f"[the grader does not run shell commands: !{cmd}]")

        def getoutput(self, cmd, split=True, depth=0):
            self.system(cmd)
            return SList() if split else ""

    return GradingShell.instance()


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
