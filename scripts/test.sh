#!/usr/bin/env bash
# make test: install what is needed, start a throwaway PostgreSQL and Redis, run the whole
# suite against them, stop them whatever happens, and exit with pytest's status.
# DB=sqlite runs the suite on SQLite instead (Redis is still started for the Celery tests).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DB=${DB:-postgres}
ensure_apt "postgresql:pg_bindir" "redis-server:command -v redis-server" \
    "chromium:command -v chromium"
ensure_venv dev

tmp=$(mktemp -d -t incidentdesk-test-XXXX)
cleanup() { stop_services; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_services "$tmp"
if [ "$DB" = "sqlite" ]; then
    export DATABASE_URL="sqlite:///$tmp/test.sqlite3"
fi
export SECRET_KEY=${SECRET_KEY:-insecure-test-only-key}
export DEBUG=false
export ALLOWED_HOSTS="127.0.0.1,localhost,testserver"
export SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false
export STATIC_MANIFEST=false STATIC_ROOT="$tmp/static"
mkdir -p "$STATIC_ROOT"
# Browser tests use Debian's Chromium (Playwright cannot download browsers here) and touch the
# ORM from the test thread while Playwright runs an event loop.
export DJANGO_ALLOW_ASYNC_UNSAFE=true
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}
# Unit tests run Celery tasks inline; the integration tests start real workers without this.
export CELERY_TASK_ALWAYS_EAGER=true
export EMAIL_URL="smtp://127.0.0.1:1"   # tests use the locmem outbox; nothing may leave
log "running tests on ${DB}"
set +e
"$PY" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
fi
exit "$status"
