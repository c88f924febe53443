#!/usr/bin/env bash
# make bench: start a throwaway PostgreSQL (as make test does), build a small and a large
# dataset in it and measure both; prints the table and writes bench/results/*.json.
# Sizes: SMALL=1000,50,12 LARGE=100000,500,12 (incidents,engineers,months); REPEAT=15.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_apt "postgresql:pg_bindir" "redis-server:command -v redis-server"
ensure_venv dev

tmp=$(mktemp -d -t incidentdesk-bench-XXXX)
cleanup() { stop_services; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_services "$tmp"
export SECRET_KEY=${SECRET_KEY:-bench-only-key}
"$PY" -m bench --small "${SMALL:-1000,50,12}" --large "${LARGE:-100000,500,12}" \
    --repeat "${REPEAT:-15}" "$@"
