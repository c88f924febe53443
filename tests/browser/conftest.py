"""Browser tests: a real headless Chromium (Debian's package) driven by Playwright against
Django's live server. Each test saves screenshots under its Playwright output directory."""

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


PASSWORD = "correct horse battery staple"


@pytest.fixture
def log_in(live_server):
    """Log ``user`` in through the login form, as a person would."""

    def go(page, user, password: str = PASSWORD):
        user.set_password(password)
        user.save()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        return page

    return go


@pytest.fixture
def shot(output_path):
    """Save a full-page screenshot under the test's output directory."""

    def take(page, name: str):
        path = os.path.join(output_path, f"{name}.png")
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture(scope="session", autouse=True)
def _serialized_test_data(django_db_setup, django_db_blocker):
    """The migrations' data that serialized_rollback restores, as the test database was set
    up (read before Playwright starts, see below)."""
    from django.db import connections

    return {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }


@pytest.fixture(scope="session", autouse=True)
def _serialized_test_data_under_playwright(_serialized_test_data, playwright):
    """Playwright's sync API runs an event loop in this thread, and from then on Django looks
    its connections up in another context: a fresh connection object without the serialized
    data, so ``serialized_rollback`` silently restored nothing and a browser test that ran
    after another transactional test found an empty database. Give those connection objects
    the same data."""
    from django.db import connections

    for alias, contents in _serialized_test_data.items():
        connections[alias]._test_serialized_contents = contents
