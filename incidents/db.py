"""Database helpers the selectors share."""

from contextlib import contextmanager

import psycopg
from django.db import connection
from django.db.backends.postgresql.base import CursorDebugWrapper


class _PreparedCursor(psycopg.Cursor):
    """A server-side-binding cursor whose every statement is prepared: PostgreSQL plans it
    once per connection and reuses the plan on each later run."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs the statement as written (with its placeholders): psycopg keeps no text of a
    prepared statement's run to read back."""

    @contextmanager
    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        with super().debug_sql(sql, params, use_last_executed_query=False, many=many):
            yield


@contextmanager
def prepared_cursor():
    """A cursor (PostgreSQL) for a fixed statement run on every request, whose planning
    would cost more than running it. Its statements go through Django's execute wrappers and
    query log like any other; parameters are server-side (``%(name)s`` with explicit casts
    where PostgreSQL cannot infer a type). With ``DATABASE_PREPARED=false`` (settings) the
    connection prepares nothing and the statement is planned on each run."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _PreparedCursor(connection.connection)
    if connection.queries_logged:
        cursor = _PreparedDebugWrapper(raw, connection)
    else:
        cursor = connection.make_cursor(raw)
    try:
        yield cursor
    finally:
        cursor.close()
