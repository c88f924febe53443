from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Notification, TimelineEventKind
from oncall import selectors, services
from oncall.calendar import shifts_ical
from oncall.models import (
    CompensationPolicy,
    CompTimeTaken,
    Page,
    PageSource,
    Shift,
    ShiftRole,
    ShiftSource,
)
from tests.incidents.factories import ServiceFactory, TeamFactory, UserFactory, severity
from tests.oncall.factories import (
    PageFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
    engineer,
)

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def rotation_with(*usernames, **kwargs):
    rotation = RotationFactory(**kwargs)
    for position, username in enumerate(usernames):
        RotationMemberFactory(rotation=rotation, user=engineer(username), position=position)
    return rotation


class TestGenerateShifts:
    def test_nobody_is_primary_and_secondary_at_once_after_a_member_leaves(self):
        rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=6, now=now)
        cy = rotation.members.get(user__username="cy")
        cy.delete()
        services.rotation_member_left(rotation=rotation, user=cy.user, now=now)
        services.rotation_generate_shifts(rotation=rotation, weeks=6, now=now)
        for week in range(6):
            moment = services.handoff_moment(rotation, week) + timedelta(hours=1)
            holders = Shift.objects.filter(
                rotation=rotation, starts_at__lte=moment, ends_at__gt=moment
            ).values_list("role", "engineer__username")
            primary = [u for r, u in holders if r == ShiftRole.PRIMARY]
            secondary = [u for r, u in holders if r == ShiftRole.SECONDARY]
            assert len(primary) == 1
            assert primary != secondary

    def test_the_one_member_left_is_primary_not_only_secondary(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=4, now=now)
        ada = rotation.members.get(user__username="ada").user
        ada.is_active = False
        ada.save()
        services.rotation_generate_shifts(rotation=rotation, weeks=4, now=now)
        for week in range(4):
            moment = services.handoff_moment(rotation, week) + timedelta(days=3)
            if moment <= now:
                moment = now + timedelta(hours=1)
            assert (
                selectors.on_call_shift(
                    team=rotation.team, role=ShiftRole.PRIMARY, at=moment
                ).engineer.username
                == "bob"
            )

    def test_a_covering_engineer_switched_off_does_not_put_the_covered_one_back(self, manager):
        rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
        week = services.handoff_moment(rotation, 1)
        bobs = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY, starts_at=week)
        assert bobs.engineer.username == "bob"
        dee = engineer("dee")  # not in the rotation: cy is that week's secondary
        services.shift_override(
            shift=bobs, starts_at=week, ends_at=bobs.ends_at, engineer=dee, by=manager
        )
        dee.is_active = False
        dee.save()
        services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
        middle = week + timedelta(days=3)
        primary = selectors.on_call_shift(team=rotation.team, role=ShiftRole.PRIMARY, at=middle)
        assert primary.engineer.username == "ada"

    def test_a_switched_off_engineers_running_shift_ends_and_is_covered(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=2, now=now)
        ada = rotation.members.get(user__username="ada").user
        ada.is_active = False
        ada.save()
        services.rotation_generate_shifts(rotation=rotation, weeks=2, now=now)
        assert Shift.objects.get(engineer=ada, role=ShiftRole.PRIMARY).ends_at == now
        later = now + timedelta(hours=1)
        primary = selectors.on_call_shift(team=rotation.team, role=ShiftRole.PRIMARY, at=later)
        assert primary.engineer.username == "bob"

    def test_a_rotation_out_of_use_gets_no_shifts(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        rotation.is_active = False  # as the admin saves it, before retiring its shifts
        rotation.save()
        services.rotation_retire(rotation=rotation, now=datetime(2026, 3, 4, tzinfo=UTC))
        with pytest.raises(ValidationError, match="out of use"):
            services.rotation_generate_shifts(
                rotation=rotation, weeks=2, now=datetime(2026, 3, 4, tzinfo=UTC)
            )
        assert not Shift.objects.filter(rotation=rotation).exists()

    def test_a_switched_off_engineers_shifts_to_come_go_to_the_active_members(self):
        rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
        bob = rotation.members.get(user__username="bob").user
        bob.is_active = False
        bob.save()
        services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
        week_two = services.handoff_moment(rotation, 1) + timedelta(hours=1)
        primary = Shift.objects.get(
            rotation=rotation, role=ShiftRole.PRIMARY, starts_at__lte=week_two, ends_at__gt=week_two
        )
        assert primary.engineer.username in ("ada", "cy")
        assert not Shift.objects.filter(engineer=bob, starts_at__gte=now).exists()

    def test_weekly_shifts_in_member_order_with_secondary(self):
        rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
        created = services.rotation_generate_shifts(
            rotation=rotation, weeks=3, now=datetime(2026, 3, 4, 12, tzinfo=UTC)
        )
        primaries = [s for s in created if s.role == ShiftRole.PRIMARY]
        secondaries = [s for s in created if s.role == ShiftRole.SECONDARY]
        assert [s.engineer.username for s in primaries] == ["ada", "bob", "cy"]
        assert [s.engineer.username for s in secondaries] == ["bob", "cy", "ada"]
        assert primaries[0].starts_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
        assert primaries[-1].ends_at == datetime(2026, 3, 23, 9, tzinfo=UTC)
        assert all(s.source == ShiftSource.GENERATED for s in created)

    def test_handoff_stays_at_wall_clock_time_across_dst(self):
        rotation = rotation_with(
            "ada", "bob", starts_on=date(2026, 3, 2), time_zone="America/New_York"
        )
        services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        shifts = list(Shift.objects.filter(role=ShiftRole.PRIMARY).order_by("starts_at"))
        local = [s.starts_at.astimezone(NY) for s in shifts] + [shifts[-1].ends_at.astimezone(NY)]
        assert [(d.weekday(), d.hour, d.minute) for d in local] == [(0, 9, 0)] * 3
        assert (shifts[0].ends_at - shifts[0].starts_at) == timedelta(hours=167)

    def test_running_again_adds_only_what_is_missing_and_continues_the_order(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 4, tzinfo=UTC)
        )
        again = services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 4, tzinfo=UTC)
        )
        assert again == []
        later = services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 10, tzinfo=UTC)
        )
        assert [(s.role, s.engineer.username) for s in later] == [
            (ShiftRole.PRIMARY, "ada"),
            (ShiftRole.SECONDARY, "bob"),
        ]
        assert later[0].starts_at == datetime(2026, 3, 16, 9, tzinfo=UTC)

    def test_refusals(self):
        empty = RotationFactory()
        with pytest.raises(ValidationError, match="no active members"):
            services.rotation_generate_shifts(rotation=empty, weeks=2)
        with pytest.raises(ValidationError):
            services.rotation_generate_shifts(rotation=rotation_with("ada"), weeks=0)


