"""Batch grading without Docker: ``python -m autograder.batch --help`` (``make grade``)."""
