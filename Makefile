# Two promises (README): `make demo` runs the main job on the embedded default, `make test` passes the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_VAULT := demo-vault

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_VAULT) && cp -r example_vault $(DEMO_VAULT)
	$(BIN)/vaultlab sync $(DEMO_VAULT)
	$(BIN)/vaultlab run 003_distillation --vault $(DEMO_VAULT)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/demo.py

clean:
	rm -rf $(DEMO_VAULT) .pytest_cache
