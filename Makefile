# The RNN hidden-state assignment. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUBMISSIONS ?= examples/submissions
OUTPUT ?= grades
ZIP := autograder/rnn_hidden_state-autograder.zip
SOURCES := solutions/rnn_hidden_state.ipynb autograder/requirements.txt autograder/dist.py autograder/public_checks.py autograder/rules.py \
	autograder/operators.py autograder/config.py autograder/spec.py autograder/wire.py autograder/receipt.py autograder/hidden_tests.py \
	$(wildcard autograder/judge/*) $(wildcard autograder/runner/*.py) $(wildcard autograder/serving/*.py)

.PHONY: help venv dist grade test test-fast lint bench bench-timing bench-repeat bench-trace fuzz gpu-check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(PY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	touch $(PY)

venv: $(PY)  ## create .venv with the pinned dependencies (first use only)

$(ZIP): $(SOURCES) | $(PY)
	$(PY) -m autograder.dist

dist: $(PY)  ## build the student notebook, the Gradescope zip and the examples from the master
	$(PY) -m autograder.dist --execute

grade: $(ZIP)  ## grade SUBMISSIONS (default examples/submissions) into OUTPUT (default grades); ARGS="--only NAME"
	$(PY) -m autograder.batch "$(SUBMISSIONS)" --output "$(OUTPUT)" $(ARGS)

test: lint  ## run the whole test suite (after the linter), as CI does: two workers, one module to a worker
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

test-fast: lint  ## the edit loop: every test not marked slow (under two minutes)
	$(PY) -m pytest -q -m "not slow" tests

lint: $(PY)  ## ruff over the grader and the tests
	$(PY) -m ruff check autograder tests

bench: $(ZIP)  ## make grade vs loops of run_autograder and otter run: time per submission, scores agree
	$(PY) -m autograder.bench.grading

bench-timing: $(PY)  ## false-failure and detection rates of the timing threshold, both cores busy
	$(PY) -m autograder.bench.timing

bench-repeat: $(ZIP)  ## the examples and timing variants graded 3x idle and 3x beside a build-like load: same scores
	$(PY) -m autograder.bench.repeatability

bench-trace: $(PY)  ## what the runner's operator trace costs honest q2 styles, per call and per values group
	$(PY) -m autograder.bench.trace_cost

fuzz: $(PY)  ## long property-based run: generated runner replies never earn a point (3000 examples)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/test_fail_closed.py

gpu-check:  ## device checks on a CUDA machine (the project's .venv if built, else python3 with torch and msgspec)
	$(if $(wildcard $(PY)),$(PY),python3) -m autograder.gpu_check $(ARGS)

clean:  ## remove build outputs (not the committed generated files)
	rm -rf build grades solutions/rnn_hidden_state-executed.ipynb
