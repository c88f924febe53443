#!/usr/bin/env bash
# Lint and migration checks (CI runs this before make test).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv dev
log "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
log "migrations"
DEBUG=true "$PY" manage.py makemigrations --check --dry-run
