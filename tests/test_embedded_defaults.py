"""``make run`` serves the demo on the embedded defaults (a SQLite file, no servers). The suite
runs on PostgreSQL, so this runs the demo's logins on SQLite in a process of its own: a query
only PostgreSQL accepts would otherwise reach people as a 500 on their first try."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_logins_work_on_the_embedded_sqlite_default(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DJANGO_"))
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DEBUG": "true",
        "SECRET_KEY": "embedded-defaults-test",
        "ALLOWED_HOSTS": "testserver",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_URL": "memorymail://",
        "DEMO_PASSWORD": "embedded-defaults-test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.embedded.smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all pages answered 200" in done.stdout
