# The two commands of the README are `make run` and `make test`; the rest are their parts.
PYTHON ?= python3
VENV ?= .venv
DJANGO ?= django>=5.2,<5.3
# Extras installed by `make install` / `make test`; `make run` installs only what running needs
# (`deployment`: what config/ and tasks/, this repository's own deployment, import).
EXTRAS ?= deployment,test,lint
RUN_EXTRAS ?= deployment
BIN := $(VENV)/bin

.PHONY: install run test lint check pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".$(if $(strip $(EXTRAS)),[$(EXTRAS)])" "$(DJANGO)"

# Web admin + API + a qcluster on SQLite, with a demo login printed. Ctrl+C stops both.
# (No lint or test tools: the runtime dependencies and RUN_EXTRAS.)
run: EXTRAS = $(RUN_EXTRAS)
run: install
	VENV=$(VENV) bash scripts/run.sh

# Lint, types, Django checks, migrations check, then the suite on SQLite and on PostgreSQL
# (and on MariaDB when MARIADB_URL is set, e.g. mysql://root@127.0.0.1:3306/jobqueue).
test: install
	VENV=$(VENV) bash scripts/test.sh

lint:
	VENV=$(VENV) LINT_ONLY=1 bash scripts/test.sh

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) db/ .pytest_cache .mypy_cache .ruff_cache
