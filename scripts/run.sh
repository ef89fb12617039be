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
# The four processes below would each warn about the development SECRET_KEY: warn once here.
if [ -z "${SECRET_KEY:-}" ]; then
  echo "warning: SECRET_KEY is not set: using the insecure development key. Set SECRET_KEY before deploying." >&2
  export DEV_SECRET_KEY_WARNED=1
fi

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
