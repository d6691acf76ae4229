# Every target sets up .venv itself, so a fresh clone needs only `make demo` or `make test`.
# tools/setup-venv installs with uv when it can be had, else pip: `make demo` only the runtime dependencies,
# `make test` the dev extra too (PODPIPE_INSTALLER=pip or =uv forces one).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-runtime
DEV    := $(VENV)/.stamp-dev
export PYTHON
# Bytecode caches on, whatever the shell says: the suite starts dozens of Python processes (podpipe runs, mix workers,
# hook environments) and each would compile every module it imports from source again (.venv and __pycache__/
# are git-ignored).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: venv demo feed test test-loaded bench clean

$(STAMP): pyproject.toml
	tools/setup-venv runtime

$(DEV): pyproject.toml
	tools/setup-venv dev

venv: $(DEV)

demo: $(STAMP)
	$(BIN)/podpipe build episodes/*.yaml

# The demo's feed and show page (build/feed.xml, build/index.html); set BASE_URL to where build/ is published.
BASE_URL ?= https://example.com/podpipe-weekly
feed: demo
	$(BIN)/podpipe feed episodes/*.yaml --base-url $(BASE_URL) -o build/feed.xml

# The suite in parallel (pytest-xdist, a worker per core); JOBS=1 runs it in one process. PYTEST_ARGS adds options.
# loadgroup: tests marked xdist_group("name") share one worker (and its module fixtures, e.g. the pre-commit hook's
# environment, installed once).
JOBS ?= auto
test: $(DEV)
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadgroup $(PYTEST_ARGS)

# The suite RUNS times while two busy loops load both cores; fails if any run fails (tools/loaded-test).
RUNS ?= 1
test-loaded: $(DEV)
	tools/loaded-test $(RUNS)

bench: $(DEV)
	$(BIN)/python bench/run.py

clean:
	rm -rf build .podpipe-cache

# Security scan (bandit, a dev dependency): every finding in podpipe/ must be fixed or carry a reviewed
# `# nosec BXXX - reason` annotation. .ci/run runs it after the tests.
.PHONY: security
security: $(DEV)
	$(BIN)/python -m bandit -r podpipe -q
