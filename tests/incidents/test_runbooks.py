"""The runbook library: versions, ticking steps during an incident, staleness, safe Markdown."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import runbooks, services
from incidents.markdown import render_markdown
from incidents.models import (
    IncidentRunbook,
    Notification,
    Runbook,
    RunbookStep,
    RunbookVersion,
    TimelineEventKind,
)
from incidents.tasks import remind_stale_runbooks
from tests.incidents.factories import (
    BASE_TIME,
    ProfileFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# The admin's add form for a two-step runbook.
CERTIFICATE_RUNBOOK = {
    "title": "Certificate expiry",
    "summary": "TLS certificates about to expire",
    "when_to_use": "",
    "tags": "tls",
    "is_active": "on",
    "steps-TOTAL_FORMS": "2",
    "steps-INITIAL_FORMS": "0",
    "steps-0-position": "1",
    "steps-0-title": "List certificates",
    "steps-0-command": "kubectl get certificates -A",
    "steps-1-position": "2",
    "steps-1-title": "Renew",
    "runs-TOTAL_FORMS": "0",
    "runs-INITIAL_FORMS": "0",
}

SECOND = timedelta(seconds=1)


@pytest.fixture
def runbook():
    runbook = Runbook.objects.create(
        title="Disk full on the primary", when_to_use="Disk usage alerts", tags="disk, postgres"
    )
    for position, title in enumerate(("Check disk usage", "Rotate WAL", "Add a volume"), 1):
        RunbookStep.objects.create(
            runbook=runbook, position=position, title=title, command=f"step-{position}"
        )
    return runbook


@pytest.fixture
def incident(engineer, runbook):
    service = ServiceFactory(name="postgres-primary")
    runbook.services.add(service)
    return services.incident_declare(
        title="Writes failing", severity="SEV-2", declared_by=engineer, services=[service]
    )


def test_the_seeded_runbooks_exist_after_migrate():
    titles = set(Runbook.objects.values_list("title", flat=True))
    assert {
        "Database connection pool exhaustion",
        "Kafka consumer lag",
        "Memory pressure on Kubernetes pods",
        "Database issues",
        "API failures",
        "Performance degradation",
    } <= titles
    pool = Runbook.objects.get(title="Database connection pool exhaustion")
    assert pool.steps.count() == 5
    assert pool.steps.get(position=1).command == "SELECT count(*) FROM pg_stat_activity;"
    assert pool.versions.get().number == 1


class TestFollowingARunbook:
    def test_start_tick_and_skip_are_on_the_timeline(self, engineer, incident, runbook):
        assert list(runbooks.runbooks_suggested(incident=incident)) == [runbook]
        run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        assert list(runbooks.runbooks_suggested(incident=incident)) == []
        runbooks.runbook_step_record(run=run, position=1, outcome="done", by=engineer)
        runbooks.runbook_step_record(run=run, position=2, outcome="done", by=engineer)
        runbooks.runbook_step_record(
            run=run, position=3, outcome="skipped", note="Disk is fine now", by=engineer
        )
        messages = list(
            incident.timeline.filter(kind=TimelineEventKind.RUNBOOK).values_list(
                "message", flat=True
            )
        )
        assert messages == [
            "Runbook started: Disk full on the primary (version 1, 3 steps)",
            "Runbook Disk full on the primary, step 1 done: Check disk usage",
            "Runbook Disk full on the primary, step 2 done: Rotate WAL",
            "Runbook Disk full on the primary, step 3 skipped: Add a volume (Disk is fine now)",
        ]
        assert all(
            e.author == engineer for e in incident.timeline.filter(kind=TimelineEventKind.RUNBOOK)
        )

    def test_refusals(self, engineer, incident, runbook):
        run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        with pytest.raises(ValidationError, match="already started"):
            runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        with pytest.raises(ValidationError) as error:
            runbooks.runbook_step_record(run=run, position=2, outcome="skipped", by=engineer)
        assert error.value.message_dict == {"note": [runbooks.SKIP_NEEDS_NOTE]}
        with pytest.raises(ValidationError, match="no step 9"):
            runbooks.runbook_step_record(run=run, position=9, outcome="done", by=engineer)
        runbooks.runbook_step_record(run=run, position=1, outcome="done", by=engineer)
        with pytest.raises(ValidationError, match="already marked done"):
            runbooks.runbook_step_record(
                run=run, position=1, outcome="skipped", by=engineer, note="x"
            )
        runbook.is_active = False
        runbook.save()
        other = services.incident_declare(title="x", severity="SEV-3", declared_by=engineer)
        with pytest.raises(ValidationError, match="retired"):
            runbooks.runbook_start(incident=other, runbook=runbook, by=engineer)

    def test_editing_a_runbook_later_does_not_change_what_the_incident_shows(
        self, engineer, incident, runbook, manager_client
    ):
        run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        # A manager rewrites step 2 and adds a step in the admin.
        response = manager_client.post(
            reverse("admin:incidents_runbook_change", args=[runbook.pk]),
            {
                "title": runbook.title,
                "summary": "",
                "when_to_use": runbook.when_to_use,
                "tags": runbook.tags,
                "is_active": "on",
                "steps-TOTAL_FORMS": "4",
                "steps-INITIAL_FORMS": "3",
                "steps-MIN_NUM_FORMS": "0",
                "steps-MAX_NUM_FORMS": "1000",
                **{
                    f"steps-{n}-{field}": value
                    for n, step in enumerate(runbook.steps.order_by("position"))
                    for field, value in {
                        "id": step.pk,
                        "runbook": runbook.pk,
                        "position": step.position,
                        "title": "Vacuum first" if step.position == 2 else step.title,
                        "body": "",
                        "command": step.command,
                    }.items()
                },
                "steps-3-runbook": runbook.pk,
                "steps-3-position": "4",
                "steps-3-title": "Tell the DBA",
                "runs-TOTAL_FORMS": "1",
                "runs-INITIAL_FORMS": "1",
                "runs-MIN_NUM_FORMS": "0",
                "runs-MAX_NUM_FORMS": "1000",
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        assert runbook.versions.count() == 2
        run.refresh_from_db()
        assert run.version.number == 1
        [shown] = runbooks.incident_runs(incident=incident)
        assert [step["title"] for step, _ in shown.steps_with_records] == [
            "Check disk usage",
            "Rotate WAL",
            "Add a volume",
        ]
        # A new incident gets the new version.
        second = services.incident_declare(title="Again", severity="SEV-3", declared_by=engineer)
        assert (
            runbooks.runbook_start(incident=second, runbook=runbook, by=engineer).version.number
            == 2
        )

    def test_snapshot_is_reused_while_nothing_changes(self, runbook):
        first = runbooks.runbook_snapshot(runbook=runbook)
        assert runbooks.runbook_snapshot(runbook=runbook) == first
        assert RunbookVersion.objects.filter(runbook=runbook).count() == 1

    def test_the_postmortem_timeline_copy_lists_the_ticks(self, engineer, incident, runbook):
        from postmortems.models import Postmortem

        run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        runbooks.runbook_step_record(run=run, position=1, outcome="done", by=engineer)
        runbooks.runbook_step_record(
            run=run, position=2, outcome="skipped", note="not needed", by=engineer
        )
        services.incident_resolve(
            incident=incident, by=engineer, checklist=services.ResolutionChecklist.all_confirmed()
        )
        texts = list(
            Postmortem.objects.get(incident=incident).timeline_entries.values_list(
                "text", flat=True
            )
        )
        assert "Runbook Disk full on the primary, step 1 done: Check disk usage" in texts
        assert "Runbook Disk full on the primary, step 2 skipped: Rotate WAL (not needed)" in texts

    def test_a_runbook_worked_after_the_resolution_reaches_the_postmortem(
        self, engineer, incident, runbook, django_capture_on_commit_callbacks
    ):
        # Resolve first, record the runbook after: the post-mortem's timeline, copied at the
        # resolution, still lists it, in time order and phase.
        from postmortems.models import Postmortem

        services.incident_resolve(
            incident=incident, by=engineer, checklist=services.ResolutionChecklist.all_confirmed()
        )
        postmortem = Postmortem.objects.get(incident=incident)
        # Copied once the tick is committed (its own transaction: no lock-order deadlock with
        # someone publishing the post-mortem).
        with django_capture_on_commit_callbacks(execute=True):
            run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        with django_capture_on_commit_callbacks(execute=True):
            runbooks.runbook_step_record(run=run, position=1, outcome="done", by=engineer)
        entries = list(postmortem.timeline_entries.order_by("occurred_at", "id"))
        assert [e.text for e in entries[-2:]] == [
            "Runbook started: Disk full on the primary (version 1, 3 steps)",
            "Runbook Disk full on the primary, step 1 done: Check disk usage",
        ]
        assert {e.phase for e in entries[-2:]} == {"resolved"}
        # Once published, the post-mortem stays as it was published.
        now = timezone.now()
        Postmortem.objects.filter(pk=postmortem.pk).update(
            status="published", draft_started_at=now, submitted_at=now, published_at=now
        )
        with django_capture_on_commit_callbacks(execute=True):
            runbooks.runbook_step_record(
                run=run, position=2, outcome="skipped", note="later", by=engineer
            )
        assert postmortem.timeline_entries.count() == len(entries)


class TestIncidentPage:
    def test_suggested_search_start_and_tick_from_the_page(
        self, client, engineer, incident, runbook
    ):
        client.force_login(engineer)
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert "Suggested for the affected services" in page
        found = client.get(
            reverse("incidents:detail", args=[incident.pk]), {"runbook_q": "kafka"}
        ).content.decode()
        assert "Kafka consumer lag" in found
        client.post(reverse("incidents:runbook_start", args=[incident.pk]), {"runbook": runbook.pk})
        run = IncidentRunbook.objects.get()
        step_url = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 1])
        client.post(step_url, {"outcome": "done"})
        response = client.post(
            reverse("incidents:runbook_step", args=[incident.pk, run.pk, 2]),
            {"outcome": "skipped", "note": ""},
            follow=True,
        )
        assert runbooks.SKIP_NEEDS_NOTE in response.content.decode()
        assert run.records.count() == 1
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert "step-1" in page  # the command to copy
        assert "Done" in page

    def test_finance_cannot_start_or_tick(self, client, finance_user, engineer, incident, runbook):
        run = runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        client.force_login(finance_user)
        url = reverse("incidents:runbook_step", args=[incident.pk, run.pk, 1])
        assert client.post(url, {"outcome": "done"}).status_code == 403
        assert not run.records.exists()


class TestStale:
    def test_stale_at_the_90_day_boundary(self, runbook):
        reviewed = datetime(2026, 1, 1, 12, tzinfo=UTC)
        runbooks.runbook_mark_reviewed(runbook=runbook, by=None, at=reviewed)
        limit = reviewed + timedelta(days=90)
        assert runbook not in runbooks.stale_runbooks(now=limit - SECOND)
        assert runbook in runbooks.stale_runbooks(now=limit)

    def test_never_reviewed_counts_from_creation(self, runbook):
        created = runbook.created_at
        assert runbook not in runbooks.stale_runbooks(now=created + timedelta(days=90) - SECOND)
        assert runbook in runbooks.stale_runbooks(now=created + timedelta(days=90))

    def test_monthly_reminder_once_per_team_and_month(self, runbook):
        manager = UserFactory(username="em")
        team = TeamFactory(name="Storage", engineering_manager=manager)
        runbook.owner_team = team
        runbook.save()
        reviewed = datetime(2026, 1, 1, 12, tzinfo=UTC)
        runbooks.runbook_mark_reviewed(runbook=runbook, by=None, at=reviewed)
        assert runbooks.remind_stale_runbooks(now=reviewed + timedelta(days=90) - SECOND) == 0
        assert remind_stale_runbooks((reviewed + timedelta(days=90)).isoformat()) == 1
        assert runbooks.remind_stale_runbooks(now=reviewed + timedelta(days=95)) == 0
        [reminder] = Notification.objects.filter(kind="stale_runbooks")
        assert reminder.recipient == manager
        assert "Disk full on the primary" in reminder.body
        # Next month: reminded again while it stays stale.
        assert runbooks.remind_stale_runbooks(now=datetime(2026, 5, 1, 8, tzinfo=UTC)) == 1
        runbooks.runbook_mark_reviewed(
            runbook=runbook, by=None, at=datetime(2026, 5, 2, tzinfo=UTC)
        )
        assert runbooks.remind_stale_runbooks(now=datetime(2026, 6, 1, 8, tzinfo=UTC)) == 0


def test_members_told_of_stale_runbooks_are_not_sent_to_the_admin(runbook, manager):
    # A team without an engineering manager: its members hear of it, and cannot open the
    # admin, so they are asked to get a manager to mark it reviewed.
    team = TeamFactory(name="Storage", engineering_manager=None)
    member = UserFactory(username="member")
    ProfileFactory(user=member, team=team)
    runbook.owner_team = team
    runbook.save()
    runbooks.remind_stale_runbooks(now=runbook.created_at + timedelta(days=90))
    [told] = Notification.objects.filter(kind="stale_runbooks", recipient=member)
    assert told.link == ""
    assert "ask a manager to mark it reviewed" in told.body
    # A team whose manager runs the admin gets the admin's list.
    team.engineering_manager = manager
    team.save()
    runbooks.remind_stale_runbooks(now=runbook.created_at + timedelta(days=125))
    [told] = Notification.objects.filter(kind="stale_runbooks", recipient=manager)
    assert told.link.endswith("/admin/incidents/runbook/?stale=yes")
    assert "mark it reviewed in the admin" in told.body


def test_the_stale_runbook_reminder_takes_the_same_queries_for_any_number_of_people(runbook):
    def count(members: int, month: int) -> int:
        team = TeamFactory(name=f"Storage {members}", engineering_manager=None)
        for n in range(members):
            ProfileFactory(user=UserFactory(username=f"m{members}-{n}"), team=team)
        Runbook.objects.filter(pk=runbook.pk).update(owner_team=team)
        with CaptureQueriesContext(connection) as queries:
            assert runbooks.remind_stale_runbooks(now=datetime(2027, month, 1, tzinfo=UTC))
        return len(queries.captured_queries)

    assert count(2, 3) == count(12, 4)


class TestMarkdown:
    @pytest.mark.parametrize(
        ("source", "forbidden"),
        [
            ("<script>alert(1)</script>", "<script"),
            ("[click](javascript:alert(1))", "javascript:"),
            ("[click](JavaScript:alert(1))", "avascript:"),
            ('<a href="javascript:alert(1)">x</a>', "<a href"),
            ("<img src=x onerror=alert(1)>", "<img"),
            ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
        ],
    )
    def test_no_script_no_raw_html_no_javascript_links(self, source, forbidden):
        assert forbidden not in str(render_markdown(source))

    def test_formatting_and_http_links_survive(self):
        html = str(render_markdown("**Restart** `pgbouncer`, see [docs](https://example.com/x)"))
        assert "<strong>Restart</strong>" in html
        assert "<code>pgbouncer</code>" in html
        assert 'href="https://example.com/x"' in html
        assert 'rel="noopener noreferrer nofollow"' in html


class TestAdmin:
    def test_changelist_filters_mark_reviewed_and_usage(
        self, manager_client, engineer, incident, runbook
    ):
        runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        url = reverse("admin:incidents_runbook_changelist")
        page = manager_client.get(url, {"stale": "yes"}).content.decode()
        assert manager_client.get(url, {"q": "disk"}).status_code == 200
        manager_client.post(url, {"action": "mark_reviewed", "_selected_action": [runbook.pk]})
        runbook.refresh_from_db()
        assert runbook.last_reviewed_at is not None
        page = manager_client.get(url, {"stale": "no"}).content.decode()
        assert "Disk full on the primary" in page
        change = manager_client.get(reverse("admin:incidents_runbook_change", args=[runbook.pk]))
        assert incident.reference in change.content.decode()

    def test_add_a_runbook_with_steps(self, manager_client):
        response = manager_client.post(reverse("admin:incidents_runbook_add"), CERTIFICATE_RUNBOOK)
        assert response.status_code == 302
        runbook = Runbook.objects.get(title="Certificate expiry")
        assert [s.title for s in runbook.steps.all()] == ["List certificates", "Renew"]
        assert runbook.versions.get().steps[0]["command"] == "kubectl get certificates -A"

    def test_steps_are_reordered_by_swapping_their_numbers(self, manager_client):
        add = CERTIFICATE_RUNBOOK
        assert manager_client.post(reverse("admin:incidents_runbook_add"), add).status_code == 302
        runbook = Runbook.objects.get(title="Certificate expiry")
        first, second = runbook.steps.order_by("position")
        swap = {
            **add,
            "steps-INITIAL_FORMS": "2",
            "steps-0-id": first.pk,
            "steps-0-runbook": runbook.pk,
            "steps-0-position": "2",
            "steps-1-id": second.pk,
            "steps-1-runbook": runbook.pk,
            "steps-1-position": "1",
        }
        url = reverse("admin:incidents_runbook_change", args=[runbook.pk])
        response = manager_client.post(url, swap)
        assert response.status_code == 302, response.context["errors"] if response.context else ""
        assert [s.title for s in runbook.steps.order_by("position")] == [
            "Renew",
            "List certificates",
        ]

    def test_changelist_query_count_is_constant(self, manager_client, engineer):
        url = reverse("admin:incidents_runbook_changelist")

        def count():
            with CaptureQueriesContext(connection) as ctx:
                assert manager_client.get(url).status_code == 200
            return len(ctx.captured_queries)

        small = count()
        team = TeamFactory(name="Ops")
        for n in range(25):
            runbook = Runbook.objects.create(title=f"Runbook {n}", owner_team=team)
            RunbookStep.objects.create(runbook=runbook, position=1, title="Do it")
            incident = services.incident_declare(
                title=f"i{n}", severity="SEV-3", declared_by=engineer, at=BASE_TIME
            )
            runbooks.runbook_start(incident=incident, runbook=runbook, by=engineer)
        assert count() == small
