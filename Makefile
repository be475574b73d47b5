# Set-up needs only Python 3.11 and make: every target creates the virtual environment first.
# `make run` installs only what the bot needs; `make test` adds the test extra and `make bench`
# the benchmark extra (bm25s, numba, matplotlib...). Each step says what it installs, and pip
# shows its progress.
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
	@echo "qabot: installing the test extra (pytest, dpytest, hypothesis) ..."
	$(PIP) -e '.[test]'
	touch $@

$(STAMP_BENCH): $(STAMP)
	@echo "qabot: installing the benchmark extra (bm25s, numba, matplotlib, psutil) ..."
	$(PIP) -e '.[bench]'
	touch $@

clean:
	rm -rf $(VENV) .qabot .pytest_cache
