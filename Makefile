# Set-up needs only Python 3.11 and make: every target creates the virtual environment first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench bench-full index clean

run: $(STAMP)            ## build the index if needed and start the REPL on the bundled corpus
	$(BIN)/qabot repl

test: $(STAMP)           ## run the whole test suite
	$(BIN)/python -m pytest

bench: $(STAMP)          ## quick benchmarks (under 5 minutes on 2 cores)
	$(BIN)/python -m benchmarks.run

bench-full: $(STAMP)     ## every benchmark, up to 1,000,000 passages
	$(BIN)/python -m benchmarks.run --full

index: $(STAMP)          ## rebuild the index of the configured corpus
	$(BIN)/qabot index

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .qabot .pytest_cache
