#!/usr/bin/env bash
# make schema: write the OpenAPI schema to docs/openapi.yaml (or to $SCHEMA_OUT).
# Integer bounds in the schema come from the database backend's ranges, so the schema is
# generated for PostgreSQL (production) whatever the local default: the URL only selects the
# backend, nothing connects to it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
out=${SCHEMA_OUT:-docs/openapi.yaml}
ENV_FILE=/nonexistent DEBUG=true DATABASE_URL="postgres://schema@127.0.0.1:9/schema" \
    "$PY" manage.py spectacular --file "$out" --validate --fail-on-warn