class TestOverride:
    @pytest.fixture
    def shift(self):
        return ShiftFactory(
            engineer=engineer("ada"),
            starts_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
        )

    def pieces(self):
        return [
            (s.engineer.username, s.starts_at.day, s.starts_at.hour, s.ends_at.day, s.source)
            for s in Shift.objects.order_by("starts_at")
        ]

    def test_middle_override_splits_in_three_without_overlap(self, shift):
        bob = engineer("bob")
        override = services.shift_override(
            shift=shift,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 6, 9, tzinfo=UTC),
            engineer=bob,
            reason="Ada is ill",
        )
        assert override.covered_engineer.username == "ada"
        assert override.overrides == shift
        assert self.pieces() == [
            ("ada", 2, 9, 4, ShiftSource.MANUAL),
            ("bob", 4, 9, 6, ShiftSource.OVERRIDE),
            ("ada", 6, 9, 9, ShiftSource.MANUAL),
        ]

    def test_overriding_the_middle_of_an_override_keeps_whom_the_rest_covers(self, shift):
        bob, cy = engineer("bob"), engineer("cy")
        cover = services.shift_override(
            shift=shift,
            starts_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 7, 9, tzinfo=UTC),
            engineer=bob,
            reason="Ada is ill",
        )
        services.shift_override(
            shift=cover,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
            engineer=cy,
            reason="Bob's dentist",
        )
        rows = [
            (
                s.engineer.username,
                s.starts_at.day,
                s.ends_at.day,
                s.covered_engineer.username if s.covered_engineer else None,
                s.reason,
            )
            for s in Shift.objects.select_related("engineer", "covered_engineer").order_by(
                "starts_at"
            )
        ]
        assert rows == [
            ("ada", 2, 3, None, ""),
            ("bob", 3, 4, "ada", "Ada is ill"),
            ("cy", 4, 5, "bob", "Bob's dentist"),
            ("bob", 5, 7, "ada", "Ada is ill"),
            ("ada", 7, 9, None, "Rest of the shift after an override"),
        ]
        rest = Shift.objects.get(engineer=bob, starts_at__day=5)
        assert rest.source == ShiftSource.OVERRIDE
        assert rest.overrides_id == cover.overrides_id == shift.pk
        # Both of Bob's calendar entries still say whom he covers.
        feed = shifts_ical(user=bob, now=datetime(2026, 3, 5, tzinfo=UTC)).decode()
        assert feed.count("covering ada") == 2

    def test_override_at_the_start_and_whole_shift(self, shift):
        bob, cy = engineer("bob"), engineer("cy")
        services.shift_override(
            shift=shift,
            starts_at=shift.starts_at,
            ends_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
            engineer=bob,
        )
        shift.refresh_from_db()
        services.shift_override(
            shift=shift, starts_at=shift.starts_at, ends_at=shift.ends_at, engineer=cy
        )
        assert [p[0] for p in self.pieces()] == ["bob", "cy"]

    def test_refusals_change_nothing(self, shift):
        ada = shift.engineer
        bob = engineer("bob")
        cases = [
            (shift.starts_at - timedelta(hours=1), shift.starts_at + timedelta(hours=1), bob),
            (shift.starts_at + timedelta(hours=2), shift.starts_at + timedelta(hours=1), bob),
            (shift.starts_at, shift.ends_at, ada),
            (shift.starts_at, shift.ends_at, UserFactory(is_active=False)),
        ]
        for starts_at, ends_at, who in cases:
            with pytest.raises(ValidationError):
                services.shift_override(
                    shift=shift, starts_at=starts_at, ends_at=ends_at, engineer=who
                )
        assert self.pieces() == [("ada", 2, 9, 9, ShiftSource.MANUAL)]

    def test_the_secondary_cannot_also_take_the_primary(self):
        # One person in both roles at once: escalation would skip the backup.
        rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
        now = datetime(2026, 3, 3, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=1, now=now)
        primary = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY)
        secondary = Shift.objects.get(rotation=rotation, role=ShiftRole.SECONDARY)
        before = self.pieces()
        with pytest.raises(ValidationError) as error:
            services.shift_override(
                shift=primary,
                starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
                ends_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
                engineer=secondary.engineer,
            )
        assert "cannot be primary and secondary at once" in error.value.message_dict["engineer"][0]
        assert self.pieces() == before
        assert "override with “swap” ticked" in error.value.message_dict["engineer"][0]
        # With "swap", the two trade places for those hours.
        ada, bob = primary.engineer, secondary.engineer
        day = (datetime(2026, 3, 4, 9, tzinfo=UTC), datetime(2026, 3, 5, 9, tzinfo=UTC))
        with transaction.atomic():
            sid = transaction.savepoint()
            services.shift_override(
                shift=primary, starts_at=day[0], ends_at=day[1], engineer=bob, swap=True
            )
            middle = day[0] + timedelta(hours=12)
            on_call = selectors.on_call_at(team=rotation.team, at=middle)
            assert (on_call["primary"], on_call["secondary"]) == (bob, ada)
            before_day = day[0] - timedelta(hours=1)
            on_call = selectors.on_call_at(team=rotation.team, at=before_day)
            assert (on_call["primary"], on_call["secondary"]) == (ada, bob)
            transaction.savepoint_rollback(sid)
        # Someone else, or the same person outside the secondary's week, may cover.
        cy = next(
            m.user
            for m in rotation.members.all()
            if m.user_id not in (primary.engineer_id, secondary.engineer_id)
        )
        services.shift_override(
            shift=primary,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
            engineer=cy,
        )


