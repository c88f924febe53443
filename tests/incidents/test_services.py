from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services, signals
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentStatus,
    RoleAssignment,
    Severity,
    StatusUpdate,
    TimelineEvent,
    TimelineEventKind,
    UpdateAudience,
)
from incidents.services import ALLOWED_MOVES, ResolutionChecklist
from tests.incidents.factories import (
    BASE_TIME,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    severity,
)

pytestmark = pytest.mark.django_db

T0 = BASE_TIME


def declare(**overrides):
    values = {
        "title": "Checkout is down",
        "severity": severity("SEV-1"),
        "declared_by": overrides.pop("declared_by", None) or UserFactory(username="declarer"),
        "at": T0,
    }
    values.update(overrides)
    return services.incident_declare(**values)


def in_status(status: str) -> Incident:
    """An incident already in ``status`` with the moments that status implies."""
    extra = {}
    if status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        extra["resolved_at"] = T0 + timedelta(hours=1)
    if status == IncidentStatus.CLOSED:
        extra["closed_at"] = T0 + timedelta(hours=2)
    return IncidentFactory(status=status, started_at=T0, detected_at=T0, **extra)


class TestDeclare:
    def test_declare_creates_reference_channel_and_timeline(self):
        service = ServiceFactory(name="checkout-web")
        incident = declare(services=[service], summary="502s everywhere")

        assert incident.reference == "INC-2026-0001"
        assert incident.status == IncidentStatus.INVESTIGATING
        assert incident.channel_name == "#incident-2026-03-02-checkout-is-down"
        assert incident.team == service.team
        assert list(incident.services.all()) == [service]
        assert incident.detected_at == T0
        assert incident.started_at == T0
        [event] = incident.timeline.all()
        assert event.kind == TimelineEventKind.DECLARED
        assert event.occurred_at == T0
        assert event.author.username == "declarer"
        assert event.payload["severity"] == "SEV-1"
        assert event.payload["services"] == ["checkout-web"]

    def test_references_increase_and_restart_each_year(self):
        first = declare()
        second = declare(title="Second")
        next_year = declare(title="New year", at=T0.replace(year=2027))
        assert [first.reference, second.reference, next_year.reference] == [
            "INC-2026-0001",
            "INC-2026-0002",
            "INC-2027-0001",
        ]

    def test_year_and_channel_date_are_the_projects_whoever_declares(self, settings):
        """Someone in Auckland declaring at 12:00 UTC on 31 December is already in the new
        year; the reference and the channel still follow the project's zone (UTC here)."""
        settings.TIME_ZONE = "UTC"
        new_years_eve = datetime(2026, 12, 31, 12, tzinfo=UTC)
        with timezone.override(ZoneInfo("Pacific/Auckland")):
            incident = declare(at=new_years_eve)
        assert incident.reference == "INC-2026-0001"
        assert incident.channel_name == "#incident-2026-12-31-checkout-is-down"

    def test_reference_skips_numbers_taken_by_imported_incidents(self):
        IncidentFactory(reference="INC-2026-0001")
        assert declare().reference == "INC-2026-0002"

    def test_reference_skips_numbers_taken_in_another_letter_case(self):
        IncidentFactory(reference="inc-2026-0001")
        assert declare().reference == "INC-2026-0002"

    def test_started_before_detection_is_kept(self):
        incident = declare(
            started_at=T0 - timedelta(minutes=7), detected_at=T0 - timedelta(minutes=2)
        )
        assert incident.time_to_detect == timedelta(minutes=5)

    @pytest.mark.parametrize("bad", ["SEV-9", "", None, 999999])
    def test_unknown_severity_is_refused_and_nothing_is_written(self, bad):
        with pytest.raises(ValidationError) as error:
            declare(severity=bad)
        assert error.value.message_dict["severity"] == [services.UNKNOWN_SEVERITY]
        assert Incident.objects.count() == 0
        assert TimelineEvent.objects.count() == 0

    def test_severity_by_name_is_accepted(self):
        assert declare(severity="sev-2").severity.name == "SEV-2"

    def test_inactive_severity_is_refused(self):
        Severity.objects.filter(name="SEV-3").update(is_active=False)
        with pytest.raises(ValidationError, match="no longer in use"):
            declare(severity="SEV-3")

    def test_title_is_required(self):
        with pytest.raises(ValidationError) as error:
            declare(title="   ")
        assert error.value.message_dict["title"] == [services.TITLE_REQUIRED]
        assert Incident.objects.count() == 0

    def test_start_after_detection_is_refused(self):
        with pytest.raises(ValidationError) as error:
            declare(started_at=T0, detected_at=T0 - timedelta(minutes=1))
        assert error.value.message_dict["started_at"] == [services.DETECTED_BEFORE_STARTED]
        assert Incident.objects.count() == 0

    def test_detection_in_the_future_is_refused(self):
        with pytest.raises(ValidationError, match="future"):
            declare(detected_at=T0 + timedelta(minutes=1))

    def test_declaring_sends_incident_declared(self):
        received = []

        def receiver(sender, incident, by, at, **kwargs):
            received.append((incident.reference, by.username, at))

        signals.incident_declared.connect(receiver)
        try:
            declare()
        finally:
            signals.incident_declared.disconnect(receiver)
        assert received == [("INC-2026-0001", "declarer", T0)]


