#!/usr/bin/env bash
# The whole test suite: static checks (when the lint tools are installed), Django's checks,
# then pytest on SQLite and on PostgreSQL, and on MariaDB when MARIADB_URL is set
# (e.g. mysql://root@127.0.0.1:3306/jobqueue), LEG_JOBS (default 2) of them side by side.
# EXTRA_VENVS (virtualenvs made by `make install VENV=...`) adds their SQLite and PostgreSQL
# legs. Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TEST_ARGS=$#  # pytest arguments given to this script (then every leg runs just those)
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
# They run beside the pytest legs (below), as one more job of the same pool.
SIGNER_TESTS=0
if command -v node >/dev/null && command -v npm >/dev/null; then
  step "signer/ (npm ci; its node --test suite runs with the legs)"
  (cd signer && npm ci --no-audit --no-fund --loglevel=error)
  SIGNER_TESTS=1
else
  step "signer/ tests skipped: node and npm are not installed"
fi

"$PY" -c "import django, sys; print(f'Python {sys.version.split()[0]}, Django {django.__version__}')"
mkdir -p db artifacts

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
fi

# The legs: the suite once per database (and per extra virtualenv in EXTRA_VENVS, which CI
# uses for its Python 3.12 / Django 6 legs). Each leg has its own test database, so they run
# side by side, LEG_JOBS at a time (much of a leg is waiting on qcluster subprocesses and the
# browser); each leg's output goes to artifacts/leg-<name>.log and is printed when it ends.
# Tests marked `database_independent` (pure functions, docs pages, the wheel's install, the
# browser's, subprocess-only checks) prove nothing about the leg's database: they run on
# the SQLite leg of each virtualenv (one per Python/Django version) and are deselected on the
# PostgreSQL and MariaDB legs.
ON_SERVER_DATABASE="not database_independent"
PG_LEGS=() MARIADB_LEGS=() SQLITE_LEGS=()
add_legs() {  # venv tag
  local venv=$1 tag=$2
  # A database name of its own per leg (pytest-django creates test_<name> on the server).
  # The PostgreSQL suite is the longest (about twice the SQLite one: it alone runs the fault
  # suite, and flushing its tables between transactional tests costs more), so it runs as two
  # legs of the pool, each on its own database: the real-cluster and fault tests, and the
  # rest. Every test still runs on PostgreSQL once. With test paths given, one leg runs them.
  # An extra virtualenv (CI's newer Python and Django) runs the real-cluster and fault tests on
  # SQLite only: on PostgreSQL they are the main virtualenv's, and a second copy of that leg
  # took a fifth of CI's time for what the SQLite leg already runs on the newer Django.
  if [ "$TEST_ARGS" -gt 0 ] || [ "${SPLIT_PG:-1}" = 0 ]; then
    PG_LEGS+=("$tag-postgresql|$venv|${PG_URL}_$tag|$ON_SERVER_DATABASE|")
  elif [ "$venv" != "$VENV" ]; then
    PG_LEGS+=("$tag-postgresql|$venv|${PG_URL}_$tag|$ON_SERVER_DATABASE|--ignore=tests/integration --ignore=tests/faults")
  else
    PG_LEGS+=("$tag-postgresql-clusters|$venv|${PG_URL}_${tag}_c|$ON_SERVER_DATABASE|tests/integration tests/faults")
    PG_LEGS+=("$tag-postgresql|$venv|${PG_URL}_$tag|$ON_SERVER_DATABASE|--ignore=tests/integration --ignore=tests/faults")
  fi
  SQLITE_LEGS+=("$tag-sqlite|$venv|sqlite:///$PWD/db/dev-unused-$tag.sqlite3||")
  if [ -n "${MARIADB_URL:-}" ] && [ "$venv" = "$VENV" ]; then
    MARIADB_LEGS+=("$tag-mariadb|$venv|$MARIADB_URL|$ON_SERVER_DATABASE|")
  fi
}
tag_of() { "$1/bin/python" -c "import sys, django; print(f'py{sys.version_info[0]}{sys.version_info[1]}dj{django.VERSION[0]}{django.VERSION[1]}')"; }
add_legs "$VENV" "$(tag_of "$VENV")"
for extra in ${EXTRA_VENVS:-}; do
  step "Django checks with $extra"
  DJANGO_SETTINGS_MODULE=tests.settings "$extra/bin/python" manage.py check --fail-level WARNING
  DJANGO_SETTINGS_MODULE=tests.settings "$extra/bin/python" manage.py makemigrations --check --dry-run
  add_legs "$extra" "$(tag_of "$extra")"
