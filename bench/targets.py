"""What the benchmark measures: every page, report and sweep the issue names, each with the
raw SQL that fetches the same rows (the database's floor).

Shared by the benchmark (``python -m bench``) and the query-count test in CI, so both always
measure the same things.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone


@dataclass
class Target:
    name: str
    # "page": one screen whatever the data (held to flat growth); "report": one row per
    # engineer, so it grows with the organisation (held to its SQL floor and to a flat cost
    # per row); "sweep": a reminder sweep.
    kind: str
    run: Callable[[], object]
    floor_sql: str = ""
    floor_params: list = field(default_factory=list)
    rows: Callable[[], int] | None = None  # how many rows a report shows


@dataclass
class Context:
    """Logged-in clients and the objects the targets need, from the generated data."""

    manager: object
    engineer: object
    finance: object
    incident_id: int
    search: str
    severity_id: int
    month: tuple[date, date]
    year: tuple[date, date]
    api_token: str = ""
    extra: dict = field(default_factory=dict)


def context() -> Context:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from incidents.access import ENGINEERS, FINANCE, MANAGERS
    from incidents.models import Incident, IncidentStatus, Severity

    users = get_user_model().objects
    manager_user, _ = users.get_or_create(username="bench-manager", defaults={"is_staff": True})
    manager_user.groups.add(Group.objects.get(name=MANAGERS))
    finance_user, _ = users.get_or_create(username="bench-finance")
    finance_user.groups.add(Group.objects.get(name=FINANCE))
    engineer_user = users.filter(groups__name=ENGINEERS).order_by("username").first()
    clients = {}
    for name, user in (
        ("manager", manager_user),
        ("engineer", engineer_user),
        ("finance", finance_user),
    ):
        client = Client()
        client.force_login(user)
        clients[name] = client
    incident = Incident.objects.filter(status=IncidentStatus.CLOSED).order_by("-started_at").first()
    from incidents.services import api_token_issue

    _, token = api_token_issue(user=engineer_user, name="bench", by=manager_user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    today = timezone.localdate()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return Context(
        manager=clients["manager"],
        engineer=clients["engineer"],
        finance=clients["finance"],
        incident_id=incident.pk,
        search=incident.reference,
        severity_id=Severity.objects.get(is_most_severe=True).pk,
        month=(last_month_end.replace(day=1), last_month_end),
        year=(today - timedelta(days=365), today - timedelta(days=1)),
        extra={"manager_user": manager_user, "engineer_user": engineer_user, "api": api},
    )


def _get(client, url: str, **params) -> Callable[[], object]:
    def go():
        response = client.get(url, params)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return response

    return go


CHANGELIST_FLOOR = """
SELECT i.id, i.reference, i.title, s.name, s.color, i.status, i.started_at, i.resolved_at,
       (SELECT u.username FROM incidents_roleassignment r JOIN auth_user u ON u.id = r.user_id
         WHERE r.incident_id = i.id AND r.role = 'commander' AND r.relieved_at IS NULL LIMIT 1)
FROM incidents_incident i JOIN incidents_severity s ON s.id = i.severity_id
{where}
ORDER BY i.started_at DESC, i.id DESC LIMIT {limit}
"""

INCIDENT_PAGE_FLOOR = """
SELECT i.*, s.name FROM incidents_incident i JOIN incidents_severity s ON s.id = i.severity_id
WHERE i.id = %s;
SELECT e.occurred_at, e.kind, e.message, u.username FROM incidents_timelineevent e
LEFT JOIN auth_user u ON u.id = e.author_id WHERE e.incident_id = %s ORDER BY e.occurred_at, e.id;
"""

POSTMORTEM_CHANGELIST_FLOOR = """
SELECT p.id, p.status, p.draft_due_at, p.review_due_at, p.publish_due_at, i.reference,
       s.name, u.username