def test_a_swap_tells_each_engineer_the_role_they_take_never_off_call():
    rotation = rotation_with("ada", "bob", "cy", starts_on=date(2026, 3, 2))
    with time_machine.travel(datetime(2026, 3, 3, tzinfo=UTC), tick=False):
        services.rotation_generate_shifts(rotation=rotation, weeks=1)
        primary = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY)
        ada, bob = primary.engineer, Shift.objects.get(role=ShiftRole.SECONDARY).engineer
        services.shift_override(
            shift=primary,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
            engineer=bob,
            swap=True,
        )
    told = {n.recipient: n for n in Notification.objects.filter(kind="shift_override")}
    assert set(told) == {ada, bob}  # one message each
    assert "You are secondary from Wed 04 Mar 09:00 UTC" in told[ada].body
    assert "takes your primary then" in told[ada].body
    assert "You are primary from Wed 04 Mar 09:00 UTC" in told[bob].body
    assert "takes your secondary then" in told[bob].body
    assert not any("off call" in n.body for n in told.values())


class TestWhoIsOnCall:
    def test_primary_and_secondary_at_a_moment(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        at = datetime(2026, 3, 10, 12, tzinfo=UTC)
        found = selectors.on_call_at(team=rotation.team, at=at)
        assert (found["primary"].username, found["secondary"].username) == ("bob", "ada")
        before = selectors.on_call_at(team=rotation.team, at=datetime(2026, 3, 1, tzinfo=UTC))
        assert before == {"primary": None, "secondary": None}
        edge = selectors.on_call_at(team=rotation.team, at=datetime(2026, 3, 9, 9, tzinfo=UTC))
        assert edge["primary"].username == "bob"  # [start, end): the new week has begun

    def test_on_call_now_by_team_in_two_queries(self, django_assert_num_queries):
        for n in range(3):
            rotation = rotation_with(f"a{n}", f"b{n}", team=TeamFactory(name=f"T{n}"))
            services.rotation_generate_shifts(
                rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
            )
        with django_assert_num_queries(2):
            rows = selectors.on_call_now_by_team(at=datetime(2026, 3, 3, tzinfo=UTC))
            names = [(r["team"].name, r["primary"].username) for r in rows]
        assert names == [("T0", "a0"), ("T1", "a1"), ("T2", "a2")]


class TestPaging:
    def test_declaring_an_incident_pages_the_services_teams_primary(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        service = ServiceFactory(team=rotation.team)
        at = datetime(2026, 3, 3, 23, 30, tzinfo=UTC)
        incident = incident_services.incident_declare(
            title="DB down", severity="SEV-1", declared_by=None, services=[service], at=at
        )
        page = Page.objects.get()
        assert page.engineer.username == "ada"
        assert page.incident == incident
        assert page.source == PageSource.INCIDENT
        assert page.paged_at == at
        assert page.ack_due_at == at + timedelta(minutes=5)
        assert incident.timeline.filter(kind=TimelineEventKind.PAGE).count() == 1
        # The page mail says what it is once, not the incident's line twice.
        told = Notification.objects.get(kind="page")
        assert told.body.count("DB down") == 1
        assert told.body.startswith(f"You are paged for {incident.reference} SEV-1: DB down.\n\n")

    def test_one_engineer_on_call_for_two_affected_teams_is_paged_once(self):
        ada = engineer("ada")
        services_hit = []
        for name in ("Checkout", "Payments"):
            rotation = RotationFactory(team=TeamFactory(name=name), starts_on=date(2026, 3, 2))
            RotationMemberFactory(rotation=rotation, user=ada, position=0)
            services.rotation_generate_shifts(
                rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
            )
            services_hit.append(ServiceFactory(team=rotation.team))
        incident = incident_services.incident_declare(
            title="x",
            severity="SEV-1",
            declared_by=None,
            services=services_hit,
            at=datetime(2026, 3, 4, 2, tzinfo=UTC),
        )
        page = Page.objects.get()
        assert page.engineer == ada
        assert page.team.name == "Checkout"
        messages = list(
            incident.timeline.filter(kind=TimelineEventKind.PAGE).values_list("message", flat=True)
        )
        assert "ada is on call for Payments too; already paged for Checkout" in messages

    def test_nobody_on_call_is_written_to_the_timeline(self):
        rotation = rotation_with("ada", starts_on=date(2026, 3, 2))
        service = ServiceFactory(team=rotation.team)
        incident = incident_services.incident_declare(
            title="x",
            severity="SEV-2",
            declared_by=None,
            services=[service],
            at=datetime(2026, 3, 3, tzinfo=UTC),
        )
        assert not Page.objects.exists()
        event = incident.timeline.get(kind=TimelineEventKind.PAGE)
        assert "Nobody is on call" in event.message

    def test_teams_without_a_rotation_are_not_paged(self):
        incident = incident_services.incident_declare(
            title="x", severity="SEV-2", declared_by=None, services=[ServiceFactory()]
        )
        assert not incident.timeline.filter(kind=TimelineEventKind.PAGE).exists()

    def test_acknowledging_a_page_acknowledges_the_incident(self):
        ada = engineer("ada")
        incident = incident_services.incident_declare(
            title="x", severity="SEV-1", declared_by=None, at=datetime(2026, 3, 3, tzinfo=UTC)
        )
        page = services.page_record(
            engineer=ada, incident=incident, paged_at=datetime(2026, 3, 3, tzinfo=UTC)
        )
        at = datetime(2026, 3, 3, 0, 3, tzinfo=UTC)
        services.page_acknowledge(page=page, by=ada, at=at)
        incident.refresh_from_db()
        assert incident.acknowledged_at == at
        assert incident.acknowledged_by == ada
        page.refresh_from_db()
        assert page.acknowledged_in_time is True

    def test_page_acknowledge_refusals(self):
        ada, bob = engineer("ada"), engineer("bob")
        page = PageFactory(engineer=ada, acknowledged_at=None)
        with pytest.raises(ValidationError, match="Only the paged engineer"):
            services.page_acknowledge(page=page, by=bob)
        with pytest.raises(ValidationError, match="before it was sent"):
            services.page_acknowledge(page=page, by=ada, at=page.paged_at - timedelta(seconds=1))
        services.page_acknowledge(page=page, by=ada, at=page.paged_at + timedelta(minutes=6))
        page.refresh_from_db()
        assert page.acknowledged_in_time is False
        with pytest.raises(ValidationError, match="already acknowledged"):
            services.page_acknowledge(page=page, by=ada)

    def test_a_page_older_than_a_week_can_no_longer_be_acknowledged(self):
        ada = engineer("ada")
        page = PageFactory(engineer=ada, acknowledged_at=None)
        week = services.PAGE_ACK_WINDOW
        with pytest.raises(ValidationError, match="more than 7 days ago"):
            services.page_acknowledge(
                page=page, by=ada, at=page.paged_at + week + timedelta(seconds=1)
            )
        services.page_acknowledge(page=page, by=ada, at=page.paged_at + week)
        page.refresh_from_db()
        assert page.acknowledged_at == page.paged_at + week


class TestHandoff:
    @pytest.fixture
    def handoff(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        return services.handoff_for(
            rotation=rotation, handoff_at=datetime(2026, 3, 9, 9, tzinfo=UTC)
        )

    def test_outgoing_writes_incoming_acknowledges(self, handoff):
        assert (handoff.outgoing.username, handoff.incoming.username) == ("ada", "bob")
        services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="Kafka flaky")
        handoff = services.handoff_acknowledge(handoff=handoff, by=handoff.incoming)
        assert handoff.summary == "Kafka flaky"
        assert handoff.acknowledged_at is not None

    def test_only_the_right_people(self, handoff):
        with pytest.raises(ValidationError, match="Only the outgoing engineer"):
            services.handoff_write(handoff=handoff, author=handoff.incoming, summary="x")
        with pytest.raises(ValidationError, match="not written the summary"):
            services.handoff_acknowledge(handoff=handoff, by=handoff.incoming)
        services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="ok")
        with pytest.raises(ValidationError, match="Only the incoming engineer"):
            services.handoff_acknowledge(handoff=handoff, by=handoff.outgoing)
        with pytest.raises(ValidationError):
            services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="  ")

    def test_an_override_at_the_boundary_hands_the_unwritten_handoff_to_who_is_on_call(
        self, handoff
    ):
        cy = engineer("cy")
        ada_shift = Shift.objects.get(
            rotation=handoff.rotation, role=ShiftRole.PRIMARY, ends_at=handoff.handoff_at
        )
        # Cy covers Ada's last evening, after the handoff row was made (an hour before).
        services.shift_override(
            shift=ada_shift,
            starts_at=handoff.handoff_at - timedelta(hours=12),
            ends_at=handoff.handoff_at,
            engineer=cy,
        )
        handoff.refresh_from_db()
        assert (handoff.outgoing.username, handoff.incoming.username) == ("cy", "bob")
        with pytest.raises(ValidationError, match="Only the outgoing engineer"):
            services.handoff_write(handoff=handoff, author=ada_shift.engineer, summary="x")
        services.handoff_write(handoff=handoff, author=cy, summary="Quiet night")
        # Once written, it stays between the two people it was written for.
        bob_shift = Shift.objects.get(
            rotation=handoff.rotation, role=ShiftRole.PRIMARY, starts_at=handoff.handoff_at
        )
        services.shift_override(
            shift=bob_shift,
            starts_at=handoff.handoff_at,
            ends_at=handoff.handoff_at + timedelta(hours=8),
            engineer=engineer("dee"),
        )
        again = services.handoff_for(rotation=handoff.rotation, handoff_at=handoff.handoff_at)
        assert (again.outgoing.username, again.incoming.username) == ("cy", "bob")

    def test_no_boundary(self, handoff):
        with pytest.raises(ValidationError, match="No handoff"):
            services.handoff_for(
                rotation=handoff.rotation, handoff_at=datetime(2026, 3, 10, tzinfo=UTC)
            )