done
# The longest first, so that the last to start is a short one. Measured in a CI rehearsal of
# 2026-12-07 (three at a time): the SQLite legs 700-760 s (the database-independent tests and
# the browser's run there), MariaDB 585 s, each PostgreSQL leg 430-480 s; the signer's Node
# suite about 20 s, so it goes last.
LEGS=("${SQLITE_LEGS[@]}" "${MARIADB_LEGS[@]}" "${PG_LEGS[@]}")
[ "$SIGNER_TESTS" = 1 ] && LEGS+=("signer||||")

run_leg() {  # name venv url markers selection [pytest args...]
  local name=$1 venv=$2 url=$3 markers=$4 selection=$5
  shift 5
  local started=$SECONDS
  if [ "$name" = signer ]; then
    # One test file at a time: both start a simnet from the same Clarinet project, whose
    # deployment plan a fresh checkout writes on first use; a hung test fails after its timeout.
    set -- node --test --test-concurrency=1 --test-timeout=300000 --test-force-exit test/
    if (cd signer && "$@") >"artifacts/leg-$name.log" 2>&1; then
      echo "passed in $((SECONDS - started)) s" >"artifacts/leg-$name.status"
    else
      echo "FAILED (exit $?) after $((SECONDS - started)) s" >"artifacts/leg-$name.status"
    fi
    return
  fi
  if DATABASE_URL="$url" TEST_SQLITE_PATH="$PWD/db/test-$name.sqlite3" \
    "$venv/bin/python" -m pytest -p no:cacheprovider ${markers:+-m "$markers"} $selection "$@" >"artifacts/leg-$name.log" 2>&1; then
    echo "passed in $((SECONDS - started)) s" >"artifacts/leg-$name.status"
  else
    echo "FAILED (exit $?) after $((SECONDS - started)) s" >"artifacts/leg-$name.status"
  fi
}

LEG_JOBS=${LEG_JOBS:-2}
step "pytest: ${#LEGS[@]} legs, $LEG_JOBS at a time: $(printf '%s ' "${LEGS[@]%%|*}")"
rm -f artifacts/leg-*.status artifacts/leg-*.log
declare -A RUNNING=()
finish_one() {
  local pid
  wait -n -p pid "${!RUNNING[@]}" || true
  local name=${RUNNING[$pid]}
  unset "RUNNING[$pid]"
  printf '\n== leg %s: %s\n' "$name" "$(cat "artifacts/leg-$name.status")"
  cat "artifacts/leg-$name.log"
}
for leg in "${LEGS[@]}"; do
  IFS='|' read -r name venv url markers selection <<<"$leg"
  while [ "${#RUNNING[@]}" -ge "$LEG_JOBS" ]; do finish_one; done
  run_leg "$name" "$venv" "$url" "$markers" "$selection" "$@" &
  RUNNING[$!]=$name
done
while [ "${#RUNNING[@]}" -gt 0 ]; do finish_one; done

step "legs"
failed=0
for leg in "${LEGS[@]}"; do
  name=${leg%%|*}
  status=$(cat "artifacts/leg-$name.status" 2>/dev/null || echo "FAILED (no status)")
  printf '  %-24s %s   %s\n' "$name" "$status" "$(grep -aE '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "artifacts/leg-$name.log" | tail -n 1 | sed -E 's/^=+ | =+$//g')"
  case $status in passed*) ;; *) failed=1 ;; esac
done
exit "$failed"
