#!/usr/bin/env bash
# make run: install, migrate, load the demo data, then serve the web app with a Celery worker
# and beat on the embedded defaults (SQLite file and a filesystem broker under var/).
# Ctrl-C stops all of it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export DEBUG=${DEBUG:-true}
export DEMO_PASSWORD=${DEMO_PASSWORD:-incidentdesk-demo}
PORT=${PORT:-8000}
export SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}

ensure_venv
mkdir -p var
"$PY" manage.py migrate --no-input
"$PY" manage.py seed_demo

pids=()
cleanup() {
    trap - EXIT INT TERM
    log "stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting the Celery worker with beat (log: var/celery.log)"
"$VENV/bin/celery" -A config worker -B --loglevel=INFO --concurrency=2 \
    --schedule var/celerybeat-schedule >var/celery.log 2>&1 &
pids+=($!)

"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

cat <<MSG

  IncidentDesk is running at http://127.0.0.1:$PORT/

  Admin (managers):     http://127.0.0.1:$PORT/admin/
  Metrics (managers):   http://127.0.0.1:$PORT/admin/metrics/
  Public status page:   http://127.0.0.1:$PORT/status/
  Demo logins (password: $DEMO_PASSWORD):
    manager   - Managers group, runs everything in the admin
    engineer  - Engineers group
    finance   - Finance group

  Celery worker + beat log: var/celery.log. Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}"
