"""Where things are in this repository (the grader's own code finds its files from here)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "rnn_hidden_state"
MASTER = REPO / "solutions" / f"{NAME}.ipynb"
STUDENT = REPO / "assignment" / f"{NAME}.ipynb"
ZIP = REPO / "autograder" / f"{NAME}-autograder.zip"
EXAMPLES = REPO / "examples" / "submissions"
BUILD = REPO / "build"
