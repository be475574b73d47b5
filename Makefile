# Set-up needs only Python 3.11 and make: every target creates the virtual environment first.
# `make run` installs only what the bot needs; `make test` adds the test and cluster extras
# (the cluster's tests run on a local Ray) and `make bench` the benchmark extra (bm25s,
# matplotlib...). Each step says what it installs, and pip shows its progress.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --progress-bar on
# One stamp per extra: installing an extra does not reinstall the rest.
STAMP       := $(VENV)/.installed
STAMP_TEST  := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench

.PHONY: run test bench bench-full index clean

run: $(STAMP)            ## build the index if needed and start the REPL on the bundled corpus
	$(BIN)/qabot repl

test: $(STAMP_TEST)      ## run the whole test suite
	$(BIN)/python -m pytest

bench: $(STAMP_BENCH)    ## quick benchmarks (under 5 minutes on 2 cores)
	$(BIN)/python -m benchmarks.run

bench-full: $(STAMP_BENCH)  ## every benchmark, up to 1,000,000 passages
	$(BIN)/python -m benchmarks.run --full

index: $(STAMP)          ## rebuild the index of the configured corpus
	$(BIN)/qabot index

$(STAMP): pyproject.toml
	@echo "qabot: creating the virtual environment in $(VENV) ..."
	$(PYTHON) -m venv $(VENV)
	@echo "qabot: installing qabot and what it needs to run ..."
	$(PIP) -e .
	@rm -f $(STAMP_TEST) $(STAMP_BENCH)
	touch $@

$(STAMP_TEST): $(STAMP)
	@echo "qabot: installing the test and cluster extras (pytest, dpytest, hypothesis, ray) ..."
	$(PIP) -e '.[test,cluster]'
	touch $@

$(STAMP_BENCH): $(STAMP)
	@echo "qabot: installing the benchmark extra (bm25s, matplotlib, psutil, lemminflect) ..."
	$(PIP) -e '.[bench]'
	touch $@

# The bundled corpus's index, where `make run` and `make index` put it without a user config
# (in the user's cache directory); only the files a save made are removed (see README).
REMOVE_INDEX := import os; from retrieval.settings import load_settings; \
	from retrieval.storage import remove_index; \
	d = load_settings(environ={k: v for k, v in os.environ.items() if k in ("HOME", "XDG_CACHE_HOME")}).index_dir; \
	print(f"removed the index at {d}" if remove_index(d) else f"no index at {d}")

clean:                   ## remove what the project made: the venv, caches, the bundled corpus's index
	@if [ -x $(BIN)/python ]; then $(BIN)/python -c '$(REMOVE_INDEX)' || echo "the index was not removed: the installation in $(VENV) is incomplete"; fi
	rm -rf $(VENV) .pytest_cache *.egg-info benchmarks/results/work
	find retrieval bot tests benchmarks -depth -name __pycache__ -type d -exec rm -rf {} +
