"""What each hidden test runs: ``runpy.run_path("../source/files/rnn_checks/entry.py")["check"]``.

It loads the helpers in this folder afresh, under a private name, whatever ``sys.modules`` holds
and whatever a submission put next to itself: a fake ``rnn_checks`` module or folder is never used.
(Otter copies ``source/files`` into the submission folder only where the name is free, so the
copy the hidden tests trust is the one in ``source/files``, which the submission cannot replace.)
The checker process itself is shared through the environment (see ``isolation.Checker.attach``).
"""

import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_NAME = "_rnn_checks_hidden"

for _name in [n for n in sys.modules if n == _NAME or n.startswith(_NAME + ".")]:
    del sys.modules[_name]
_spec = importlib.util.spec_from_file_location(_NAME, os.path.join(_HERE, "__init__.py"),
                                               submodule_search_locations=[_HERE])
_package = importlib.util.module_from_spec(_spec)
sys.modules[_NAME] = _package  # the package's relative imports resolve through this entry
_spec.loader.exec_module(_package)

check = _package.check
check_shapes = _package.check_shapes