ALLOWED_PAIRS = [(src, dst) for src, targets in ALLOWED_MOVES.items() for dst in targets]
REFUSED_PAIRS = [
    (src, dst)
    for src in IncidentStatus.values
    for dst in IncidentStatus.values
    if dst not in ALLOWED_MOVES[src]
]


class TestLifecycle:
    @pytest.mark.parametrize(("from_status", "to_status"), ALLOWED_PAIRS)
    def test_every_allowed_move(self, from_status, to_status):
        incident = in_status(from_status)
        user = UserFactory()
        at = T0 + timedelta(hours=3)
        result = services.incident_change_status(
            incident=incident,
            to_status=to_status,
            by=user,
            checklist=ResolutionChecklist.all_confirmed(),
            at=at,
        )
        incident.refresh_from_db()
        assert incident.status == to_status == result.status
        event = incident.timeline.get(kind=TimelineEventKind.STATUS_CHANGED)
        assert event.payload["from"] == from_status
        assert event.payload["to"] == to_status
        assert event.author == user
        assert event.occurred_at == at

    @pytest.mark.parametrize(("from_status", "to_status"), REFUSED_PAIRS)
    def test_every_refused_move_changes_nothing(self, from_status, to_status):
        incident = in_status(from_status)
        with pytest.raises(ValidationError) as error:
            services.incident_change_status(
                incident=incident,
                to_status=to_status,
                by=UserFactory(),
                checklist=ResolutionChecklist.all_confirmed(),
                at=T0 + timedelta(hours=3),
            )
        assert error.value.messages  # a message a person can read
        incident.refresh_from_db()
        assert incident.status == from_status
        assert incident.timeline.count() == 0

    def test_messages_name_the_move(self):
        incident = in_status(IncidentStatus.INVESTIGATING)
        with pytest.raises(ValidationError) as error:
            services.incident_change_status(
                incident=incident, to_status=IncidentStatus.CLOSED, by=None
            )
        assert error.value.messages == ["An incident cannot move from Investigating to Closed."]

    def test_nothing_leaves_closed(self):
        incident = in_status(IncidentStatus.CLOSED)
        with pytest.raises(ValidationError) as error:
            services.incident_change_status(
                incident=incident, to_status=IncidentStatus.INVESTIGATING, by=None
            )
        assert error.value.messages == [services.CLOSED_IS_FINAL]

    def test_unknown_status_is_refused(self):
        incident = in_status(IncidentStatus.INVESTIGATING)
        with pytest.raises(ValidationError, match="Unknown status"):
            services.incident_change_status(incident=incident, to_status="exploded", by=None)

    def test_moments_are_stamped(self):
        incident = declare()
        user = UserFactory()
        incident = services.incident_change_status(
            incident=incident,
            to_status=IncidentStatus.MITIGATED,
            by=user,
            mitigation_action="Rolled back",
            at=T0 + timedelta(minutes=10),
        )
        assert incident.acknowledged_at == T0 + timedelta(minutes=10)
        assert incident.acknowledged_by == user
        assert incident.mitigated_at == T0 + timedelta(minutes=10)
        assert incident.mitigation_action == "Rolled back"
        incident = services.incident_resolve(
            incident=incident,
            by=user,
            checklist=ResolutionChecklist.all_confirmed(),
            at=T0 + timedelta(minutes=50),
        )
        assert incident.resolved_at == T0 + timedelta(minutes=50)
        assert incident.mitigated_at == T0 + timedelta(minutes=10)
        incident = services.incident_change_status(
            incident=incident, to_status=IncidentStatus.CLOSED, by=user, at=T0 + timedelta(days=1)
        )
        assert incident.closed_at == T0 + timedelta(days=1)
        kinds = list(incident.timeline.values_list("kind", flat=True))
        assert kinds == [
            TimelineEventKind.DECLARED,
            TimelineEventKind.ACKNOWLEDGED,
            TimelineEventKind.STATUS_CHANGED,
            TimelineEventKind.STATUS_CHANGED,
            # A resolved SEV-1 needs a post-mortem: the postmortems app's receiver of
            # incident_resolved schedules it and records that on the timeline.
            TimelineEventKind.POSTMORTEM,
            TimelineEventKind.STATUS_CHANGED,
        ]

    def test_only_a_mitigating_move_records_the_mitigation_action(self):
        incident = declare()
        user = UserFactory()
        for minutes, status, words in (
            (10, IncidentStatus.MITIGATED, "Rolled back"),
            # Back to investigating with words in the action box: that move's note.
            (20, IncidentStatus.INVESTIGATING, "Rollback did not help"),
        ):
            incident = services.incident_change_status(
                incident=incident,
                to_status=status,
                by=user,
                mitigation_action=words,
                at=T0 + timedelta(minutes=minutes),
            )
        assert incident.mitigation_action == "Rolled back"
        incident = services.incident_change_status(
            incident=incident,
            to_status=IncidentStatus.MITIGATED,
            by=user,
            mitigation_action="Failed over",
            at=T0 + timedelta(minutes=30),
        )
        assert incident.mitigation_action == "Failed over"

    def test_reopening_clears_resolution_but_keeps_history(self):
        incident = declare()
        incident = services.incident_resolve(
            incident=incident,
            by=None,
            checklist=ResolutionChecklist.all_confirmed(),
            at=T0 + timedelta(minutes=30),
        )
        incident = services.incident_change_status(
            incident=incident,
            to_status=IncidentStatus.INVESTIGATING,
            by=None,
            note="Errors are back",
            at=T0 + timedelta(minutes=40),
        )
        assert incident.resolved_at is None
        assert incident.is_open
        messages = list(incident.timeline.values_list("message", flat=True))
        assert "Status: Investigating → Resolved" in messages
        assert "Reopened: Resolved → Investigating. Errors are back" in messages

    def test_closing_a_resolved_incident_is_not_called_reopening(self):
        incident = declare()
        services.incident_resolve(
            incident=incident,
            by=None,
            checklist=ResolutionChecklist.all_confirmed(),
            at=T0 + timedelta(minutes=30),
        )
        services.incident_change_status(
            incident=incident, to_status=IncidentStatus.CLOSED, by=None, at=T0 + timedelta(days=1)
        )
        assert incident.timeline.order_by("-occurred_at", "-id").first().message == (
            "Status: Resolved → Closed"
        )

    def test_resolve_without_checklist_is_refused(self):
        incident = declare()
        with pytest.raises(ValidationError) as error:
            services.incident_resolve(incident=incident, by=None, checklist=None)
        [message] = error.value.message_dict["checklist"]
        for label in ResolutionChecklist.LABELS.values():
            assert label in message
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.INVESTIGATING
        assert incident.resolved_at is None
        assert incident.timeline.count() == 1

    def test_resolve_with_partial_checklist_names_what_is_missing(self):
        incident = declare()
        partial = ResolutionChecklist(issue_fixed=True, metrics_normal=True, no_alerts_firing=True)
        with pytest.raises(ValidationError) as error:
            services.incident_resolve(incident=incident, by=None, checklist=partial)
        [message] = error.value.message_dict["checklist"]
        assert "Monitored for 30 minutes (stable)" in message
        assert "Customer impact verified resolved" in message
        assert "Issue fixed" not in message

    def test_status_move_to_resolved_needs_the_checklist_too(self):
        incident = declare()
        with pytest.raises(ValidationError, match="checklist"):
            services.incident_change_status(
                incident=incident, to_status=IncidentStatus.RESOLVED, by=None
            )

    def test_resolving_sends_incident_resolved_with_checklist_in_timeline(self):
        incident = declare()
        received = []

        def receiver(sender, incident, by, at, **kwargs):
            received.append(incident.pk)

        signals.incident_resolved.connect(receiver)
        try:
            services.incident_resolve(
                incident=incident,
                by=None,
                checklist=ResolutionChecklist.all_confirmed(),
                at=T0 + timedelta(minutes=5),
            )
        finally:
            signals.incident_resolved.disconnect(receiver)
        assert received == [incident.pk]
        event = incident.timeline.get(kind=TimelineEventKind.STATUS_CHANGED)
        assert all(event.payload["checklist"].values())

    def test_status_change_before_start_is_refused(self):
        incident = declare()
        with pytest.raises(ValidationError):
            services.incident_change_status(
                incident=incident,
                to_status=IncidentStatus.IDENTIFIED,
                by=None,
                at=T0 - timedelta(minutes=1),
            )


