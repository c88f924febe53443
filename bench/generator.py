"""A deterministic generator of realistic history at scale, through bulk inserts.

The same seed and end date give the same data. Everything the product needs is there: teams and
services, engineers in several time zones, weekly rotations with overrides, incidents in
realistic severity proportions with ~10 timeline events each, roles and status updates,
post-mortems (with 5 Whys, timeline copies and action items) for the severe ones, and pages
(about a third of them overnight). Invariants the services keep (reference numbering, moments
in order, one active holder per role) hold; signals are not sent and notifications are not
recorded: this is history, not live traffic.
"""

import random
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.text import slugify

from incidents.access import ENGINEERS
from incidents.models import (
    DetectionMethod,
    Incident,
    IncidentRole,
    IncidentSequence,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Profile,
    RoleAssignment,
    RootCauseCategory,
    Runbook,
    RunbookStep,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
    TimelineEventKind,
    UpdateAudience,
)
from incidents.models.incident import OPEN_STATUSES
from oncall.models import Page, PageSource, Rotation, RotationMember, Shift, ShiftRole, ShiftSource
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemStatus,
    PostmortemTimelineEntry,
    TimelinePhase,
)

User = get_user_model()
BATCH = 2000
PREFIX = "gen"

ZONES = [
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
]
FIRST = ["Ada", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
LAST = ["Ito", "Khan", "Lopez", "Meyer", "Novak", "Okafor", "Park", "Rossi", "Silva", "Tanaka"]
TEAM_NAMES = ["Platform", "Payments", "Identity", "Search", "Data", "Mobile", "Growth", "Edge"]
SERVICE_KINDS = ["api", "worker", "db", "web", "queue"]
PROBLEMS = [
    "elevated 5xx errors",
    "latency above SLO",
    "connection pool exhausted",
    "consumer lag growing",
    "pods OOM-killed",
    "certificate expired",
    "disk almost full",
    "login failures",
    "webhook deliveries delayed",
    "cache hit rate collapsed",
]
SEVERITY_WEIGHTS = {1: 5, 2: 25, 3: 70}  # by rank: realistic proportions


@dataclass(frozen=True)
class Plan:
    incidents: int
    engineers: int
    months: int
    seed: int
    until: date
    # Incidents still open at the end (the sweeps' work): by default a realistic few.
    open_incidents: int | None = None


def _batched(rows, size: int = BATCH):
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Generator:
    def __init__(self, plan: Plan, progress: Callable[[str], None]):
        self.plan = plan
        self.rng = random.Random(plan.seed)  # noqa: S311 - demo data, not secrets
        self.progress = progress
        self.created: Counter[str] = Counter()
        self.end = datetime.combine(plan.until, datetime.min.time(), tzinfo=UTC)
        self.start = self.end - timedelta(days=30 * plan.months)
        self.began = time.monotonic()

    def say(self, message: str) -> None:
        self.progress(f"[{time.monotonic() - self.began:7.1f} s] {message}")

    def insert(self, model, rows, label: str) -> list:
        # Creation stamps (``auto_now_add``) would be the generation's clock: an event
        # "recorded" months after it happened, and two runs of one seed differing. They are
        # written from the data instead: when the event happened, when the shift began, else
        # the start of the history.
        stamps = [f for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False)]
        for stamp in stamps:
            stamp.auto_now_add = False
        created = []
        try:
            for chunk in _batched(rows):
                for row in chunk:
                    for stamp in stamps:
                        if getattr(row, stamp.attname) is None:
                            setattr(row, stamp.attname, self._stamp_for(row))
                created.extend(model.objects.bulk_create(chunk, batch_size=BATCH))
        finally:
            for stamp in stamps:
                stamp.auto_now_add = True
        self.created[label] += len(created)
        return created

    def _stamp_for(self, row) -> datetime:
        for name in ("occurred_at", "starts_at", "created_at"):
            value = getattr(row, name, None)
            if isinstance(value, datetime):
                return value
        return self.start

    # --- people -------------------------------------------------------------------------------

    def people(self) -> None:
        plan, rng = self.plan, self.rng
        team_count = max(3, plan.engineers // 10)
        self.teams = self.insert(
            Team,
            (
                Team(name=f"{TEAM_NAMES[i % len(TEAM_NAMES)]} {i // len(TEAM_NAMES) + 1:02d}")
                for i in range(team_count)
            ),
            "teams",
        )
        users = self.insert(
            User,
            (
                User(
                    username=f"{PREFIX}{n:05d}",
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    email=f"{PREFIX}{n:05d}@example.com",
                    password="!generated",  # noqa: S106 - an unusable password, by design
                    date_joined=self.start,
                )
                for n in range(plan.engineers)
            ),
            "users",
        )
        self.engineers = users
        self.zone_of = {u.pk: ZONES[rng.randrange(len(ZONES))] for u in users}
        self.team_of = {u.pk: self.teams[i % team_count] for i, u in enumerate(users)}
        self.insert(
            Profile,
            (Profile(user=u, time_zone=self.zone_of[u.pk], team=self.team_of[u.pk]) for u in users),
            "profiles",
        )
        engineers = Group.objects.get(name=ENGINEERS)
        through = User.groups.through
        self.insert(
            through, (through(user_id=u.pk, group_id=engineers.pk) for u in users), "memberships"
        )
        self.members = {team.pk: [] for team in self.teams}
        for user in users:
            self.members[self.team_of[user.pk].pk].append(user)
        for team in self.teams:
            team.engineering_manager = self.members[team.pk][0]
        Team.objects.bulk_update(self.teams, ["engineering_manager"])
        self.services = {}
        rows = []
        for team in self.teams:
            for kind in rng.sample(SERVICE_KINDS, 3):
                rows.append(Service(name=f"{slugify(team.name)}-{kind}", team=team))
        for service in self.insert(Service, rows, "services"):
            self.services.setdefault(service.team_id, []).append(service)
        self.say(f"{len(self.teams)} teams, {len(users)} engineers, {len(rows)} services")

    # --- rotations and shifts ------------------------------------------------------------------

    def rotations(self) -> None:
        rng = self.rng
        first_monday = (self.start - timedelta(days=self.start.weekday())).date()
        rotations = self.insert(
            Rotation,
            (
                Rotation(
                    team=team,
                    name="Primary",
                    time_zone=self.zone_of[self.members[team.pk][0].pk],
                    starts_on=first_monday,
                )
                for team in self.teams
            ),
            "rotations",
        )
        self.insert(
            RotationMember,
            (
                RotationMember(rotation=rotation, user=user, position=position)
                for rotation in rotations
                for position, user in enumerate(self.members[rotation.team_id])
            ),
            "rotation members",
        )
        weeks = (self.end.date() - first_monday).days // 7 + 5  # a few weeks ahead too
        self.primary_at: dict[int, list[tuple[datetime, datetime, object]]] = {}
        self.starts_of: dict[int, list[datetime]] = {}
        shifts = []
        for rotation in rotations:
            members = self.members[rotation.team_id]
            timeline = []
            for week in range(weeks):
                start = rotation.handoff_moment(week)
                end = rotation.handoff_moment(week + 1)
                primary = members[week % len(members)]
                secondary = members[(week + 1) % len(members)]
                if len(members) > 2 and rng.random() < 0.05:
                    # An override: someone else covers a day in the middle of the week.
                    cover = members[(week + 2) % len(members)]
                    cut_a, cut_b = start + timedelta(days=2), start + timedelta(days=3)
                    pieces = [
                        (start, cut_a, primary, ShiftSource.GENERATED, None),
                        (cut_a, cut_b, cover, ShiftSource.OVERRIDE, primary),
                        (cut_b, end, primary, ShiftSource.GENERATED, None),
                    ]
                else:
                    pieces = [(start, end, primary, ShiftSource.GENERATED, None)]
                for a, b, who, source, covered in pieces:
                    shifts.append(
                        Shift(
                            rotation=rotation,
                            engineer=who,
                            role=ShiftRole.PRIMARY,
                            starts_at=a,
                            ends_at=b,
                            source=source,
                            covered_engineer=covered,
                        )
                    )
                    timeline.append((a, b, who))
                if len(members) > 1:
                    shifts.append(
                        Shift(
                            rotation=rotation,
                            engineer=secondary,
                            role=ShiftRole.SECONDARY,
                            starts_at=start,
                            ends_at=end,
                            source=ShiftSource.GENERATED,
                        )
                    )
            self.primary_at[rotation.team_id] = timeline
            self.starts_of[rotation.team_id] = [a for a, _, _ in timeline]
        self.insert(Shift, shifts, "shifts")
        self.say(f"{len(rotations)} rotations, {len(shifts)} shifts")

    def on_call(self, team_id: int, moment: datetime):
        """The generated primary for ``team_id`` at ``moment`` (binary search on the shifts)."""
        timeline = self.primary_at.get(team_id, ())
        index = bisect_right(self.starts_of[team_id], moment) - 1
        if 0 <= index < len(timeline) and timeline[index][0] <= moment < timeline[index][1]:
            return timeline[index][2]
        return self.members[team_id][0]

    # --- incidents ---------------------------------------------------------------------------

    def incidents(self) -> None:
        plan, rng = self.plan, self.rng
        severities = {s.rank: s for s in Severity.objects.filter(rank__in=SEVERITY_WEIGHTS)}
        ranks = list(SEVERITY_WEIGHTS)
        weights = [SEVERITY_WEIGHTS[r] for r in ranks]
        span = (self.end - self.start).total_seconds()
        moments = sorted(
            self.start + timedelta(seconds=rng.random() * span) for _ in range(plan.incidents)
        )
        counters: Counter[int] = Counter()
        self.incident_rows = []
        facts = []
        still_open = plan.open_incidents or max(3, plan.incidents // 2000)
        open_from = plan.incidents - min(still_open, plan.incidents)
        for index, started in enumerate(moments):
            rank = rng.choices(ranks, weights)[0]
            # The newest few are still open whatever the size, of every severity, so each
            # sweep (status updates, escalations) has work at any size.
            still_open = index >= open_from
            if still_open:
                rank = ranks[index % len(ranks)]
            # The newest has not been acknowledged yet: its pages are still ringing, so the
            # escalation sweep has an incident page to escalate at any size.
            newest = index == plan.incidents - 1
            team = self.teams[rng.randrange(len(self.teams))]
            detected = started + timedelta(seconds=rng.expovariate(1 / 240))
            acked = detected + timedelta(seconds=rng.uniform(30, 600))
            mitigated = acked + timedelta(minutes=rng.uniform(5, 90))
            resolved = mitigated + timedelta(minutes=rng.uniform(5, 240))
            age = self.end - started
            if still_open or (age < timedelta(hours=6) and rng.random() < 0.5):
                status, mitigated_at, resolved_at, closed_at = (
                    rng.choice([IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED]),
                    None,
                    None,
                    None,
                )
                if status == IncidentStatus.MITIGATED and not newest:
                    mitigated_at = min(mitigated, self.end)
                elif newest:
                    status = IncidentStatus.INVESTIGATING
            elif resolved > self.end:
                status, mitigated_at, resolved_at, closed_at = (
                    IncidentStatus.MONITORING,
                    min(mitigated, self.end),
                    None,
                    None,
                )
            else:
                closed = resolved + timedelta(days=rng.uniform(1, 3))
                status = IncidentStatus.CLOSED if closed <= self.end else IncidentStatus.RESOLVED
                mitigated_at, resolved_at = mitigated, resolved
                closed_at = closed if status == IncidentStatus.CLOSED else None
            year = detected.year
            counters[year] += 1
            problem = rng.choice(PROBLEMS)
            services = rng.sample(self.services[team.pk], rng.choice([1, 1, 2]))
            title = f"{services[0].name}: {problem}"
            severity = severities[rank]
            self.incident_rows.append(
                Incident(
                    reference=f"INC-{year}-{counters[year]:04d}",
                    title=title,
                    summary=f"{problem.capitalize()} on {services[0].name}.",
                    severity=severity,
                    status=status,
                    team=team,
                    detection_method=rng.choice(DetectionMethod.values),
                    customer_impact=rng.random() < {1: 0.9, 2: 0.5, 3: 0.1}[rank],
                    users_affected=rng.randrange(10, 50000) if rank < 3 else None,
                    root_cause_category=rng.choice(RootCauseCategory.values) if resolved_at else "",
                    channel_name=f"#incident-{detected:%Y-%m-%d}-{slugify(problem)}"[:80],
                    started_at=started,
                    detected_at=detected,
                    acknowledged_at=None if newest else min(acked, self.end),
                    mitigated_at=mitigated_at,
                    mitigation_action="Rolled back the last deploy." if mitigated_at else "",
                    resolved_at=resolved_at,
                    closed_at=closed_at,
                    declared_at=detected,
                )
            )
            facts.append((services, rank))
        self.insert(Incident, self.incident_rows, "incidents")
        IncidentSequence.objects.bulk_create(
            [IncidentSequence(year=y, last_number=n) for y, n in counters.items()],
            update_conflicts=True,
            update_fields=["last_number"],
            unique_fields=["year"],
        )
        through = Incident.services.through
        self.insert(
            through,
            (
                through(incident_id=incident.pk, service_id=service.pk)
                for incident, (services, _) in zip(self.incident_rows, facts, strict=True)
                for service in services
            ),
            "incident services",
        )
        self.say(f"{len(self.incident_rows)} incidents")
        self.history()

    def history(self) -> None:
        """Roles, status updates, pages and ~10 timeline events per incident, in chunks."""
        rng = self.rng
        done = 0
        for chunk in _batched(self.incident_rows, 5000):
            events, roles, updates, pages, sent = [], [], [], [], []
            for incident in chunk:
                team_id = incident.team_id
                responder = self.on_call(team_id, incident.detected_at)
                lead = rng.choice(self.members[team_id])
                t = incident.detected_at

                def event(kind, message, at, author=None, events=events, incident=incident):
                    events.append(
                        TimelineEvent(
                            incident=incident,
                            kind=kind,
                            occurred_at=at,
                            author=author,
                            message=message,
                        )
                    )

                event(
                    TimelineEventKind.DECLARED,
                    f"Declared {incident.severity.name}: {incident.title}",
                    t,
                    responder,
                )
                acked = incident.acknowledged_at
                pages.append(
                    Page(
                        engineer=responder,
                        incident=incident,
                        team_id=team_id,
                        paged_at=t,
                        ack_due_at=t + timedelta(minutes=5),
                        acknowledged_at=acked if acked and acked >= t else None,
                        source=PageSource.INCIDENT,
                        message=incident.title[:300],
                    )
                )
                event(TimelineEventKind.PAGE, f"Paged {responder.get_full_name()}", t)
                # The page's email, long delivered (the outbox keeps its history); the
                # newest open incidents' are still waiting for the next dispatch.
                delivered = incident.status not in OPEN_STATUSES
                sent.append(
                    Notification(
                        key=f"generated-page:{incident.reference}:{responder.pk}",
                        kind="page",
                        recipient=responder,
                        incident=incident,
                        subject=f"Paged: {incident.reference} {incident.title}",
                        body=incident.summary,
                        status=NotificationStatus.SENT if delivered else NotificationStatus.PENDING,
                        attempts=1 if delivered else 0,
                        created_at=t,
                        next_attempt_at=t if delivered else self.end,
                        sent_at=t + timedelta(seconds=2) if delivered else None,
                    )
                )
                if acked:
                    event(TimelineEventKind.ACKNOWLEDGED, "Acknowledged", acked, responder)
                # Roles and updates follow the acknowledgement (or the page, before one).
                acked = acked or t + timedelta(minutes=1)
                for role, user, delay in (
                    (IncidentRole.COMMANDER, responder, 1),
                    (IncidentRole.TECHNICAL_LEAD, lead, 3),
                ):
                    at = acked + timedelta(minutes=delay)
                    roles.append(
                        RoleAssignment(
                            incident=incident,
                            role=role,
                            user=user,
                            assigned_at=at,
                            assigned_by=responder,
                        )
                    )
                    event(TimelineEventKind.ROLE_ASSIGNED, f"{role.label}: {user}", at, responder)
                for n, audience in enumerate((UpdateAudience.STATUS_PAGE, UpdateAudience.INTERNAL)):
                    at = acked + timedelta(minutes=5 + 10 * n)
                    updates.append(
                        StatusUpdate(
                            incident=incident,
                            audience=audience,
                            status="Investigating",
                            impact=incident.summary,
                            action="Investigating the cause.",
                            eta="unknown",
                            author=responder,
                            posted_at=at,
                        )
                    )
                    event(TimelineEventKind.STATUS_UPDATE, "Update: Investigating", at, responder)
                if incident.mitigated_at:
                    event(
                        TimelineEventKind.STATUS_CHANGED,
                        "Status: Investigating → Mitigated. "
                        "Mitigation: Rolled back the last deploy.",
                        incident.mitigated_at,
                        responder,
                    )
                if incident.resolved_at:
                    event(
                        TimelineEventKind.STATUS_CHANGED,
                        "Status: Mitigated → Resolved",
                        incident.resolved_at,
                        responder,
                    )
                if incident.closed_at:
                    event(
                        TimelineEventKind.STATUS_CHANGED,
                        "Status: Resolved → Closed",
                        incident.closed_at,
                        responder,
                    )
                if rng.random() < 0.5:
                    # An alert page that was not an incident, at any hour.
                    at = incident.detected_at - timedelta(hours=rng.uniform(1, 72))
                    who = self.on_call(team_id, at)
                    pages.append(
                        Page(
                            engineer=who,
                            team_id=team_id,
                            paged_at=at,
                            ack_due_at=at + timedelta(minutes=5),
                            acknowledged_at=at + timedelta(minutes=rng.uniform(1, 9))
                            if rng.random() < 0.95
                            else None,
                            source=PageSource.ALERT,
                            message="Alert: " + rng.choice(PROBLEMS),
                        )
                    )
            if done + len(chunk) == len(self.incident_rows):
                # As the history ends, the newest incident is paged again by an alert; nobody
                # has acknowledged it (so the escalation sweep has an incident page at any
                # size, whenever the incident itself was detected).
                newest = chunk[-1]
                at = self.end - timedelta(minutes=10)
                pages.append(
                    Page(
                        engineer=self.on_call(newest.team_id, at),
                        team_id=newest.team_id,
                        incident=newest,
                        paged_at=at,
                        ack_due_at=at + timedelta(minutes=5),
                        source=PageSource.ALERT,
                        message="Alert: " + PROBLEMS[0],
                    )
                )
            self.insert(TimelineEvent, events, "timeline events")
            self.insert(RoleAssignment, roles, "role assignments")
            self.insert(StatusUpdate, updates, "status updates")
            self.insert(Page, pages, "pages")
            self.insert(Notification, sent, "notifications")
            done += len(chunk)
            self.say(
                f"history of {done}/{len(self.incident_rows)} incidents "
                f"({self.created['timeline events']} timeline events)"
            )

    # --- post-mortems ------------------------------------------------------------------------

    def postmortems(self) -> None:
        rng = self.rng
        severe = [
            i
            for i in self.incident_rows
            if i.resolved_at and (i.severity.rank < 3 or i.customer_impact)
        ]
        old_enough = [i for i in severe if self.end - i.resolved_at > timedelta(days=5)]
        newest_old = max(old_enough, key=lambda i: i.resolved_at, default=None)
        rows = []
        for incident in severe:
            resolved = incident.resolved_at
            age = self.end - resolved
            owner = rng.choice(self.members[incident.team_id])
            values = {
                "incident": incident,
                "owner": owner,
                "scheduled_at": resolved,
                "deadlines_from": resolved,
                "draft_due_at": resolved + timedelta(hours=24),
                "review_due_at": resolved + timedelta(hours=48),
                "publish_due_at": resolved + timedelta(hours=72),
            }
            behind = incident is newest_old  # one always behind schedule, whatever the size
            if age > timedelta(days=5) and rng.random() < 0.9 and not behind:
                values.update(
                    status=PostmortemStatus.PUBLISHED,
                    draft_started_at=resolved + timedelta(hours=2),
                    submitted_at=resolved + timedelta(hours=rng.uniform(10, 30)),
                    review_meeting_at=resolved + timedelta(hours=rng.uniform(30, 50)),
                    published_at=resolved + timedelta(hours=rng.uniform(50, 80)),
                    summary=incident.summary,
                    impact="Some customers were affected.",
                    root_cause="A change without enough safeguards.",
                    what_went_well="Fast rollback.",
                    what_could_be_improved="Earlier detection.",
                )
            elif age > timedelta(days=1):
                values.update(
                    status=PostmortemStatus.DRAFT,
                    draft_started_at=resolved + timedelta(hours=3),
                    summary=incident.summary,
                )
            else:
                values.update(status=PostmortemStatus.SCHEDULED, owner=None)
            rows.append(Postmortem(**values))
        postmortems = self.insert(Postmortem, rows, "post-mortems")
        whys, entries, items = [], [], []
        for pm in postmortems:
            incident = pm.incident
            for position in (1, 2):
                whys.append(
                    FiveWhy(
                        postmortem=pm,
                        position=position,
                        question=f"Why {position}?",
                        answer="Because of a gap in the process.",
                    )
                )
            for phase, at in (
                (TimelinePhase.DETECTED, incident.detected_at),
                (TimelinePhase.ACKNOWLEDGED, incident.acknowledged_at),
                (TimelinePhase.MITIGATED, incident.mitigated_at),
                (TimelinePhase.RESOLVED, incident.resolved_at),
            ):
                if at:
                    entries.append(
                        PostmortemTimelineEntry(
                            postmortem=pm, occurred_at=at, phase=phase, text=f"{phase.label}."
                        )
                    )
            if pm.status == PostmortemStatus.SCHEDULED:
                continue
            for n in range(rng.randint(1, 3)):
                owner = rng.choice(self.members[incident.team_id])
                due = (incident.resolved_at + timedelta(days=rng.randint(7, 60))).date()
                overdue = due < self.end.date()
                status = (
                    rng.choice([ActionItemStatus.DONE] * 3 + [ActionItemStatus.OPEN])
                    if overdue
                    else rng.choice([ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS])
                )
                completed = (
                    datetime.combine(due, datetime.min.time(), tzinfo=UTC)
                    if status == ActionItemStatus.DONE
                    else None
                )
                items.append(
                    ActionItem(
                        postmortem=pm,
                        title=f"Follow-up {n + 1} for {incident.reference}",
                        owner=owner,
                        due_date=due,
                        kind=rng.choice(ActionItemKind.values),
                        priority=rng.choice(ActionItemPriority.values),
                        status=status,
                        created_at=incident.resolved_at,
                        completed_at=completed,
                        completed_by=owner if completed else None,
                    )
                )
        self.insert(FiveWhy, whys, "5 whys")
        self.insert(PostmortemTimelineEntry, entries, "post-mortem timeline entries")
        self.insert(ActionItem, items, "action items")
        self.say(f"{len(postmortems)} post-mortems, {len(items)} action items")

    def runbooks(self) -> None:
        """A runbook per team; a third of them not reviewed for four months (stale)."""
        rows = []
        for n, team in enumerate(self.teams):
            reviewed = self.end - timedelta(days=120 if n % 3 == 0 else self.rng.randint(5, 80))
            rows.append(
                Runbook(
                    title=f"{team.name}: service recovery",
                    summary=f"How {team.name} brings its services back.",
                    owner_team=team,
                    last_reviewed_at=reviewed,
                )
            )
        runbooks = self.insert(Runbook, rows, "runbooks")
        self.insert(
            RunbookStep,
            (
                RunbookStep(runbook=runbook, position=position, title=title, body=body)
                for runbook in runbooks
                for position, (title, body) in enumerate(
                    (
                        ("Check the dashboards", "Error rate and latency of the service."),
                        ("Roll back", "Revert the last deploy if it lines up with the start."),
                    ),
                    start=1,
                )
            ),
            "runbook steps",
        )

    def run(self) -> Counter[str]:
        if (
            Team.objects.filter(name__in=[f"{TEAM_NAMES[0]} 01"]).exists()
            or User.objects.filter(username=f"{PREFIX}00000").exists()
        ):
            raise ValueError("Generated data is already here: run on a freshly migrated database.")
        if Incident.objects.exists():
            # Its references are numbered from 1 in each year: they would collide.
            raise ValueError(
                "This database already holds incidents (demo data?): run on a freshly "
                "migrated database."
            )
        with transaction.atomic():
            self.people()
            self.rotations()
            self.runbooks()
            self.incidents()
            self.postmortems()
        return self.created
