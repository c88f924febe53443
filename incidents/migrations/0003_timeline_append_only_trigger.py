"""On PostgreSQL the database itself refuses UPDATE and DELETE on timeline events, so no code
path (raw SQL, a future bulk tool) can rewrite history. TRUNCATE, used by test teardown and
by full resets, is not affected."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'incidents_timelineevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS incidents_timeline_append_only ON incidents_timelineevent;
CREATE TRIGGER incidents_timeline_append_only
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS incidents_timeline_append_only ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timeline_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_seed_severities")]

    operations = [migrations.RunPython(create, drop)]
