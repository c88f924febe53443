"""The demo's year of history is written in bulk; these tests hold it to what the services
would have written, and check that it makes the dashboard worth looking at."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from config.dashboard import build_review
from incidents import demo, demo_history, services
from incidents.metrics import Period
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentSequence,
    IncidentStatus,
    StatusUpdate,
    TimelineEventKind,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    list(demo.seed_people())
    list(demo_history.ensure_services())


@pytest.fixture
def now():
    return timezone.now()


def _events(incident):
    """The incident's timeline as comparable tuples (database ids left out)."""
    rows = []
    for event in incident.timeline.exclude(kind=TimelineEventKind.POSTMORTEM).order_by(
        "occurred_at", "id"
    ):
        payload = {k: v for k, v in event.payload.items() if k != "update_id"}
        rows.append((event.kind, event.message, event.occurred_at, event.author_id, payload))
    return rows


def _replay(item, update: StatusUpdate | None):
    """The same incident's life, through the services."""
    scenario, who = item.scenario, item.responder
    incident = services.incident_declare(
        title=scenario.title,
        severity=item.severity,
        declared_by=who,
        services=item.affected,
        detection_method=scenario.detection,
        customer_impact=scenario.customer_impact,
        impact_description=scenario.impact,
        started_at=item.started,
        detected_at=item.detected,
        at=item.detected,
    )
    services.incident_acknowledge(incident=incident, by=who, at=item.acknowledged)
    services.role_assign(
        incident=incident, role=IncidentRole.COMMANDER, user=who, by=who, at=item.acknowledged
    )
    if update is not None:
        services.status_update_post(
            incident=incident,
            author=who,
            status=update.status,
            impact=update.impact,
            action=update.action,
            eta=update.eta,
            audience=update.audience,
            at=update.posted_at,
        )
    services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.MITIGATED,
        by=who,
        mitigation_action=scenario.mitigation,
        at=item.mitigated,
    )
    services.incident_resolve(
        incident=incident,
        by=who,
        checklist=services.ResolutionChecklist.all_confirmed(),
        at=item.resolved,
    )
    services.incident_update_details(
        incident=incident,
        by=who,
        root_cause=scenario.root_cause,
        root_cause_category=scenario.category,
        at=item.resolved + timedelta(hours=2),
    )
    services.incident_change_status(
        incident=incident, to_status=IncidentStatus.CLOSED, by=who, at=item.closed
    )
    return Incident.objects.get(pk=incident.pk)


FIELDS = (
    "title",
    "severity_id",
    "status",
    "team_id",
    "detection_method",
    "customer_impact",
    "impact_description",
    "root_cause",
    "root_cause_category",
    "channel_name",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "acknowledged_by_id",
    "mitigated_at",
    "mitigation_action",
    "resolved_at",
    "closed_at",
    "declared_by_id",
    "declared_at",
)


def test_bulk_history_is_what_the_services_write(people, now):
    assert demo_history.write_history(now) > 70
    planned = demo_history.plan(now)
    with_update = next(p for p in planned if p.scenario.customer_impact)
    without = next(p for p in planned if not p.scenario.customer_impact)
    for item in (with_update, without):
        bulk = Incident.objects.filter(title=item.scenario.title, started_at=item.started).get()
        update = bulk.updates.first()
        replayed = _replay(item, update)
        assert [getattr(bulk, f) for f in FIELDS] == [getattr(replayed, f) for f in FIELDS]
        assert set(bulk.services.all()) == set(replayed.services.all())
        assert list(bulk.roles.values_list("role", "user", "assigned_at", "assigned_by")) == list(
            replayed.roles.values_list("role", "user", "assigned_at", "assigned_by")
        )
        assert _events(bulk) == _events(replayed)
        assert (update is not None) == item.scenario.customer_impact


