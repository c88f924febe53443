"""The engineers' and finance's flows in a real headless Chromium against the live server."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services as incident_services
from incidents.access import ENGINEERS
from incidents.models import Incident
from oncall import services as oncall_services
from oncall.models import Handoff, Page
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus
from tests.incidents.factories import ProfileFactory, ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import RotationFactory, RotationMemberFactory, ShiftFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def member(username: str, first: str, last: str, zone: str, team):
    user = UserFactory(username=username, first_name=first, last_name=last)
    user.groups.add(Group.objects.get(name=ENGINEERS))
    ProfileFactory(user=user, time_zone=zone, team=team)
    return user


@pytest.fixture
def world():
    """A team with a rotation: Eddie is primary on call now, Olga takes over next."""
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    eddie = member("eddie", "Eddie", "Engineer", "Europe/London", team)
    olga = member("olga", "Olga", "Oncall", "Europe/Berlin", team)
    service = ServiceFactory(name="checkout-web", team=team)
    today = timezone.localdate()
    rotation = RotationFactory(
        team=team,
        name="Payments primary",
        starts_on=today - timedelta(days=1),
        handoff_weekday=(today - timedelta(days=1)).weekday(),
    )
    RotationMemberFactory(rotation=rotation, user=eddie, position=0)
    RotationMemberFactory(rotation=rotation, user=olga, position=1)
    oncall_services.rotation_generate_shifts(rotation=rotation, weeks=3)
    return {"eddie": eddie, "olga": olga, "service": service, "rotation": rotation}


def test_engineer_runs_an_incident_from_declaration_to_post_mortem(
    page, live_server, world, log_in, shot
):
    eddie = world["eddie"]
    log_in(page, eddie)

    # Declare a SEV-1; the declarer lands on the incident page.
    page.get_by_role("link", name="Declare", exact=True).click()
    page.get_by_label("Title").fill("Checkout returns 502")
    page.get_by_label("SEV-1 Critical").check()
    page.get_by_label("checkout-web").check()
    page.get_by_label("How was it detected?").select_option("alert")
    page.get_by_label("Customers are affected").check()
    page.get_by_label("Impact:", exact=True).fill("customers cannot pay")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Checkout returns 502")
    expect(page.locator("#incident-status")).to_have_text("Investigating")
    expect(page.locator("#update-countdown")).to_contain_text("in ")
    incident = Incident.objects.get()
    shot(page, "1-declared")

    # The declaration paged Eddie (primary on call): acknowledge it while it is on.
    page.get_by_role("link", name="My on-call").click()
    page.locator("#pages").get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messages")).to_contain_text("Page acknowledged")
    assert Page.objects.get(engineer=eddie).acknowledged_at is not None
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")

    # Take the incident commander role.
    page.locator("#take").get_by_label("Role").select_option("commander")
    page.locator("#take").get_by_role("button", name="Take this role").click()
    expect(page.locator("#roles")).to_contain_text("Eddie Engineer")

    # Two status updates in the Status / Impact / Action / ETA form.
    for action, eta in (("Rolling back payments-api", "30 minutes"), ("Rollback done", "10 min")):
        update = page.locator("#update")
        update.get_by_label("Action").fill(action)
        update.get_by_label("ETA").fill(eta)
        update.get_by_role("button", name="Post update").click()
        expect(page.locator("#timeline-events")).to_contain_text(action)
    assert incident.updates.count() == 2

    # Someone else adds a note: the open page shows it without being reloaded.
    page.evaluate("window.__notReloaded = true")
    incident_services.note_add(
        incident=incident, author=world["olga"], text="Error rate back to baseline"
    )
    expect(page.locator("#timeline-events")).to_contain_text(
        "Error rate back to baseline", timeout=15000
    )
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "2-updates-and-live-timeline")

    # Resolve with the runbook's checklist.
    status = page.locator("#status-change")
    status.get_by_label("New status").select_option("resolved")
    for label in (
        "Issue fixed",
        "Service health metrics returned to normal",
        "No error alerts firing",
        "Monitored for 30 minutes (stable)",
        "Customer impact verified resolved",
    ):
        status.get_by_label(label).check()
    status.get_by_role("button", name="Change status").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    shot(page, "3-resolved")

    # The SEV-1's post-mortem was scheduled: write it.
    page.get_by_role("link", name="Post-mortems").click()
    page.get_by_role("link", name="Checkout returns 502").click()
    page.get_by_role("button", name="Start writing (become the owner)").click()
    expect(page.locator("#pm-status")).to_have_text("Draft")
    expect(page.locator(".blameless")).to_contain_text("not people")
    sections = page.locator("#sections")
    sections.get_by_label("Summary").fill("Checkout failed for 40 minutes after a bad deploy.")
    sections.get_by_label("Impact").fill("All card payments failed.")
    sections.get_by_label("Root cause").fill("The deploy pipeline skipped the canary stage.")
    sections.get_by_label("What went well").fill("Rollback took 5 minutes.")
    sections.get_by_label("What could be improved").fill("Alert on 5xx sooner.")
    sections.get_by_role("button", name="Save sections").click()
    whys = page.locator("#whys")
    adding = whys.locator("form").filter(has=page.get_by_role("button", name="Add why"))
    for question, answer in (
        ("Why did checkout fail?", "payments-api v42 returned 502s."),
        ("Why was v42 deployed to everyone?", "The canary stage was skipped."),
    ):
        adding.get_by_label("Question").fill(question)
        adding.get_by_label("Answer").fill(answer)
        adding.get_by_role("button", name="Add why").click()
    expect(page.locator("#whys ol li")).to_have_count(2)
    items = page.locator("#items")
    for row, (title, kind) in enumerate(
        (("Restore the canary stage", "prevent"), ("Alert on 5xx rate", "detect"))
    ):
        items.get_by_label(f"Title of item {row + 1}").fill(title)
        items.get_by_label(f"Owner of item {row + 1}").fill("eddie")
        items.get_by_label(f"Due date of item {row + 1}").fill("2030-01-31")
        items.get_by_label(f"Kind of item {row + 1}").select_option(kind)
    items.get_by_role("button", name="Save action items").click()
    expect(page.locator("#items")).to_contain_text("Alert on 5xx rate")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#pm-status")).to_have_text("In review")
    postmortem = Postmortem.objects.get()
    assert postmortem.status == PostmortemStatus.IN_REVIEW
    assert postmortem.five_whys.count() == 2
    shot(page, "4-postmortem-submitted")

    # My action items: both are there; complete one.
    page.get_by_role("link", name="My action items").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Complete “Alert on 5xx rate”").click()
    expect(page.locator(".messages")).to_contain_text("is done")
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(1)
    # Completed by mistake? It is listed below with a button to reopen it.
    expect(page.get_by_role("button", name="Reopen “Alert on 5xx rate”")).to_be_visible()
    assert ActionItem.objects.get(title="Alert on 5xx rate").status == ActionItemStatus.DONE
    shot(page, "5-my-action-items")

    # Eddie's shift ends soon: write the handoff.
    page.get_by_role("link", name="My on-call").click()
    handoff = page.locator("#handoff")
    handoff.get_by_label("Summary").fill("Checkout incident resolved; watch the 5xx rate.")
    handoff.get_by_role("button", name="Save handoff summary").click()
    expect(page.locator(".messages")).to_contain_text("Handoff summary saved")
    assert Handoff.objects.get().summary.startswith("Checkout incident resolved")
    shot(page, "6-on-call")


def test_finance_downloads_the_compensation_csv(page, live_server, finance_user, log_in, shot):
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    ProfileFactory(user=ada)
    start = timezone.now() - timedelta(days=40)
    ShiftFactory(engineer=ada, starts_at=start, ends_at=start + timedelta(days=7))
    period_start = timezone.localdate(start).replace(day=1)
    log_in(page, finance_user)
    page.get_by_label("Start").fill(period_start.isoformat())
    page.get_by_label("End (inclusive)").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tbody")).to_contain_text("Ada Lovelace")
    shot(page, "compensation-report")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert download.suggested_filename.endswith(".csv")
    assert [r["username"] for r in rows] == ["ada"]
    assert rows[0]["stipend"] == "500.00"
    assert rows[0]["on_call_hours"] == "168.00"


def test_autosave_keeps_saving_as_the_author_types_on(page, live_server, world, log_in, shot):
    """Each autosave moves the page's starting point to what was saved, so the next one is not
    taken for someone else's change; another writer's change in between is refused and told."""
    from postmortems import services as postmortem_services

    eddie, olga = world["eddie"], world["olga"]
    incident = incident_services.incident_declare(
        title="Checkout returns 502", severity="SEV-1", declared_by=eddie
    )
    incident_services.incident_resolve(
        incident=incident, by=eddie, checklist=incident_services.ResolutionChecklist.all_confirmed()
    )
    postmortem = Postmortem.objects.get()
    postmortem_services.postmortem_start_draft(postmortem=postmortem, by=eddie)
    log_in(page, eddie)
    page.goto(f"{live_server.url}/postmortems/{postmortem.pk}/")
    summary = page.locator("#sections").get_by_label("Summary")
    saved = page.locator("#saved-summary")
    summary.fill("Checkout failed")
    expect(saved).to_contain_text("Saved at")
    saved.evaluate("box => box.replaceChildren()")
    summary.fill("Checkout failed for 40 minutes.")
    expect(saved).to_contain_text("Saved at")
    postmortem.refresh_from_db()
    assert postmortem.summary == "Checkout failed for 40 minutes."
    # Signing in again in another tab gives a new CSRF token: this page's saves still go.
    log_in(page.context.new_page(), eddie)
    saved.evaluate("box => box.replaceChildren()")
    summary.fill("Checkout failed for 40 minutes!")
    expect(saved).to_contain_text("Saved at")
    postmortem.refresh_from_db()
    assert postmortem.summary == "Checkout failed for 40 minutes!"
    # Olga changes it meanwhile; Eddie's next keystrokes are refused, with her text shown.
    postmortem.reviewers.add(olga)
    postmortem_services.postmortem_update_sections(
        postmortem=postmortem, by=olga, summary="Checkout failed for 40 minutes (EU only)."
    )
    summary.fill("Checkout failed for 40 minutes after the v42 deploy.")
    expect(saved).to_contain_text("Someone else changed this section")
    expect(saved).to_contain_text("(EU only)")
    shot(page, "autosave-refused")
    postmortem.refresh_from_db()
    assert postmortem.summary == "Checkout failed for 40 minutes (EU only)."
    # Handed to Olga while Eddie types: the server refuses him (403) and the page says so,
    # instead of leaving an earlier "Saved at" standing.
    postmortem.reviewers.remove(eddie)
    postmortem_services.postmortem_assign(postmortem=postmortem, owner=olga, by=olga)
    saved.evaluate("box => box.replaceChildren()")
    summary.fill("Checkout failed for 40 minutes after the v42 deploy, again.")
    expect(saved).to_contain_text("Not saved (the server answered 403)")
