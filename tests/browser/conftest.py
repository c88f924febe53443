"""Browser tests: a real headless Chromium (Debian's package) driven by Playwright against
Django's live server. Each test saves screenshots under its Playwright output directory.

Playwright's sync API keeps an asyncio event loop "running" in the main thread for as long as
Playwright is started. While it runs, Django's thread-critical connection storage (asgiref's
``Local``) switches from the thread's storage to a context-variable one, so the ORM gets a
second connection object without the test database's serialized contents. pytest-playwright
starts Playwright once per session, which left every later ``serialized_rollback`` test with
a flushed database (no severities, no groups). Here Playwright lives for one test only, and
the connections opened while its loop ran are closed before it stops.
"""

import os
import shutil

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

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
def browser_context_args(pytestconfig, _pw_artifacts_folder):
    # Replaces pytest-playwright's session-scoped one, which needs a session-wide Playwright.
    args = {"viewport": {"width": 1280, "height": 900}}
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        args["record_video_dir"] = _pw_artifacts_folder.name
    return args


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


# pytest-playwright's session-scoped fixtures, narrowed to one test (see the module docstring).


@pytest.fixture
def playwright(_pw_api_request_contexts):
    pw = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(pw)
    yield pw
    connections.close_all()  # the ones opened while Playwright's loop was running
    pw.stop()


@pytest.fixture
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture
def browser(browser_type, browser_type_launch_args):
    browser = browser_type.launch(**browser_type_launch_args)
    yield browser
    browser.close()
