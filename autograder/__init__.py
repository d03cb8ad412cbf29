"""The RNN hidden-state assignment's grader.

Who runs what (see docs/trust-model.md):

- :mod:`autograder.runner` runs submission code and decides nothing;
- :mod:`autograder.judge` decides every point and never runs submission code;
- :mod:`autograder.wire` is the only thing between them: plain data;
- :mod:`autograder.batch` grades many submissions on an instructor's machine (a judge);
- :mod:`autograder.spec` and :mod:`autograder.config` are the questions and the numbers.
"""
