"""The incident pages with what people really type: long notes kept whole, odd ids and NUL
characters refused or ignored, the runbook search working after a refused form."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import runbooks, services
from incidents.models import Runbook, RunbookStep, RunbookStepRecord
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def runbook():
    book = Runbook.objects.create(title="Disk full", when_to_use="Disk", tags="disk")
    for position, title in enumerate(("Free space", "Rotate logs", "Verify"), start=1):
        RunbookStep.objects.create(runbook=book, position=position, title=title)
    return book


@pytest.fixture
def incident(engineer, runbook):
    service = ServiceFactory(name="pg")
    runbook.services.add(service)
    return services.incident_declare(
        title="Disk at 95%", severity="SEV-2", declared_by=engineer, services=[service]
    )


@pytest.fixture
def signed_in(client, engineer):
    client.force_login(engineer)
    return client


def timeline(client, incident) -> str:
    return client.get(reverse("incidents:timeline", args=[incident.pk])).content.decode()


def test_a_long_note_and_update_are_kept_whole_on_the_timeline(signed_in, incident):
    note = "word " * 120 + "LAST-WORDS"
    act = reverse("incidents:act", args=[incident.pk, "note"])
    assert signed_in.post(act, {"text": note}).status_code == 302
    update = {
        "audience": "internal",
        "status": "Investigating",
        "impact": "slow " * 120,
        "action": "Rolling back ENDACTION",
        "eta": "30 min",
    }
    act = reverse("incidents:act", args=[incident.pk, "update"])
    assert signed_in.post(act, update).status_code == 302
    text = timeline(signed_in, incident)
    assert "LAST-WORDS" in text
    assert "ENDACTION" in text
    assert "30 min" in text


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "abc"])
def test_list_filters_ignore_ids_that_are_not_plain_numbers(signed_in, incident, value):
    response = signed_in.get(reverse("incidents:list"), {"severity": value})
    assert response.status_code == 200
    assert incident.title in response.content.decode()


def test_a_nul_character_in_the_runbook_search_is_ignored(signed_in, incident):
    page = signed_in.get(reverse("incidents:detail", args=[incident.pk]), {"runbook_q": "di\x00sk"})
    assert page.status_code == 200
    assert "Disk full" in page.content.decode()


def test_a_skip_note_with_a_nul_character_is_refused(signed_in, incident, runbook, engineer):
    run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
    step = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 1])
    response = signed_in.post(step, {"outcome": "skipped", "note": "x\x00y"}, follow=True)
    assert "Null characters are not allowed." in response.content.decode()
    assert not RunbookStepRecord.objects.exists()


def test_the_runbook_search_works_after_a_refused_form(signed_in, incident):
    refused = signed_in.post(reverse("incidents:act", args=[incident.pk, "note"]), {"text": ""})
    assert refused.status_code == 200
    detail = reverse("incidents:detail", args=[incident.pk])
    # The search goes to the incident page, not to the address the refused form posted to.
    assert f'action="{detail}#runbooks"' in refused.content.decode()


def test_runbook_ticks_show_their_day_as_well_as_their_time(signed_in, incident, runbook, engineer):
    run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
    runbooks.runbook_step_record(run=run, position=1, outcome="done", note="", by=engineer)
    record = RunbookStepRecord.objects.get()
    page = signed_in.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    # An incident can run past midnight: "Done 00:12" alone would not say which night.
    assert timezone.localtime(record.at).strftime("Done %Y-%m-%d %H:%M") in page
    assert timezone.localtime(run.started_at).strftime("started %Y-%m-%d %H:%M") in page


def test_the_list_shows_open_and_lately_resolved_incidents_by_default(signed_in, engineer):
    checklist = services.ResolutionChecklist.all_confirmed()
    ten_days_ago = timezone.now() - timedelta(days=10)
    lately, long_ago = (
        services.incident_declare(
            title=title, severity="SEV-2", declared_by=engineer, at=ten_days_ago
        )
        for title in ("RESOLVED-LATELY", "RESOLVED-LONG-AGO")
    )
    services.incident_resolve(incident=lately, by=engineer, checklist=checklist)
    services.incident_resolve(
        incident=long_ago,
        by=engineer,
        checklist=checklist,
        at=timezone.now() - timedelta(days=8),
    )
    services.incident_declare(title="STILL-OPEN", severity="SEV-3", declared_by=engineer)
    page = signed_in.get("/incidents/").content.decode()
    assert "RESOLVED-LATELY" in page
    assert "STILL-OPEN" in page
    assert "RESOLVED-LONG-AGO" not in page
    only_open = signed_in.get("/incidents/", {"show": "open"}).content.decode()
    assert "STILL-OPEN" in only_open
    assert "RESOLVED-LATELY" not in only_open


def test_the_runbook_search_reads_the_steps_too(runbook):
    RunbookStep.objects.create(
        runbook=runbook,
        position=4,
        title="Check the zq-vacuum-queue",
        body="Look for **zq-stuck-writer** sessions.",
        command="SELECT * FROM zq_lock_report",
    )
    for text in ("ZQ-VACUUM", "zq-stuck-writer", "zq_lock_report"):
        assert [r.title for r in runbooks.runbook_search(text=text)] == ["Disk full"]
    assert list(runbooks.runbook_search(text="nothing like it")) == []


def test_a_refused_skip_keeps_the_reason_beside_the_step(signed_in, incident, runbook, engineer):
    run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
    step = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 2])
    # A reason of spaces only passes the browser's "required" and is refused by the service.
    response = signed_in.post(step, {"outcome": "skipped", "note": "   "})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="step-error-{run.pk}-2"' in page
    assert 'aria-invalid="true"' in page
    # Someone ticked step 1 meanwhile: the refusal is shown beside it (its record now stands
    # where the skip form was).
    runbooks.runbook_step_record(run=run, position=1, outcome="done", by=engineer)
    step = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 1])
    page = signed_in.post(
        step, {"outcome": "skipped", "note": "REASON-TYPED: the replica is down"}
    ).content.decode()
    assert f'id="step-error-{run.pk}-1"' in page
    assert not RunbookStepRecord.objects.filter(run=run, outcome="skipped").exists()
    # A step that does not exist (a hand-made request) is refused at the top of the page.
    step = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 99])
    page = signed_in.post(step, {"outcome": "done"}, follow=True).content.decode()
    assert "The runbook has no step 99." in page


def test_the_live_timeline_sends_a_signed_out_page_to_the_login(client, incident):
    response = client.get(
        reverse("incidents:timeline", args=[incident.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/incidents/{incident.pk}/",
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == (f"/accounts/login/?next=/incidents/{incident.pk}/")


def test_a_signed_out_autosave_keeps_the_page_and_says_it_was_not_saved(client, db):
    from tests.postmortems.factories import PostmortemFactory

    postmortem = PostmortemFactory()
    response = client.post(
        reverse("postmortems:sections", args=[postmortem.pk]),
        {"summary": "Typed at 3 a.m."},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/postmortems/{postmortem.pk}/",
    )
    assert response.status_code == 200
    assert "HX-Redirect" not in response.headers
    assert "Not saved: you are signed out" in response.content.decode()
    assert f"/accounts/login/?next=/postmortems/{postmortem.pk}/" in response.content.decode()
