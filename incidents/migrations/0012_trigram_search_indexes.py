"""Trigram indexes for the searches managers and engineers type into incident lists.

Django's ``icontains`` on PostgreSQL is ``UPPER(column::text) LIKE UPPER('%term%')``: a
leading wildcard no B-tree can serve, so every search read the whole incidents table. GIN
trigram indexes on the same ``UPPER(...)`` expressions let PostgreSQL answer it from the
index, the same at a thousand incidents or a million. ``pg_trgm`` is a trusted extension
(PostgreSQL 13+): a database owner may create it without being a superuser. Other databases
(the SQLite quick loop) skip this migration."""

from django.db import migrations

INDEXES = {
    "incidents_incident_title_trgm": ("incidents_incident", "title"),
    "incidents_incident_reference_trgm": ("incidents_incident", "reference"),
    "incidents_incident_dedup_key_trgm": ("incidents_incident", "dedup_key"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)",
            params=None,
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0011_purge_idempotency_keys_task")]

    operations = [migrations.RunPython(create, drop)]
