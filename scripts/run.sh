#!/usr/bin/env bash
# Run the product on SQLite: migrate, print a demo login, start the web server (admin + API)
# and a qcluster together. Ctrl+C (or SIGTERM) stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export DEBUG=${DEBUG:-true}
export DATABASE_URL=${DATABASE_URL:-sqlite:///$PWD/db.sqlite3}
PORT=${PORT:-8000}

"$PY" manage.py migrate --no-input -v0
"$PY" manage.py jobqueue demo-user

"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload &
web=$!
"$PY" manage.py qcluster &
cluster=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$web" "$cluster" 2>/dev/null || true
  wait "$web" "$cluster" 2>/dev/null || true
  echo "stopped web server and cluster"
}
trap stop INT TERM EXIT
echo "admin: http://127.0.0.1:$PORT/admin/   (Ctrl+C stops the server and the cluster)"
wait -n "$web" "$cluster"
