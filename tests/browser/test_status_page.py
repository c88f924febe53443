"""The public status page in a real Chromium, without logging in."""

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import UpdateAudience
from tests.incidents.factories import ServiceFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_anyone_reads_the_status_page_and_follows_an_incident(page, live_server, shot):
    checkout = ServiceFactory(name="checkout-web", description="Checkout pages")
    ServiceFactory(name="search-api")
    who = UserFactory(username="zsecret", first_name="Zelda", last_name="Secretname")
    incident = services.incident_declare(
        title="TITLE-INTERNAL primary out of disk",
        severity="SEV-1",
        declared_by=who,
        services=[checkout],
    )
    for audience, text in (
        (UpdateAudience.STATUS_PAGE, "Checkout fails for some customers"),
        (UpdateAudience.INTERNAL, "INTERNAL-UPDATE the primary is out of disk"),
    ):
        services.status_update_post(
            incident=incident,
            author=who,
            status="Investigating",
            impact=text,
            action="Failing over",
            eta="30 minutes",
            audience=audience,
        )

    page.goto(f"{live_server.url}/status/")
    expect(page.get_by_role("status")).to_have_text("Major outage")
    expect(page.get_by_text("Checkout fails for some customers")).to_be_visible()
    body = page.content()
    for secret in ("INTERNAL", "Zelda", "Secretname", "zsecret"):
        assert secret not in body
    shot(page, "status-page")

    page.get_by_role("link", name="Major outage: checkout-web").click()
    expect(page).to_have_url(f"{live_server.url}/status/incidents/{incident.reference}/")
    expect(page.get_by_text("Failing over")).to_be_visible()
    shot(page, "status-incident")
