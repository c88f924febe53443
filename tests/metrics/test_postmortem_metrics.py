from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.metrics import Period
from postmortems.models import ActionItemStatus, PostmortemStatus
from postmortems.selectors import action_item_metrics, postmortem_publication_metrics
from tests.incidents.factories import ServiceFactory, TeamFactory
from tests.metrics.fixtures import utc
from tests.postmortems.factories import (
    ActionItemFactory,
    PostmortemFactory,
    ResolvedIncidentFactory,
)

pytestmark = pytest.mark.django_db

Q1 = Period(date(2026, 1, 1), date(2026, 4, 1))
AFTER_Q1 = utc(2026, 4, 10)
DAY = timedelta(days=1)


def item(created, due, status=ActionItemStatus.OPEN, completed=None, postmortem=None):
    extra = {"postmortem": postmortem} if postmortem is not None else {}
    return ActionItemFactory(
        created_at=created,
        due_date=due,
        status=status,
        completed_at=completed,
        **extra,
    )


@pytest.fixture
def items():
    """
    | item | created    | due        | status      | completed  |
    |------|------------|------------|-------------|------------|
    | i1   | 2026-01-10 | 2026-01-20 | done        | 2026-01-15 |
    | i2   | 2026-02-01 | 2026-02-10 | open        |            |
    | i3   | 2026-02-15 | 2026-04-30 | in progress |            |
    | i4   | 2026-03-01 | 2026-03-10 | won't do    |            |
    | i5   | 2025-12-01 | 2025-12-15 | done        | 2026-02-20 |
    | i6   | 2026-03-19 | 2026-03-25 | done        | 2026-04-05 |
    """
    done = ActionItemStatus.DONE
    return {
        "i1": item(utc(2026, 1, 10), date(2026, 1, 20), done, utc(2026, 1, 15)),
        "i2": item(utc(2026, 2, 1), date(2026, 2, 10)),
        "i3": item(utc(2026, 2, 15), date(2026, 4, 30), ActionItemStatus.IN_PROGRESS),
        "i4": item(utc(2026, 3, 1), date(2026, 3, 10), ActionItemStatus.WONT_DO),
        "i5": item(utc(2025, 12, 1), date(2025, 12, 15), done, utc(2026, 2, 20)),
        "i6": item(utc(2026, 3, 19), date(2026, 3, 25), done, utc(2026, 4, 5)),
    }


