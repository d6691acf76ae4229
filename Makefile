# Every target sets up .venv itself, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/podpipe build episodes/*.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf build .podpipe-cache

# Security scan (bandit, a dev dependency): every finding in podpipe/ must be fixed or carry a reviewed
# `# nosec BXXX - reason` annotation. .ci/run runs it after the tests.
.PHONY: security
security: $(STAMP)
	$(BIN)/python -m bandit -r podpipe -q