class TestAcknowledge:
    def test_acknowledge_stamps_once(self):
        incident = declare()
        user = UserFactory(username="ack")
        incident = services.incident_acknowledge(
            incident=incident, by=user, at=T0 + timedelta(minutes=4)
        )
        assert incident.acknowledged_by == user
        assert incident.time_to_acknowledge == timedelta(minutes=4)
        with pytest.raises(ValidationError, match="already acknowledged"):
            services.incident_acknowledge(incident=incident, by=user)
        assert incident.timeline.filter(kind=TimelineEventKind.ACKNOWLEDGED).count() == 1


class TestSeverity:
    def test_change_severity_writes_timeline_and_signal(self):
        incident = declare(severity="SEV-3")
        received = []

        def receiver(sender, incident, from_severity, to_severity, **kwargs):
            received.append((from_severity.name, to_severity.name))

        signals.incident_severity_changed.connect(receiver)
        try:
            incident = services.incident_change_severity(
                incident=incident, severity="SEV-1", by=None, reason="All users affected"
            )
        finally:
            signals.incident_severity_changed.disconnect(receiver)
        assert incident.severity.name == "SEV-1"
        assert received == [("SEV-3", "SEV-1")]
        event = incident.timeline.get(kind=TimelineEventKind.SEVERITY_CHANGED)
        assert event.message == "Severity raised: SEV-3 → SEV-1. All users affected"

    def test_same_unknown_or_closed_is_refused(self):
        incident = declare(severity="SEV-2")
        with pytest.raises(ValidationError, match="already SEV-2"):
            services.incident_change_severity(incident=incident, severity="SEV-2", by=None)
        with pytest.raises(ValidationError) as error:
            services.incident_change_severity(incident=incident, severity="SEV-7", by=None)
        assert error.value.message_dict["severity"] == [services.UNKNOWN_SEVERITY]
        closed = in_status(IncidentStatus.CLOSED)
        with pytest.raises(ValidationError, match="closed"):
            services.incident_change_severity(incident=closed, severity="SEV-1", by=None)
        assert incident.timeline.filter(kind=TimelineEventKind.SEVERITY_CHANGED).count() == 0