def test_every_row_passes_the_models_validation_and_references_run_in_date_order(people, now):
    demo_history.write_history(now)
    history = list(Incident.objects.order_by("declared_at", "id"))
    assert len(history) > 70
    by_year: dict[str, list[int]] = {}
    for incident in history:
        incident.full_clean()
        _, year, number = incident.reference.split("-")
        by_year.setdefault(year, []).append(int(number))
        moments = dict(
            incident.timeline.filter(
                kind__in=[TimelineEventKind.DECLARED, TimelineEventKind.ACKNOWLEDGED]
            ).values_list("kind", "occurred_at")
        )
        assert moments[TimelineEventKind.DECLARED] == incident.declared_at
        assert moments[TimelineEventKind.ACKNOWLEDGED] == incident.acknowledged_at
        assert incident.status == IncidentStatus.CLOSED
        assert incident.root_cause_category
    for year, numbers in by_year.items():
        assert numbers == list(range(1, len(numbers) + 1))
        assert IncidentSequence.objects.get(year=int(year)).last_number == len(numbers)
    # A declare afterwards takes the next number, as if the history had been declared.
    latest_year = max(by_year)
    incident = services.incident_declare(title="After", severity="SEV-3", declared_by=None)
    if str(timezone.localtime(incident.declared_at).year) == latest_year:
        assert incident.reference == f"INC-{latest_year}-{len(by_year[latest_year]) + 1:04d}"


def test_deterministic_and_idempotent(people, now):
    first = [(p.scenario.title, p.started, p.responder) for p in demo_history.plan(now)]
    assert first == [(p.scenario.title, p.started, p.responder) for p in demo_history.plan(now)]
    assert list(demo_history.seed_history(now))
    count = Incident.objects.count()
    assert list(demo_history.seed_history(now)) == []
    assert Incident.objects.count() == count


def test_real_history_is_left_alone(people, now):
    services.incident_import(
        reference="OLD-1", title="Imported", severity="SEV-2", started_at=now - timedelta(days=40)
    )
    assert list(demo_history.seed_history(now)) == []
    assert Incident.objects.count() == 1


def test_the_year_makes_the_dashboard_worth_reading(settings):
    settings.ALLOW_DEMO_DATA = True
    call_command("seed_demo", stdout=io.StringIO())
    now = timezone.now()
    today = timezone.localdate(now)
    year = Period(today - timedelta(days=371), today + timedelta(days=1))
    review = build_review(period=year, team=None, service=None, now=now)
    figures = review.incidents
    assert figures.total.incidents > 70
    assert {f.name for f in figures.by_severity if f.incidents} == {"SEV-1", "SEV-2", "SEV-3"}
    assert figures.total.customer_impacting > 10
    assert 0 < figures.repeat_count < figures.total.incidents
    assert any(r.same_cause_as for r in figures.repeats)
    assert all(goal.met is not None for goal in figures.goals)
    # Teams got faster: the first quarter's mean MTTR is well above the last one's.
    quarters = [w for w in review.weeks if w.mean_time_to_resolve]
    sev2 = figures.levels.next_level.pk
    early = [w.mean_time_to_resolve[sev2] for w in quarters[:13] if sev2 in w.mean_time_to_resolve]
    late = [w.mean_time_to_resolve[sev2] for w in quarters[-13:] if sev2 in w.mean_time_to_resolve]
    assert sum(early, timedelta()) / len(early) > sum(late, timedelta()) / len(late)
    items = review.action_items
    assert items.created > 40
    assert 0.5 < items.completion_rate < 1
    assert items.open_count > 0
    publication = review.publication
    assert publication.on_time > publication.late > 0
    engineers = {row.name: row for row in review.burden.engineers}
    assert len(engineers) >= 5
    assert all(row.on_call_seconds > 0 for row in engineers.values() if row.pages)
    assert sum(row.overnight_pages for row in engineers.values()) > 5
    assert sum(row.weekend_pages for row in engineers.values()) > 5
