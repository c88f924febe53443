# Shared helpers for the Makefile's scripts. Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PYTHON=${PYTHON:-python3}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_venv [extra]: create .venv and install the project (with an extra such as "dev") when
# pyproject.toml changed since the last install.
ensure_venv() {
    local extra=${1:-}
    local spec="$ROOT"
    [ -n "$extra" ] && spec="$ROOT[$extra]"
    local stamp="$VENV/.installed${extra:+-$extra}"
    if [ ! -x "$PY" ]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV" || die "could not create a virtualenv with $PYTHON"
    fi
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        log "installing Python packages${extra:+ (with $extra)}"
        [ -x "$VENV/bin/uv" ] || "$VENV/bin/pip" install --quiet uv
        "$VENV/bin/uv" pip install --quiet --python "$PY" -e "$spec"
        touch "$stamp"
    fi
}

# ensure_apt PACKAGE:PROBE ...: install Debian packages whose probe command is missing.
ensure_apt() {
    local missing=() item pkg probe
    for item in "$@"; do
        pkg=${item%%:*}
        probe=${item#*:}
        if ! eval "$probe" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing system packages: ${missing[*]} (install them with apt-get as root)"
    fi
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# as_pg_user CMD...: PostgreSQL refuses to run as root, so root runs it as "postgres".
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# start_services DIR: a throwaway PostgreSQL cluster and Redis server on free loopback ports,
# with their data under DIR. Exports DATABASE_URL, CELERY_BROKER_URL and REDIS_URL.
start_services() {
    local dir=$1 bindir pg_port redis_port
    bindir=$(pg_bindir) || die "PostgreSQL binaries not found"
    chmod 755 "$dir"
    mkdir -p "$dir/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg"
    pg_port=$(free_port)
    redis_port=$(free_port)
    log "starting PostgreSQL on 127.0.0.1:$pg_port"
    as_pg_user "$bindir/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_pg_user "$bindir/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 30 \
        -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$dir/pg/server.log" >&2; die "PostgreSQL did not start"; }
    export PG_DATA_DIR="$dir/pg/data" PG_BINDIR="$bindir"
    "$bindir/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres incidentdesk
    log "starting Redis on 127.0.0.1:$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
        || die "Redis did not start"
    for _ in $(seq 50); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    export REDIS_PID_FILE="$dir/redis.pid"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/incidentdesk"
    export REDIS_URL="redis://127.0.0.1:$redis_port/0"
    export CELERY_BROKER_URL="redis://127.0.0.1:$redis_port/1"
}

stop_services() {
    if [ -n "${PG_DATA_DIR:-}" ] && [ -d "$PG_DATA_DIR" ]; then
        as_pg_user "$PG_BINDIR/pg_ctl" -D "$PG_DATA_DIR" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "${REDIS_PID_FILE:-}" ] && [ -f "$REDIS_PID_FILE" ]; then
        kill "$(cat "$REDIS_PID_FILE")" 2>/dev/null || true
    fi
}