class TestRoles:
    def test_assign_and_hand_over_keeps_history(self):
        incident = declare()
        first, second = UserFactory(username="first"), UserFactory(username="second")
        services.role_assign(
            incident=incident,
            role=IncidentRole.COMMANDER,
            user=first,
            by=first,
            at=T0 + timedelta(minutes=1),
        )
        services.role_assign(
            incident=incident,
            role=IncidentRole.COMMANDER,
            user=second,
            by=first,
            at=T0 + timedelta(minutes=30),
        )
        history = list(RoleAssignment.objects.filter(incident=incident).order_by("assigned_at"))
        assert [a.user.username for a in history] == ["first", "second"]
        assert history[0].relieved_at == T0 + timedelta(minutes=30)
        assert history[0].relieved_by == first
        assert history[1].relieved_at is None
        events = incident.timeline.exclude(kind=TimelineEventKind.DECLARED)
        assert [e.kind for e in events] == [
            TimelineEventKind.ROLE_ASSIGNED,
            TimelineEventKind.ROLE_HANDED_OVER,
        ]
        assert events[1].payload == {
            "role": "commander",
            "user": "second",
            "previous": "first",
        }

    def test_refusals(self):
        incident = declare()
        person = UserFactory()
        services.role_assign(incident=incident, role=IncidentRole.SCRIBE, user=person, by=None)
        with pytest.raises(ValidationError, match="already holds"):
            services.role_assign(incident=incident, role=IncidentRole.SCRIBE, user=person, by=None)
        with pytest.raises(ValidationError, match="Unknown role"):
            services.role_assign(incident=incident, role="chef", user=person, by=None)
        inactive = UserFactory(is_active=False)
        with pytest.raises(ValidationError, match="not an active user"):
            services.role_assign(
                incident=incident, role=IncidentRole.COMMANDER, user=inactive, by=None
            )
        with pytest.raises(ValidationError, match="Nobody holds"):
            services.role_relieve(incident=incident, role=IncidentRole.COMMANDER, by=None)
        assert RoleAssignment.objects.filter(incident=incident).count() == 1

    def test_relieve(self):
        incident = declare()
        person = UserFactory()
        services.role_assign(incident=incident, role=IncidentRole.SCRIBE, user=person, by=None)
        services.role_relieve(incident=incident, role=IncidentRole.SCRIBE, by=None)
        assert not RoleAssignment.objects.filter(relieved_at__isnull=True).exists()
        assert incident.timeline.filter(kind=TimelineEventKind.ROLE_RELIEVED).exists()