FROM postmortems_postmortem p JOIN incidents_incident i ON i.id = p.incident_id
JOIN incidents_severity s ON s.id = i.severity_id LEFT JOIN auth_user u ON u.id = p.owner_id
ORDER BY p.scheduled_at DESC, p.id DESC LIMIT 100
"""

ACTION_ITEM_CHANGELIST_FLOOR = """
SELECT a.id, a.title, a.due_date, a.status, u.username, i.reference
FROM postmortems_actionitem a LEFT JOIN auth_user u ON u.id = a.owner_id
JOIN postmortems_postmortem p ON p.id = a.postmortem_id
JOIN incidents_incident i ON i.id = p.incident_id
ORDER BY a.due_date, a.priority, a.id LIMIT 100
"""

# The compensation report's figures computed by PostgreSQL alone: the union of each engineer's
# shifts clipped to the period, wall-clock hours in their zone, acknowledged overnight pages in
# their zone, and distinct most-severe incidents by first acknowledged page.
COMPENSATION_FLOOR = """
WITH bounds AS (SELECT %(start)s::timestamptz AS ps, %(end)s::timestamptz AS pe),
shifts AS (
  SELECT s.engineer_id, range_agg(tstzrange(s.starts_at, s.ends_at)) AS cover
  FROM oncall_shift s, bounds b WHERE s.ends_at > b.ps AND s.starts_at < b.pe
  GROUP BY s.engineer_id
),
hours AS (
  SELECT sh.engineer_id, r AS span FROM shifts sh, bounds b,
         unnest(sh.cover * tstzmultirange(tstzrange(b.ps, b.pe))) AS r
),
on_call AS (
  SELECT h.engineer_id,
         sum(extract(epoch FROM upper(h.span) - lower(h.span))) / 3600 AS elapsed,
         sum(extract(epoch FROM (upper(h.span) AT TIME ZONE p.time_zone)
                              - (lower(h.span) AT TIME ZONE p.time_zone))) / 3600 AS wall
  FROM hours h JOIN incidents_profile p ON p.user_id = h.engineer_id GROUP BY h.engineer_id
),
pages AS (
  SELECT g.engineer_id, count(*) AS pages,
         count(*) FILTER (WHERE g.acknowledged_at IS NOT NULL AND (
           (g.paged_at AT TIME ZONE p.time_zone)::time >= '22:00'
           OR (g.paged_at AT TIME ZONE p.time_zone)::time < '07:00')) AS overnight
  FROM oncall_page g JOIN incidents_profile p ON p.user_id = g.engineer_id, bounds b
  WHERE g.paged_at >= b.ps AND g.paged_at < b.pe GROUP BY g.engineer_id
),
sev1 AS (
  SELECT f.engineer_id, count(*) AS incidents FROM (
    SELECT g.engineer_id, min(g.paged_at) AS first
    FROM oncall_page g JOIN incidents_incident i ON i.id = g.incident_id
    JOIN incidents_severity s ON s.id = i.severity_id
    WHERE g.acknowledged_at IS NOT NULL AND s.is_most_severe
    GROUP BY g.engineer_id, g.incident_id) f, bounds b
  WHERE f.first >= b.ps AND f.first < b.pe GROUP BY f.engineer_id
)
SELECT u.username, u.first_name, u.last_name, t.name, o.elapsed, 500 * o.wall / 168,
       coalesce(s1.incidents, 0), 200 * coalesce(s1.incidents, 0), coalesce(pg.overnight, 0),
       4 * coalesce(pg.overnight, 0)
FROM auth_user u
LEFT JOIN on_call o ON o.engineer_id = u.id LEFT JOIN pages pg ON pg.engineer_id = u.id
LEFT JOIN sev1 s1 ON s1.engineer_id = u.id
LEFT JOIN incidents_profile p ON p.user_id = u.id LEFT JOIN incidents_team t ON t.id = p.team_id
WHERE o.engineer_id IS NOT NULL OR pg.engineer_id IS NOT NULL OR s1.engineer_id IS NOT NULL
ORDER BY u.username
"""


# The dashboard's headline figures for the current quarter, by PostgreSQL alone.
METRICS_FLOOR = """
SELECT s.name, count(*),
       avg(extract(epoch FROM i.detected_at - i.started_at)),
       avg(extract(epoch FROM i.acknowledged_at - i.detected_at)),
       avg(extract(epoch FROM i.resolved_at - i.started_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY i.resolved_at - i.started_at),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY i.resolved_at - i.started_at)
