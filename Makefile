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

# The bundled corpus's index, where `make run` and `make index` put it without a user config
# (in the user's cache directory); only the files a save made are removed (see README).
REMOVE_INDEX := import os; from retrieval.settings import load_settings; \
	from retrieval.storage import remove_index; \
	d = load_settings(environ={k: v for k, v in os.environ.items() if k in ("HOME", "XDG_CACHE_HOME")}).index_dir; \
	print(f"removed the index at {d}" if remove_index(d) else f"no index at {d}")

clean:                   ## remove what the project made: the venv, caches, the bundled corpus's index
	@if [ -x $(BIN)/python ]; then $(BIN)/python -c '$(REMOVE_INDEX)'; fi
	rm -rf $(VENV) .pytest_cache *.egg-info benchmarks/results/work
	find retrieval bot tests benchmarks -depth -name __pycache__ -type d -exec rm -rf {} +