class TestStatusUpdates:
    def test_post_update(self):
        incident = declare(services=[ServiceFactory(name="checkout-web")])
        author = UserFactory()
        update = services.status_update_post(
            incident=incident,
            author=author,
            status="Investigating",
            impact="Checkout fails",
            action="Rolling back",
            eta="30 minutes",
            audience=UpdateAudience.STATUS_PAGE,
            at=T0 + timedelta(minutes=5),
        )
        assert update.as_text() == (
            "Status: Investigating\nImpact: Checkout fails\nAction: Rolling back\nETA: 30 minutes"
        )
        event = incident.timeline.get(kind=TimelineEventKind.STATUS_UPDATE)
        assert event.payload["update_id"] == update.pk
        assert event.payload["audience"] == "status_page"
        assert event.message.startswith("Status page update")

    def test_a_status_page_update_needs_a_public_service(self):
        # On no public service the incident is not on the status page: it would reach nobody.
        incident = declare(services=[ServiceFactory(name="admin-tool", is_public=False)])
        values = {"status": "Investigating", "impact": "x", "action": "y", "eta": "unknown"}
        with pytest.raises(ValidationError) as refused:
            services.status_update_post(
                incident=incident, author=None, audience=UpdateAudience.STATUS_PAGE, **values
            )
        assert "affects no public service" in refused.value.message_dict["audience"][0]
        assert not incident.updates.exists()

    @pytest.mark.parametrize("missing", ["status", "impact", "action", "eta"])
    def test_each_field_is_required(self, missing):
        incident = declare()
        values = {"status": "Investigating", "impact": "x", "action": "y", "eta": "unknown"}
        values[missing] = "  "
        with pytest.raises(ValidationError) as error:
            services.status_update_post(incident=incident, author=None, **values)
        assert error.value.message_dict == {missing: [services.UPDATE_FIELD_REQUIRED]}
        assert StatusUpdate.objects.count() == 0
        assert incident.timeline.count() == 1

    def test_unknown_audience_and_closed_incident(self):
        incident = declare()
        values = {"status": "s", "impact": "i", "action": "a", "eta": "e"}
        with pytest.raises(ValidationError) as error:
            services.status_update_post(
                incident=incident, author=None, audience="twitter", **values
            )
        assert error.value.message_dict == {"audience": [services.UNKNOWN_AUDIENCE]}
        with pytest.raises(ValidationError, match="closed"):
            services.status_update_post(
                incident=in_status(IncidentStatus.CLOSED), author=None, **values
            )


