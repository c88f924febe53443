"""Scheduling: a resolved incident that needs a post-mortem gets exactly one, with its deadlines
24/48/72 h after resolution. ``make test`` runs these on PostgreSQL."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents import services as incident_services
from incidents.models import IncidentStatus, TimelineEvent, TimelineEventKind
from incidents.services import ResolutionChecklist
from postmortems import services
from postmortems.models import Postmortem, PostmortemStatus, TimelinePhase
from tests.incidents.factories import BASE_TIME, EngineerFactory

pytestmark = pytest.mark.django_db

T0 = BASE_TIME
OK = ResolutionChecklist.all_confirmed()
RESOLVED_AT = T0 + timedelta(hours=2, minutes=17, seconds=31)


@pytest.fixture
def responder():
    return EngineerFactory(username="responder", first_name="Rita", last_name="Responder")


def declare(severity: str, *, customer_impact: bool = False, by=None):
    return incident_services.incident_declare(
        title=f"{severity} incident",
        severity=severity,
        declared_by=by,
        customer_impact=customer_impact,
        started_at=T0 - timedelta(minutes=3),
        detected_at=T0,
        at=T0,
    )


def resolve(incident, by, at=RESOLVED_AT):
    return incident_services.incident_resolve(incident=incident, by=by, checklist=OK, at=at)


def postmortem_events(incident):
    return list(incident.timeline.filter(kind=TimelineEventKind.POSTMORTEM))


class TestResolvingSchedules:
    @pytest.mark.parametrize(
        ("severity", "customer_impact"),
        [("SEV-1", False), ("SEV-2", False), ("SEV-3", True)],
    )
    def test_exactly_one_post_mortem_due_24_48_72_hours_after_resolution(
        self, responder, severity, customer_impact
    ):
        incident = declare(severity, customer_impact=customer_impact, by=responder)
        resolve(incident, responder)

        [postmortem] = Postmortem.objects.filter(incident=incident)
        assert postmortem.status == PostmortemStatus.SCHEDULED
        assert postmortem.scheduled_at == RESOLVED_AT
        assert postmortem.deadlines_from == RESOLVED_AT
        assert postmortem.draft_due_at == RESOLVED_AT + timedelta(hours=24)
        assert postmortem.review_due_at == RESOLVED_AT + timedelta(hours=48)
        assert postmortem.publish_due_at == RESOLVED_AT + timedelta(hours=72)
        assert postmortem.owner is None
        [event] = postmortem_events(incident)
        assert event.occurred_at == RESOLVED_AT
        assert event.author is None  # scheduled by the system
        assert event.payload["action"] == "scheduled"
        assert event.message.startswith("Post-mortem scheduled (")
        assert "draft due 2026-03-03 11:17 UTC" in event.message

    def test_the_reasons_are_recorded(self, responder):
        incident = declare("SEV-1", customer_impact=True, by=responder)
        resolve(incident, responder)
        [event] = postmortem_events(incident)
        assert event.payload["reasons"] == ["SEV-1 requires one", "customer impact"]

    def test_sev3_without_customer_impact_schedules_none(self, responder):
        incident = declare("SEV-3", by=responder)
        resolve(incident, responder)
        assert not Postmortem.objects.exists()
        assert postmortem_events(incident) == []

    def test_sev3_a_manager_required_is_scheduled_on_resolution(self, responder, manager):
        incident = declare("SEV-3", by=responder)
        assert services.postmortem_require(incident=incident, by=manager, at=T0) is None
        assert not Postmortem.objects.exists()
        resolve(incident, responder)
        postmortem = Postmortem.objects.get(incident=incident)
        assert postmortem.draft_due_at == RESOLVED_AT + timedelta(hours=24)

    def test_scheduling_an_unresolved_incident_that_needs_one_is_refused(self, responder):
        incident = declare("SEV-1", by=responder)
        with pytest.raises(ValidationError) as error:
            services.postmortem_schedule(incident=incident, at=T0)
        assert error.value.messages == [
            services.INCIDENT_NOT_RESOLVED.format(reference=incident.reference)
        ]


class TestReResolving:
    def reopen(self, incident, by, at):
        return incident_services.incident_change_status(
            incident=incident, to_status=IncidentStatus.INVESTIGATING, by=by, at=at
        )

    def test_while_scheduled_deadlines_are_recounted_from_the_latest_resolution(self, responder):
        incident = declare("SEV-2", by=responder)
        resolve(incident, responder)
        self.reopen(incident, responder, RESOLVED_AT + timedelta(hours=1))
        second = RESOLVED_AT + timedelta(hours=5)
        resolve(incident, responder, at=second)

        [postmortem] = Postmortem.objects.filter(incident=incident)
        assert postmortem.scheduled_at == RESOLVED_AT
        assert postmortem.deadlines_from == second
        assert postmortem.draft_due_at == second + timedelta(hours=24)
        assert postmortem.review_due_at == second + timedelta(hours=48)
        assert postmortem.publish_due_at == second + timedelta(hours=72)
        actions = [e.payload["action"] for e in postmortem_events(incident)]
        assert actions == ["scheduled", "recounted"]
        # The timeline copy is taken again and now includes the reopening.
        texts = list(postmortem.timeline_entries.values_list("text", flat=True))
        assert "Reopened: Resolved → Investigating" in texts

    def test_lowered_before_it_is_resolved_again_it_is_still_recounted(self, responder):
        # A severity lowered since never withdraws the post-mortem, so it is still recounted:
        # kept from the first resolution, its draft would be overdue on resolving.
        incident = declare("SEV-2", by=responder)
        resolve(incident, responder)
        self.reopen(incident, responder, RESOLVED_AT + timedelta(hours=1))
        incident_services.incident_change_severity(
            incident=incident, severity="SEV-3", by=responder
        )
        second = RESOLVED_AT + timedelta(days=2)
        resolve(incident, responder, at=second)
        [postmortem] = Postmortem.objects.filter(incident=incident)
        assert (postmortem.deadlines_from, postmortem.draft_due_at) == (
            second,
            second + timedelta(hours=24),
        )

    def test_once_drafting_started_deadlines_and_text_are_kept(self, responder):
        incident = declare("SEV-2", by=responder)
        resolve(incident, responder)
        postmortem = Postmortem.objects.get()
        services.postmortem_start_draft(
            postmortem=postmortem, by=responder, at=RESOLVED_AT + timedelta(minutes=30)
        )
        services.timeline_entry_add(
            postmortem=postmortem,
            by=responder,
            occurred_at=T0 + timedelta(minutes=1),
            text="Pager fired",
            at=RESOLVED_AT + timedelta(minutes=40),
        )
        entries_before = list(postmortem.timeline_entries.values_list("text", flat=True))
        self.reopen(incident, responder, RESOLVED_AT + timedelta(hours=1))
        resolve(incident, responder, at=RESOLVED_AT + timedelta(hours=5))

        [postmortem] = Postmortem.objects.filter(incident=incident)
        assert postmortem.status == PostmortemStatus.DRAFT
        assert postmortem.deadlines_from == RESOLVED_AT
        assert postmortem.draft_due_at == RESOLVED_AT + timedelta(hours=24)
        assert list(postmortem.timeline_entries.values_list("text", flat=True)) == entries_before
        assert [e.payload["action"] for e in postmortem_events(incident)] == ["scheduled"]

    def test_scheduling_again_is_idempotent(self, responder):
        incident = declare("SEV-1", by=responder)
        resolve(incident, responder)
        first = Postmortem.objects.get()
        again = services.postmortem_schedule(incident=incident, at=RESOLVED_AT + timedelta(hours=3))
        assert again.pk == first.pk
        assert Postmortem.objects.count() == 1
        assert len(postmortem_events(incident)) == 1


class TestRequire:
    def test_requiring_an_open_incident_sets_the_flag_through_the_incident_timeline(
        self, responder, manager
    ):
        incident = declare("SEV-3", by=responder)
        assert services.postmortem_require(incident=incident, by=manager, at=T0) is None
        incident.refresh_from_db()
        assert incident.postmortem_required is True
        event = incident.timeline.get(kind=TimelineEventKind.DETAILS_CHANGED)
        assert event.author == manager
        assert event.payload["changes"] == {"postmortem_required": {"from": False, "to": True}}

    def test_requiring_a_closed_incident_schedules_now_with_deadlines_from_now(
        self, responder, manager
    ):
        incident = declare("SEV-3", by=responder)
        resolve(incident, responder)
        incident_services.incident_change_status(
            incident=incident,
            to_status=IncidentStatus.CLOSED,
            by=responder,
            at=RESOLVED_AT + timedelta(days=1),
        )
        required_at = RESOLVED_AT + timedelta(days=5)
        postmortem = services.postmortem_require(incident=incident, by=manager, at=required_at)

        assert postmortem.scheduled_at == required_at
        # Counting from the resolution would make it overdue at birth; it counts from now.
        assert postmortem.deadlines_from == required_at
        assert postmortem.draft_due_at == required_at + timedelta(hours=24)
        assert postmortem.publish_due_at == required_at + timedelta(hours=72)
        [event] = postmortem_events(incident)
        assert event.author == manager
        assert "required by a manager" in event.message

    def test_requiring_twice_changes_nothing_more(self, responder, manager):
        incident = declare("SEV-3", by=responder)
        resolve(incident, responder)
        first = services.postmortem_require(
            incident=incident, by=manager, at=RESOLVED_AT + timedelta(hours=1)
        )
        second = services.postmortem_require(
            incident=incident, by=manager, at=RESOLVED_AT + timedelta(hours=2)
        )
        assert first.pk == second.pk
        second.refresh_from_db()
        assert second.deadlines_from == RESOLVED_AT + timedelta(hours=1)
        assert incident.timeline.filter(kind=TimelineEventKind.DETAILS_CHANGED).count() == 1
        assert len(postmortem_events(incident)) == 1

    def test_requiring_one_that_already_exists_returns_it(self, responder, manager):
        incident = declare("SEV-1", by=responder)
        resolve(incident, responder)
        existing = Postmortem.objects.get()
        assert services.postmortem_require(incident=incident, by=manager).pk == existing.pk
        assert Postmortem.objects.count() == 1


class TestPolicy:
    def test_a_policy_change_applies_to_post_mortems_scheduled_afterwards(self, responder, manager):
        first_incident = declare("SEV-1", by=responder)
        resolve(first_incident, responder)
        services.postmortem_policy_update(
            by=manager,
            draft_within=timedelta(hours=12),
            review_within=timedelta(hours=36),
            publish_within=timedelta(hours=60),
        )
        second_incident = declare("SEV-1", by=responder)
        resolve(second_incident, responder, at=RESOLVED_AT + timedelta(hours=1))

        first = Postmortem.objects.get(incident=first_incident)
        second = Postmortem.objects.get(incident=second_incident)
        assert first.publish_due_at == RESOLVED_AT + timedelta(hours=72)
        later = RESOLVED_AT + timedelta(hours=1)
        assert (second.draft_due_at, second.review_due_at, second.publish_due_at) == (
            later + timedelta(hours=12),
            later + timedelta(hours=36),
            later + timedelta(hours=60),
        )

    @pytest.mark.parametrize(
        ("hours", "message"),
        [
            ((0, 48, 72), services.POLICY_NOT_POSITIVE),
            ((24, 12, 72), services.POLICY_OUT_OF_ORDER),
            ((24, 48, 47), services.POLICY_OUT_OF_ORDER),
        ],
    )
    def test_invalid_policies_are_refused(self, manager, hours, message):
        draft, review, publish = (timedelta(hours=h) for h in hours)
        with pytest.raises(ValidationError) as error:
            services.postmortem_policy_update(
                by=manager, draft_within=draft, review_within=review, publish_within=publish
            )
        assert error.value.messages == [message]


class TestTimelineSnapshot:
    def test_the_incident_timeline_is_copied_with_phases(self, responder):
        incident = declare("SEV-1", by=responder)
        incident_services.incident_acknowledge(
            incident=incident, by=responder, at=T0 + timedelta(minutes=2)
        )
        incident_services.note_add(
            incident=incident,
            author=responder,
            text="Rollback started",
            at=T0 + timedelta(minutes=9),
        )
        incident_services.incident_change_status(
            incident=incident,
            to_status=IncidentStatus.MITIGATED,
            by=responder,
            mitigation_action="Rolled back",
            at=T0 + timedelta(minutes=20),
        )
        resolve(incident, responder)
        postmortem = Postmortem.objects.get()

        rows = list(postmortem.timeline_entries.values_list("occurred_at", "phase", "text"))
        assert rows == [
            (T0, TimelinePhase.DETECTED, "Declared SEV-1: SEV-1 incident"),
            (
                T0 + timedelta(minutes=2),
                TimelinePhase.ACKNOWLEDGED,
                "Acknowledged by Rita Responder",
            ),
            (T0 + timedelta(minutes=9), TimelinePhase.ACKNOWLEDGED, "Rollback started"),
            (
                T0 + timedelta(minutes=20),
                TimelinePhase.MITIGATED,
                # The runbook's "MITIGATED: [time] — [what action]".
                "Status: Investigating → Mitigated. Mitigation: Rolled back",
            ),
            (RESOLVED_AT, TimelinePhase.RESOLVED, "Status: Mitigated → Resolved"),
        ]
        # The post-mortem's own "scheduled" event is not part of the incident's story.
        assert not postmortem.timeline_entries.filter(text__startswith="Post-mortem").exists()

    def test_editing_the_copy_never_touches_the_incident_timeline(self, responder):
        incident = declare("SEV-1", by=responder)
        resolve(incident, responder)
        postmortem = Postmortem.objects.get()
        before = list(TimelineEvent.objects.values_list("id", "occurred_at", "message"))
        services.postmortem_start_draft(postmortem=postmortem, by=responder)
        entry = postmortem.timeline_entries.first()
        services.timeline_entry_update(
            entry=entry, by=responder, text="Alert fired for checkout 5xx", at=RESOLVED_AT
        )
        services.timeline_entry_remove(entry=postmortem.timeline_entries.last(), by=responder)
        assert list(TimelineEvent.objects.values_list("id", "occurred_at", "message")) == before
        entry.refresh_from_db()
        assert entry.text == "Alert fired for checkout 5xx"
        assert entry.source_event.message == "Declared SEV-1: SEV-1 incident"


def test_ticking_the_flag_on_a_resolved_incident_schedules_at_once(manager):
    incident = incident_services.incident_declare(
        title="Minor glitch", severity="SEV-3", declared_by=manager
    )
    incident = incident_services.incident_resolve(
        incident=incident, by=manager, checklist=ResolutionChecklist.all_confirmed()
    )
    assert not Postmortem.objects.filter(incident=incident).exists()
    incident_services.incident_update_details(
        incident=incident, by=manager, postmortem_required=True
    )
    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_raising_a_resolved_incident_to_a_level_that_needs_one_schedules_it(responder):
    incident = resolve(declare("SEV-3", by=responder), responder)
    assert not Postmortem.objects.filter(incident=incident).exists()
    raised_at = RESOLVED_AT + timedelta(days=2)
    incident_services.incident_change_severity(
        incident=incident,
        severity="SEV-1",
        by=responder,
        reason="Payments were lost after all",
        at=raised_at,
    )
    [postmortem] = Postmortem.objects.filter(incident=incident)
    # Raised after the fact, it does not start overdue: the deadlines count from the raise.
    assert postmortem.draft_due_at == raised_at + timedelta(hours=24)
    # Lowering it again keeps the post-mortem that was scheduled, and raising it again does
    # not schedule a second one.
    incident_services.incident_change_severity(incident=incident, severity="SEV-3", by=responder)
    incident_services.incident_change_severity(incident=incident, severity="SEV-2", by=responder)
    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_raising_an_open_incident_schedules_nothing_until_it_is_resolved(responder):
    incident = declare("SEV-3", by=responder)
    incident_services.incident_change_severity(incident=incident, severity="SEV-1", by=responder)
    assert not Postmortem.objects.exists()
    resolve(incident, responder)
    assert Postmortem.objects.filter(incident=incident).count() == 1
