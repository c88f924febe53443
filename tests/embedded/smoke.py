"""Run by ``tests/test_embedded_defaults.py`` in a process of its own, on a fresh SQLite file
(``make run``'s embedded default): migrate, load the demo, and open what each demo login
uses. Prints one line per page that did not answer 200 and exits 1 if there was any."""

import os
import sys

import django

PAGES = {
    "manager": [
        "/admin/",
        "/admin/incidents/incident/",
        "/admin/oncall/page/",
        "/admin/postmortems/actionitem/",
        "/admin/metrics/",
        "/oncall/compensation/",
        "/incidents/",
    ],
    "engineer": ["/incidents/", "/incidents/declare/", "/postmortems/", "/oncall/me/"],
    "finance": ["/oncall/compensation/"],
}
PUBLIC = ["/status/", "/status/feed.atom", "/healthz"]


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo", verbosity=0)
    failures = []
    for username, paths in PAGES.items():
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        for path in paths:
            status = client.get(path).status_code
            if status != 200:
                failures.append(f"{username} {path}: {status}")
    for path in PUBLIC:
        status = Client().get(path).status_code
        if status != 200:
            failures.append(f"signed out {path}: {status}")
    print("\n".join(failures) or "all pages answered 200")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
