"""On-call demo rows (`manage.py seed_demo`): rotations with weeks of shifts, handoffs, pages
(some overnight), comp time, and a closed pay period. Idempotent."""

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Incident, Team
from oncall import services
from oncall.models import Page, PayPeriod, Rotation, RotationMember, Shift, ShiftRole

User = get_user_model()

ROTATIONS = [
    ("Platform", "Platform primary", "Europe/London", ["engineer", "bob", "manager"]),
    ("Payments", "Payments primary", "America/New_York", ["alice", "dana"]),
    ("Identity", "Identity primary", "Asia/Kolkata", ["chandra", "engineer"]),
]
WEEKS_BACK = 54  # shifts cover the incidents demo's year of history (on-call burden)
WEEKS_AHEAD = 8


def _monday(weeks_ago: int):
    today = timezone.localdate()
    return today - timedelta(days=today.weekday(), weeks=weeks_ago)


def seed_rotations() -> Iterator[str]:
    for team_name, name, zone, members in ROTATIONS:
        team = Team.objects.get(name=team_name)
        if Rotation.objects.filter(team=team, name=name).exists():
            continue
        rotation = Rotation.objects.create(
            team=team, name=name, time_zone=zone, starts_on=_monday(WEEKS_BACK)
        )
        for position, username in enumerate(members):
            RotationMember.objects.create(
                rotation=rotation, user=User.objects.get(username=username), position=position
            )
        created = []
        total = WEEKS_BACK + WEEKS_AHEAD
        for first in range(0, total, 52):  # the service generates at most 52 weeks at a time
            start = services.handoff_moment(rotation, first) + timedelta(hours=1)
            created += services.rotation_generate_shifts(
                rotation=rotation, weeks=min(52, total - first), now=start
            )
        yield f"rotation {rotation} with {len(created)} shifts"


def seed_overrides_and_handoffs() -> Iterator[str]:
    now = timezone.now()
    rotation = Rotation.objects.get(name="Platform primary")
    if Shift.objects.filter(rotation=rotation, source="override").exists():
        return
    future = (
        Shift.objects.filter(rotation=rotation, role=ShiftRole.PRIMARY, starts_at__gt=now)
        .order_by("starts_at")
        .first()
    )
    if future is not None:
        covering = User.objects.get(username="bob")
        if covering.pk == future.engineer_id:
            covering = User.objects.get(username="engineer")
        services.shift_override(
            shift=future,
            starts_at=future.starts_at + timedelta(days=2),
            ends_at=future.starts_at + timedelta(days=3),
            engineer=covering,
            reason="Swap for a family event",
        )
        yield f"override: {covering} covers a day of {future.engineer}'s shift"
    boundaries = (
        Shift.objects.filter(rotation=rotation, role=ShiftRole.PRIMARY, ends_at__lte=now)
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)[:3]
    )
    for handoff_at in boundaries:
        handoff = services.handoff_for(rotation=rotation, handoff_at=handoff_at)
        services.handoff_write(
            handoff=handoff,
            author=handoff.outgoing,
            summary="Quiet week. Kafka consumer lag alert is flaky; see the runbook. "
            "Disk on postgres-primary at 71%.",
            at=handoff_at - timedelta(hours=1),
        )
        services.handoff_acknowledge(
            handoff=handoff, by=handoff.incoming, at=handoff_at + timedelta(minutes=20)
        )
    if boundaries:
        yield f"{len(boundaries)} handoffs written and acknowledged"


def seed_pages() -> Iterator[str]:
    if Page.objects.exists():
        return
    now = timezone.now()
    engineer = User.objects.get(username="engineer")
    alice = User.objects.get(username="alice")
    chandra = User.objects.get(username="chandra")
    for incident in Incident.objects.select_related("severity", "acknowledged_by").order_by(
        "declared_at"
    ):
        paged = incident.declared_at
        acknowledged = (
            paged + timedelta(minutes=3)
            if incident.resolved_at or incident.acknowledged_at
            else None
        )
        responder = engineer if incident.severity.is_most_severe else alice
        if incident.acknowledged_by_id and incident.acknowledged_at and incident.resolved_at:
            # Whoever acknowledged a resolved incident was the one paged (the history).
            responder, acknowledged = incident.acknowledged_by, incident.acknowledged_at
        services.page_record(
            engineer=responder,
            paged_at=paged,
            incident=incident,
            source="incident",
            acknowledged_at=acknowledged,
            send=False,
        )
    # Overnight pages in each engineer's own zone, and one left unacknowledged.
    last_night = timezone.localdate() - timedelta(days=8)
    for user, hour in ((engineer, 23), (alice, 2), (chandra, 4)):
        local = datetime.combine(last_night, time(hour), tzinfo=user.profile.zone)
        services.page_record(
            engineer=user,
            paged_at=local,
            source="alert",
            message="Disk usage above 90%",
            acknowledged_at=local + timedelta(minutes=4),
            send=False,
        )
    services.page_record(
        engineer=alice,
        paged_at=now - timedelta(minutes=2),
        source="alert",
        message="payments-api p99 latency above 2 s",
    )
    yield f"{Page.objects.count()} pages (some overnight, one waiting for acknowledgement)"


def seed_pay_periods() -> Iterator[str]:
    if PayPeriod.objects.exists():
        return
    today = timezone.localdate()
    this_month = today.replace(day=1)
    previous = (this_month - timedelta(days=1)).replace(day=1)
    closed = services.pay_period_monthly(year=previous.year, month=previous.month)
    services.pay_period_close(pay_period=closed, by=User.objects.get(username="finance"))
    services.pay_period_monthly(year=this_month.year, month=this_month.month)
    services.comp_time_log(
        engineer=User.objects.get(username="engineer"),
        day=today - timedelta(days=3),
        hours=4,
        note="Recovering from the overnight page",
    )
    yield f"pay periods: {previous:%Y-%m} closed, {this_month:%Y-%m} open"


def seed() -> Iterator[str]:
    yield from seed_rotations()
    yield from seed_overrides_and_handoffs()
    yield from seed_pages()
    yield from seed_pay_periods()