class TestCompTimeAndPolicies:
    def test_comp_time_balance(self):
        ada = engineer("ada")
        PageFactory(engineer=ada, paged_at=datetime(2026, 3, 3, 23, tzinfo=UTC))
        PageFactory(engineer=ada, paged_at=datetime(2026, 3, 4, 23, tzinfo=UTC))
        PageFactory(engineer=ada, paged_at=datetime(2026, 3, 5, 12, tzinfo=UTC))
        services.comp_time_log(engineer=ada, day=date(2026, 3, 10), hours=Decimal("3.5"))
        balances = selectors.comp_time_balances(engineer_ids=[ada.pk], as_of=date(2026, 3, 31))
        assert balances[ada.pk] == {
            "granted": Decimal("8.00"),
            "taken": Decimal("3.50"),
            "balance": Decimal("4.50"),
        }
        with pytest.raises(ValidationError):
            services.comp_time_log(engineer=ada, day=date(2026, 3, 10), hours=Decimal("0"))

    def test_a_day_holds_at_most_24_hours_of_comp_time_all_entries_together(self):
        ada, bob = engineer("ada"), engineer("bob")
        day = date(2026, 3, 10)
        services.comp_time_log(engineer=ada, day=day, hours=Decimal("16"))
        with pytest.raises(ValidationError) as refused:
            services.comp_time_log(engineer=ada, day=day, hours=Decimal("8.25"))
        assert refused.value.message_dict["hours"] == [
            "2026-03-10 already has 16.00 h of comp time logged; at most 8.00 h more fit in "
            "the day."
        ]
        services.comp_time_log(engineer=ada, day=day, hours=Decimal("8"))  # exactly full
        services.comp_time_log(engineer=bob, day=day, hours=Decimal("8"))  # someone else's day
        services.comp_time_log(engineer=ada, day=day + timedelta(days=1), hours=Decimal("8"))
        assert CompTimeTaken.objects.filter(engineer=ada, date=day).count() == 2

    def test_superseding_a_policy_closes_the_current_one(self):
        new = services.compensation_policy_supersede(
            effective_from=date(2026, 6, 1),
            weekly_stipend=Decimal("600.00"),
            sev1_bonus=Decimal("250.00"),
            comp_hours_per_overnight_page=Decimal("4.00"),
            overnight_start=time(22),
            overnight_end=time(7),
        )
        old = CompensationPolicy.objects.exclude(pk=new.pk).get()
        assert old.effective_to == date(2026, 6, 1)
        assert new.effective_to is None
        assert severity("SEV-1").is_most_severe


