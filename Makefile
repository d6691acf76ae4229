# Every target sets up .venv itself, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo feed test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/podpipe build episodes/*.yaml

# The demo's feed and show page (build/feed.xml, build/index.html); set BASE_URL to where build/ is published.
BASE_URL ?= https://example.com/podpipe-weekly
feed: demo
	$(BIN)/podpipe feed episodes/*.yaml --base-url $(BASE_URL) -o build/feed.xml

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