FROM incidents_incident i JOIN incidents_severity s ON s.id = i.severity_id
WHERE i.started_at >= date_trunc('quarter', now())
GROUP BY s.name
"""


def _bounds(start: date, end: date) -> dict:
    from oncall.compensation import period_bounds
    from oncall.selectors import project_zone

    ps, pe = period_bounds(start, end, project_zone())
    return {"start": ps, "end": pe}


def _report_rows(start: date, end: date) -> Callable[[], int]:
    def count():
        from oncall.selectors import compensation_report

        return len(compensation_report(start=start, end=end).rows)

    return count


def _command(start: date, end: date) -> Callable[[], object]:
    def go():
        out = StringIO()
        call_command(
            "compensation_report",
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
            stdout=out,
        )
        return out

    return go


def _rolled_back(run: Callable[[], object]) -> Callable[[], object]:
    """Run a sweep and undo what it wrote, so every measured run starts from the same
    database: the reminders it records are new each time (a sweep that ran once already has
    almost nothing left to do, which would measure nothing)."""
    from django.db import transaction

    def go():
        with transaction.atomic():
            result = run()
            transaction.set_rollback(True)
        return result

    return go


def sweep_moments(now):
    """Moments at which the on-call sweeps have work whatever day the benchmark runs: an hour
    after the last unacknowledged page fell due, half an hour before the next primary
    handoff, an hour before the next shift starts (its heads-up evening has passed). The
    other sweeps have work at ``now`` (the generator keeps the newest incidents open)."""
    from oncall import reminders
    from oncall.models import Page, PageSource, Shift, ShiftRole

    ringing = (
        Page.objects.filter(
            reminders.STILL_UNANSWERED,
            acknowledged_at__isnull=True,
        )
        .exclude(source=PageSource.IMPORTED)
        .order_by("-ack_due_at")
        .values_list("ack_due_at", flat=True)
        .first()
    )
    handoff = (
        Shift.objects.filter(role=ShiftRole.PRIMARY, ends_at__gt=now)
        .order_by("ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )
    starting = (
        Shift.objects.filter(starts_at__gt=now)
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    return {
        "pages": ringing + timedelta(hours=1) if ringing else now,
        "handoff": handoff - timedelta(minutes=30) if handoff else now,
        "heads_up": starting - timedelta(hours=1) if starting else now,
    }


def targets(ctx: Context) -> list[Target]:
    from incidents import notifications, reminders, runbooks
    from oncall import reminders as oncall_reminders
    from postmortems import reminders as postmortem_reminders

    now = timezone.now()
    incident = f"/admin/incidents/incident/{ctx.incident_id}/change/"
    page_floor = (INCIDENT_PAGE_FLOOR, [ctx.incident_id, ctx.incident_id])
    found = [
        Target(
            "admin incident changelist",
            "page",
            _get(ctx.manager, "/admin/incidents/incident/"),
            CHANGELIST_FLOOR.format(where="", limit=50),
        ),
        Target(
            "admin incident changelist, severity filter",
            "page",
            _get(ctx.manager, "/admin/incidents/incident/", severity__id__exact=ctx.severity_id),
            CHANGELIST_FLOOR.format(where="WHERE i.severity_id = %s", limit=50),
            [ctx.severity_id],
        ),
        Target(
            "admin incident changelist, search",
            "page",
            _get(ctx.manager, "/admin/incidents/incident/", q=ctx.search),
            CHANGELIST_FLOOR.format(
                where="WHERE upper(i.reference) LIKE upper(%s) OR upper(i.title) LIKE upper(%s)",
                limit=50,
            ),
            [f"%{ctx.search}%", f"%{ctx.search}%"],
        ),
        Target("admin incident change page", "page", _get(ctx.manager, incident), *page_floor),
        Target(
            "engineers' incident list",
            "page",
            _get(ctx.engineer, "/incidents/", show="recent"),
            CHANGELIST_FLOOR.format(
                where="WHERE i.started_at >= now() - interval '30 days'", limit=50
            ),
        ),
        Target(
            "engineers' incident page",
            "page",
            _get(ctx.engineer, f"/incidents/{ctx.incident_id}/"),
            *page_floor,
        ),
        Target(
            "API incident list (100 rows)",
            "page",
            _get(ctx.extra["api"], "/api/v1/incidents/", page_size=100),
            CHANGELIST_FLOOR.format(where="", limit=100),
        ),
        Target(
            "API incident detail",
            "page",
            _get(ctx.extra["api"], f"/api/v1/incidents/{ctx.search}/"),
            *page_floor,
        ),
        Target(
            "metrics dashboard",
            "page",
            _get(ctx.manager, "/admin/metrics/"),
            METRICS_FLOOR,
        ),
        Target(
            "post-mortem changelist",
            "page",
            _get(ctx.manager, "/admin/postmortems/postmortem/"),
            POSTMORTEM_CHANGELIST_FLOOR,
        ),
        Target(
            "action item changelist",
            "page",
            _get(ctx.manager, "/admin/postmortems/actionitem/"),
            ACTION_ITEM_CHANGELIST_FLOOR,
        ),
    ]
    for label, (start, end) in (("one month", ctx.month), ("twelve months", ctx.year)):
        bounds = _bounds(start, end)
        rows = _report_rows(start, end)
        found += [
            Target(
                f"compensation report, {label} (command)",
                "report",
                _command(start, end),
                COMPENSATION_FLOOR,
                bounds,
                rows,
            ),
            Target(
                f"compensation report, {label} (page)",
                "report",
                _get(
                    ctx.finance,
                    "/oncall/compensation/",
                    start=start.isoformat(),
                    end=end.isoformat(),
                ),
                COMPENSATION_FLOOR,
                bounds,
                rows,
            ),
        ]
    moments = sweep_moments(now)
    sweeps = {
        "sweep: status update reminders": lambda: reminders.sweep_status_updates(now=now),
        "sweep: incident escalations": lambda: reminders.sweep_escalations(now=now),
        "sweep: unacknowledged pages": lambda: oncall_reminders.sweep_unacknowledged_pages(
            now=moments["pages"]
        ),
        "sweep: handoff requests": lambda: oncall_reminders.sweep_handoff_requests(
            now=moments["handoff"]
        ),
        "sweep: shift heads-up": lambda: oncall_reminders.sweep_shift_heads_up(
            now=moments["heads_up"]
        ),
        "sweep: post-mortem deadlines": lambda: postmortem_reminders.sweep_postmortem_deadlines(
            now=now
        ),
        "sweep: action items": lambda: postmortem_reminders.sweep_action_items(now=now),
        "sweep: action item digests": lambda: postmortem_reminders.send_action_item_digests(
            now=now
        ),
        "sweep: pending notifications": lambda: notifications.notifications_due(now=now),
        "sweep: stale runbooks": lambda: runbooks.remind_stale_runbooks(now=now),
    }
    found += [Target(name, "sweep", _rolled_back(run)) for name, run in sweeps.items()]
    return found