class TestFoundInTheOnCallPagesReview:
    def _paged(self, at):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        incident = incident_services.incident_declare(
            title="DB down",
            severity="SEV-1",
            declared_by=None,
            services=[ServiceFactory(team=rotation.team)],
            at=at,
        )
        return rotation, incident, Page.objects.get()

    def test_acknowledging_the_incident_from_its_page_acknowledges_my_page(self):
        # The page e-mail links to the incident's page; its Acknowledge button answers it.
        at = datetime(2026, 3, 4, 2, tzinfo=UTC)
        _, incident, page = self._paged(at)
        incident_services.incident_acknowledge(
            incident=incident, by=page.engineer, at=at + timedelta(minutes=1)
        )
        page.refresh_from_db()
        assert page.acknowledged_at == at + timedelta(minutes=1)
        [row] = [r for r in compensation_report_march() if r.username == "ada"]
        assert (row.sev1_incidents, row.overnight_pages) == (1, 1)

    def test_acknowledging_the_incident_a_week_later_leaves_the_old_page_unanswered(self):
        at = datetime(2026, 3, 4, 2, tzinfo=UTC)
        _, incident, page = self._paged(at)
        incident_services.incident_acknowledge(
            incident=incident, by=page.engineer, at=at + timedelta(days=8)
        )
        page.refresh_from_db()
        assert page.acknowledged_at is None

    def test_someone_else_acknowledging_the_incident_leaves_my_page_to_me(self, manager):
        at = datetime(2026, 3, 4, 2, tzinfo=UTC)
        _, incident, page = self._paged(at)
        incident_services.incident_acknowledge(incident=incident, by=manager, at=at)
        page.refresh_from_db()
        assert page.acknowledged_at is None

    def test_a_switched_off_engineer_is_on_call_for_nobody(self):
        rotation = rotation_with("ada", "bob", starts_on=date(2026, 3, 2))
        services.rotation_generate_shifts(
            rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        ada = rotation.members.get(position=0).user
        ada.is_active = False
        ada.save()
        [row] = selectors.on_call_now_by_team(at=datetime(2026, 3, 3, 12, tzinfo=UTC))
        assert (row["primary"], row["secondary"].username) == (None, "bob")

    def test_an_acknowledged_page_says_when_in_my_zone_with_its_name(self):
        ada = engineer("ada", "Asia/Kolkata")
        page = PageFactory(engineer=ada, acknowledged_at=None)
        services.page_acknowledge(page=page, by=ada, at=page.paged_at + timedelta(minutes=1))
        shown = timezone.localtime(page.paged_at + timedelta(minutes=1)).strftime(
            "%Y-%m-%d %H:%M %Z"
        )
        with pytest.raises(ValidationError, match=f"already acknowledged at {shown}"):
            services.page_acknowledge(page=page, by=ada)


def compensation_report_march():
    return selectors.compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31)).rows
