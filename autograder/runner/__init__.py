"""The runner: the only code that runs submission code. It decides nothing.

It runs a submission's notebook, then answers the judge's requests over two pipes the judge made:
it calls the student's functions on the tensors it is sent and sends back what they returned,
with what only it can observe (the operator trace, in-place updates) as *attestations* that the
judge weighs accordingly. Everything here may be rewritten by the submission it runs; nothing
here holds a reference answer, a hidden test or a threshold.
"""
