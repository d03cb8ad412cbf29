"""What the runner and the reference runner share: the serving loop that calls a function on the
judge's inputs and describes what came back (:mod:`.serve`), the operator trace it attests with
(:mod:`.trace`), and the resource limits every runner process starts under (:mod:`.limits`).

The judge forks its reference runner with the same loop and limits, so both sides are served and
timed alike; the judge imports this layer, never :mod:`autograder.runner` (the process that runs
submission code). Nothing here holds a reference answer, a hidden test or a threshold.
"""
