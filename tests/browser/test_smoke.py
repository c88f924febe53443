import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_login_page_works_in_chromium(page, live_server, finance_user, log_in, shot):
    log_in(page, finance_user)
    assert page.get_by_role("heading", name="On-call compensation").is_visible()
    shot(page, "compensation")


@pytest.mark.parametrize("path", ["/incidents/", "/incidents/{pk}/", "/action-items/"])
def test_pages_fit_a_phone_without_scrolling_sideways(page, live_server, log_in, path):
    """At 375 px, 3 a.m. on a phone: long lines wrap and wide tables scroll inside
    themselves, so the page never scrolls sideways (the announcement opened too)."""
    from django.contrib.auth.models import Group

    from incidents import services
    from incidents.access import ENGINEERS
    from tests.incidents.factories import ServiceFactory, UserFactory

    eddie = UserFactory(username="eddie")
    eddie.groups.add(Group.objects.get(name=ENGINEERS))
    incident = services.incident_declare(
        title="Checkout returns 502 for every card payment in the EU region since the deploy",
        severity="SEV-1",
        declared_by=eddie,
        services=[ServiceFactory(name="checkout-web-frontend-eu-west-1-production")],
    )
    page.set_viewport_size({"width": 375, "height": 800})
    log_in(page, eddie)
    page.goto(live_server.url + path.format(pk=incident.pk))
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{path} is {width} px wide"


def test_what_needs_the_script_shows_only_with_it(browser, live_server, log_in):
    """With JavaScript off the page still works and offers nothing that does not: no "Copy"
    buttons, no "updates by itself"; with it on, both show."""
    from django.contrib.auth.models import Group

    from incidents import services
    from incidents.access import ENGINEERS
    from tests.incidents.factories import UserFactory

    eddie = UserFactory(username="eddie")
    eddie.groups.add(Group.objects.get(name=ENGINEERS))
    incident = services.incident_declare(title="Checkout down", severity="SEV-1", declared_by=eddie)
    for script in (False, True):
        context = browser.new_context(java_script_enabled=script)
        page = log_in(context.new_page(), eddie)
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        copy = page.get_by_role("button", name="Copy").first
        live = page.get_by_text("updates by itself")
        assert copy.is_visible() is script
        assert live.is_visible() is script
        assert page.locator("#channel").is_visible()  # the text to copy is there either way
        context.close()


def test_a_form_sent_back_with_errors_puts_the_focus_on_its_summary(page, live_server, log_in):
    from django.contrib.auth.models import Group

    from incidents.access import ENGINEERS
    from tests.incidents.factories import UserFactory

    eddie = UserFactory(username="eddie")
    eddie.groups.add(Group.objects.get(name=ENGINEERS))
    log_in(page, eddie)
    page.goto(f"{live_server.url}/incidents/declare/")
    page.get_by_label("Title").fill("Half filled in")
    page.get_by_role("button", name="Declare").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
