"""An engineer follows a runbook during a SEV-2 in a real Chromium."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from incidents.access import ENGINEERS
from incidents.models import Runbook, RunbookStep
from postmortems.models import Postmortem
from tests.incidents.factories import ProfileFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_engineer_follows_a_runbook_and_the_postmortem_lists_the_steps(
    page, live_server, log_in, shot
):
    team = TeamFactory(name="Platform")
    eddie = UserFactory(username="eddie", first_name="Eddie", last_name="Engineer")
    eddie.groups.add(Group.objects.get(name=ENGINEERS))
    ProfileFactory(user=eddie, time_zone="Europe/London", team=team)
    service = ServiceFactory(name="postgres-primary", team=team)
    runbook = Runbook.objects.create(title="Connection pool exhausted", owner_team=team)
    runbook.services.add(service)
    for position, (title, command) in enumerate(
        [
            ("Check current connections", "SELECT count(*) FROM pg_stat_activity;"),
            ("Identify long-running queries", ""),
            ("Kill idle connections", ""),
        ],
        start=1,
    ):
        RunbookStep.objects.create(runbook=runbook, position=position, title=title, command=command)

    log_in(page, eddie)
    page.get_by_role("link", name="Declare", exact=True).click()
    page.get_by_label("Title").fill("Database refuses connections")
    page.get_by_label("SEV-2 High").check()
    page.get_by_label("postgres-primary").check()
    page.get_by_role("button", name="Declare").click()

    runbooks = page.locator("#runbooks")
    expect(runbooks).to_contain_text("Suggested for the affected services")
    runbooks.get_by_role("button", name="Start runbook Connection pool exhausted").click()
    expect(page.locator("#runbooks .steps li")).to_have_count(3)
    expect(page.locator("#runbooks")).to_contain_text("SELECT count(*) FROM pg_stat_activity;")

    page.get_by_role("button", name="Mark step 1 done").click()
    page.get_by_role("button", name="Mark step 2 done").click()
    page.get_by_label("Why skip step 3?").fill("Pool recovered after the restart")
    page.get_by_role("button", name="Skip step 3").click()
    timeline = page.locator("#timeline-events")
    expect(timeline).to_contain_text("step 1 done: Check current connections")
    expect(timeline).to_contain_text("step 2 done: Identify long-running queries")
    expect(timeline).to_contain_text(
        "step 3 skipped: Kill idle connections (Pool recovered after the restart)"
    )
    shot(page, "runbook-followed")

    # Resolve: the SEV-2's post-mortem copies the timeline, runbook steps included.
    status = page.locator("#status-change")
    status.get_by_label("New status").select_option("resolved")
    for checkbox in status.get_by_role("checkbox").all():
        checkbox.check()
    status.get_by_role("button", name="Change status").click()
    page.get_by_role("link", name="Post-mortems").click()
    page.get_by_role("link", name="Database refuses connections").click()
    copy = page.locator("#timeline")
    expect(copy).to_contain_text("step 1 done: Check current connections")
    expect(copy).to_contain_text("step 2 done: Identify long-running queries")
    expect(copy).to_contain_text("step 3 skipped: Kill idle connections")
    shot(page, "postmortem-snapshot")
    texts = list(Postmortem.objects.get().timeline_entries.values_list("text", flat=True))
    assert sum("Runbook Connection pool exhausted, step" in text for text in texts) == 3
