"""Run a notebook's cells in the current process, in place of nbconvert's ExecutePreprocessor.

Otter's ``grade_notebook`` builds the grading notebook (its init, check and export cells) and
hands it to ``nbconvert.preprocessors.ExecutePreprocessor``, which starts a Jupyter kernel and
imports torch in it: seconds of fixed cost per submission. In a forked grading child that already
imported torch and Otter, :class:`InProcessExecutor` runs the same cells in an IPython shell
instead (magics, ``display`` and errors behave as in a kernel). Everything else is Otter's code.
"""

import nbconvert.preprocessors


class InProcessExecutor:
    """Drop-in for ``ExecutePreprocessor``: ``preprocess(nb) -> (nb, resources)``."""

    def __init__(self, config=None, **kwargs):
        self.allow_errors = True

    def preprocess(self, nb, resources=None):
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for cell in nb.cells:
            if cell.cell_type == "code":
                shell.run_cell(cell.source, store_history=False, silent=False)
        return nb, resources or {}


def install() -> None:
    """Make Otter's grading use :class:`InProcessExecutor` in this (disposable) process."""
    nbconvert.preprocessors.ExecutePreprocessor = InProcessExecutor
