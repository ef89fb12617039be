#!/usr/bin/env bash
# The whole test suite: static checks (when the lint tools are installed), Django's checks,
# then pytest on SQLite and on PostgreSQL, and on MariaDB when MARIADB_URL is set
# (e.g. mysql://root@127.0.0.1:3306/jobqueue). Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export SECRET_KEY=${SECRET_KEY:-test-suite-secret-key}
export DEBUG=false

step() { printf '\n== %s\n' "$*"; }

# The admin's browser tests drive Debian's chromium through chromedriver (never a downloaded browser).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  step "installing chromium and chromium-driver"
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if "$PY" -c "import ruff, mypy" 2>/dev/null; then
  step "ruff"
  "$PY" -m ruff check .
  "$PY" -m ruff format --check .
  step "mypy (jobqueue/)"
  "$PY" -m mypy
  step "lint-imports (the layers of docs/architecture.md)"
  DJANGO_SETTINGS_MODULE=tests.settings "$VENV/bin/lint-imports"
fi
[ "${LINT_ONLY:-0}" = 1 ] && exit 0

step "manage.py check / makemigrations --check"
DJANGO_SETTINGS_MODULE=tests.settings "$PY" manage.py check --fail-level WARNING
DJANGO_SETTINGS_MODULE=tests.settings "$PY" manage.py makemigrations --check --dry-run

# The reference transaction service (signer/, Node) has its own tests; `make run` never needs Node.
if command -v node >/dev/null && command -v npm >/dev/null; then
  step "signer/ (node --test)"
  (cd signer && npm ci --no-audit --no-fund --loglevel=error && node --test test/)
else
  step "signer/ tests skipped: node and npm are not installed"
fi

"$PY" -c "import django, sys; print(f'Python {sys.version.split()[0]}, Django {django.__version__}')"
mkdir -p db artifacts
step "pytest on SQLite"
DATABASE_URL="sqlite:///$PWD/db/dev-unused.sqlite3" "$PY" -m pytest "$@"
step "pytest on PostgreSQL ($PG_URL)"
DATABASE_URL="$PG_URL" "$PY" -m pytest "$@"

if [ -n "${MARIADB_URL:-}" ]; then
  # mysqlclient builds against the MariaDB client library, found through pkg-config.
  if ! dpkg -s libmariadb-dev pkg-config >/dev/null 2>&1; then
    step "installing libmariadb-dev and pkg-config"
    apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  fi
  "$PY" -c "import MySQLdb" 2>/dev/null || "$PY" -m pip install -q -e ".[mysql]"
  answers() {
    "$PY" - "$MARIADB_URL" <<'PY' 2>/dev/null
import sys
from urllib.parse import unquote, urlsplit

import MySQLdb

url = urlsplit(sys.argv[1])
MySQLdb.connect(
    host=url.hostname or "127.0.0.1", port=url.port or 3306, user=unquote(url.username or "root"),
    password=unquote(url.password or ""), connect_timeout=2,
).close()
PY
  }
  if ! answers; then
    step "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 60); do answers && break; sleep 1; done
  fi
  step "pytest on MariaDB ($MARIADB_URL)"
  DATABASE_URL="$MARIADB_URL" "$PY" -m pytest "$@"
fi