class TestNotesAndDetails:
    def test_note_and_correction(self):
        incident = declare()
        wrong = services.note_add(incident=incident, author=None, text="DB at 100% CPU")
        fixed = services.note_add(
            incident=incident,
            author=None,
            text="It was the replica, not the primary",
            corrects=wrong,
        )
        assert fixed.corrects == wrong
        assert list(wrong.corrections.all()) == [fixed]
        with pytest.raises(ValidationError) as error:
            services.note_add(incident=incident, author=None, text=" ")
        assert error.value.message_dict == {"text": [services.NOTE_REQUIRED]}

    def test_notes_are_allowed_on_closed_incidents(self):
        closed = in_status(IncidentStatus.CLOSED)
        services.note_add(incident=closed, author=None, text="Post-mortem scheduled")
        assert closed.timeline.count() == 1

    def test_note_cannot_correct_another_incidents_event(self):
        first, second = declare(), declare(title="Other")
        event = first.timeline.first()
        with pytest.raises(ValidationError, match="another incident"):
            services.note_add(incident=second, author=None, text="x", corrects=event)

    def test_update_details_records_only_real_changes(self):
        incident = declare()
        team = TeamFactory(name="Payments")
        service = ServiceFactory(name="payments-api", team=team)
        incident = services.incident_update_details(
            incident=incident,
            by=None,
            title="Checkout is down",  # unchanged
            users_affected=1200,
            revenue_impact=Decimal("1520.50"),
            team=team,
            services=[service],
        )
        event = incident.timeline.get(kind=TimelineEventKind.DETAILS_CHANGED)
        assert event.payload["changes"] == {
            "users_affected": {"from": None, "to": 1200},
            "revenue_impact": {"from": None, "to": "1520.50"},
            "team": {"from": None, "to": "Payments"},
            "services": {"from": [], "to": ["payments-api"]},
        }
        services.incident_update_details(incident=incident, by=None, users_affected=1200)
        assert incident.timeline.filter(kind=TimelineEventKind.DETAILS_CHANGED).count() == 1

    def test_update_details_refuses_status_and_bad_values(self):
        incident = declare()
        with pytest.raises(ValidationError, match="cannot be edited here: status"):
            services.incident_update_details(incident=incident, by=None, status="closed")
        with pytest.raises(ValidationError):
            services.incident_update_details(
                incident=incident, by=None, revenue_impact=Decimal("-1.00")
            )
        incident.refresh_from_db()
        assert incident.revenue_impact is None