class TestActionItems:
    def test_completion_counts_what_was_done_by_the_end_of_the_period(self, items):
        figures = action_item_metrics(period=Q1, now=AFTER_Q1)
        assert figures.as_of == utc(2026, 4, 1)
        # Created in Q1: i1, i2, i3, i4, i6. Done by 1 April: i1 (i6 only on 5 April).
        assert (figures.created, figures.done, figures.wont_do) == (5, 1, 1)
        assert figures.completion_rate == Decimal("0.2500")  # 1 / (5 - 1)

    def test_open_items_and_their_age_at_the_end_of_the_period(self, items):
        figures = action_item_metrics(period=Q1, now=AFTER_Q1)
        # Open on 1 April: i2 (59 days old, overdue), i3 (45 days), i6 (13 days, overdue).
        assert (figures.open_count, figures.open_overdue) == (3, 2)
        assert figures.open_age_mean == 39 * DAY
        assert figures.open_age_median == 45 * DAY
        assert figures.open_age_max == 59 * DAY

    def test_burn_down_at_the_start_every_monday_and_the_end(self, items):
        points = {m: (o, d) for m, o, d in action_item_metrics(period=Q1, now=AFTER_Q1).burn_down}
        assert min(points) == utc(2026, 1, 1)
        assert max(points) == utc(2026, 4, 1)
        assert len(points) == 15  # the start, 13 Mondays, the end
        assert points[utc(2026, 1, 1)] == (1, 1)  # i5, overdue since 16 December
        assert points[utc(2026, 1, 12)] == (2, 1)  # i5, i1
        assert points[utc(2026, 1, 19)] == (1, 1)  # i1 done on the 15th
        assert points[utc(2026, 2, 2)] == (2, 1)  # i5, i2
        assert points[utc(2026, 2, 16)] == (3, 2)  # i5, i2 (overdue), i3
        assert points[utc(2026, 2, 23)] == (2, 1)  # i5 done on the 20th
        assert points[utc(2026, 3, 2)] == (2, 1)  # won't-do i4 is never counted
        assert points[utc(2026, 3, 23)] == (3, 1)  # i6 not due yet
        assert points[utc(2026, 3, 30)] == (3, 2)
        assert points[utc(2026, 4, 1)] == (3, 2)

    def test_a_running_period_stops_at_now(self, items):
        now = utc(2026, 2, 18, 12)
        figures = action_item_metrics(period=Q1, now=now)
        assert figures.as_of == now
        assert figures.burn_down[-2][0] == utc(2026, 2, 16)
        assert figures.burn_down[-1] == (now, 3, 2)
        # Created so far: i1, i2, i3; i1 done.
        assert (figures.created, figures.done, figures.completion_rate) == (3, 1, Decimal("0.3333"))

    def test_an_empty_period(self):
        figures = action_item_metrics(period=Q1, now=AFTER_Q1)
        assert (figures.created, figures.open_count, figures.completion_rate) == (0, 0, None)
        assert figures.open_age_median is None
        assert {o for _, o, _ in figures.burn_down} == {0}

    def test_scoped_by_the_incidents_team_and_service(self, items):
        team = items["i2"].postmortem.incident.team
        service = ServiceFactory()
        items["i3"].postmortem.incident.services.add(service)
        assert action_item_metrics(period=Q1, now=AFTER_Q1, team=team).created == 1
        assert action_item_metrics(period=Q1, now=AFTER_Q1, service=service).open_count == 1

    def test_constant_queries(self):
        def run():
            with CaptureQueriesContext(connection) as ctx:
                action_item_metrics(period=Q1, now=AFTER_Q1)
            return len(ctx.captured_queries)

        item(utc(2026, 1, 10), date(2026, 1, 20))
        few = run()
        for n in range(40):
            item(utc(2026, 1, 1) + n * DAY, date(2026, 2, 1), ActionItemStatus.OPEN)
        assert run() == few == 2


def postmortem(started, *, published_after: timedelta | None = None):
    """A post-mortem of an incident started at ``started`` (resolved two hours later, so
    due to be published 74 hours after the start), published ``published_after`` its
    resolution or not at all."""
    pm = PostmortemFactory(incident=ResolvedIncidentFactory(started_at=started))
    if published_after is not None:
        resolved = pm.incident.resolved_at
        pm.status = PostmortemStatus.PUBLISHED
        pm.draft_started_at = resolved
        pm.submitted_at = resolved
        pm.published_at = resolved + published_after
        pm.save()
    return pm


class TestPublication:
    @pytest.fixture
    def postmortems(self):
        return {
            "on_time": postmortem(utc(2026, 1, 10), published_after=timedelta(hours=72)),
            "late": postmortem(utc(2026, 2, 10), published_after=timedelta(hours=73)),
            "overdue": postmortem(utc(2026, 3, 1)),
            "pending": postmortem(utc(2026, 3, 30)),
            "outside": postmortem(utc(2025, 12, 30), published_after=timedelta(hours=1)),
        }

    def test_on_time_late_overdue_and_pending(self, postmortems):
        now = utc(2026, 3, 31, 12)  # "pending" is due on 2 April
        figures = postmortem_publication_metrics(period=Q1, now=now)
        assert (figures.total, figures.on_time, figures.late, figures.overdue) == (4, 1, 1, 1)
        assert (figures.pending, figures.due) == (1, 3)
        assert figures.on_time_rate == Decimal("0.3333")

    def test_later_the_pending_one_is_overdue(self, postmortems):
        figures = postmortem_publication_metrics(period=Q1, now=AFTER_Q1)
        assert (figures.overdue, figures.pending) == (2, 0)

    def test_scope_and_empty(self, postmortems):
        team = TeamFactory(name="Nobody's")
        figures = postmortem_publication_metrics(period=Q1, now=AFTER_Q1, team=team)
        assert (figures.total, figures.on_time_rate) == (0, None)
        team = postmortems["late"].incident.team
        assert postmortem_publication_metrics(period=Q1, now=AFTER_Q1, team=team).late == 1
