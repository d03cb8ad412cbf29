# The RNN hidden-state assignment. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUBMISSIONS ?= examples/submissions
OUTPUT ?= grades
ZIP := autograder/rnn_hidden_state-autograder.zip
SOURCES := solutions/rnn_hidden_state.ipynb autograder/requirements.txt autograder/dist.py $(wildcard autograder/rnn_checks/*.py)

.PHONY: help venv dist grade test bench bench-timing gpu-check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(PY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(PY)

venv: $(PY)  ## create .venv with the pinned dependencies (first use only)

$(ZIP): $(SOURCES) | $(PY)
	$(PY) autograder/dist.py

dist: $(PY)  ## build the student notebook, the Gradescope zip and the examples from the master
	$(PY) autograder/dist.py --execute

grade: $(ZIP)  ## grade SUBMISSIONS (default examples/submissions) into OUTPUT (default grades)
	$(PY) -m autograder.batch "$(SUBMISSIONS)" --output "$(OUTPUT)"

test: $(PY)  ## run the test suite
	$(PY) -m pytest -q tests

bench: $(ZIP)  ## make grade vs a loop of otter run: per-submission time, ratio, scores agree
	$(PY) -m autograder.bench.grading --catalogue

bench-timing: $(PY)  ## false-failure and detection rates of the timing threshold, both cores busy
	$(PY) -m autograder.bench.timing

gpu-check:  ## device checks on a CUDA machine (torch only; no Otter needed)
	python3 autograder/gpu_check.py

clean:  ## remove build outputs (not the committed generated files)
	rm -rf build grades solutions/rnn_hidden_state-executed.ipynb
