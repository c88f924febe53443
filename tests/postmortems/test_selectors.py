import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmortems import selectors
from postmortems.models import ActionItemStatus, PostmortemStatus, Stage, TimelinePhase
from tests.incidents.factories import BASE_TIME, ProfileFactory, TeamFactory, UserFactory
from tests.postmortems.factories import (
    ActionItemFactory,
    PostmortemFactory,
    TimelineEntryFactory,
)

pytestmark = pytest.mark.django_db

T0 = BASE_TIME
R = T0 + timedelta(hours=2)
SECOND = timedelta(seconds=1)
DUE = {
    Stage.DRAFT: R + timedelta(hours=24),
    Stage.REVIEW: R + timedelta(hours=48),
    Stage.PUBLISH: R + timedelta(hours=72),
}


@pytest.fixture
def postmortem():
    return PostmortemFactory(incident__started_at=T0)


def overdue_ids(stage, now):
    return list(selectors.postmortems_overdue(stage=stage, now=now).values_list("pk", flat=True))


class TestPostmortemDeadlines:
    @pytest.mark.parametrize("stage", Stage.values)
    def test_exactly_at_the_deadline_is_not_overdue_one_second_after_is(self, postmortem, stage):
        assert overdue_ids(stage, DUE[stage]) == []
        assert overdue_ids(stage, DUE[stage] + SECOND) == [postmortem.pk]

    @pytest.mark.parametrize("stage", Stage.values)
    def test_the_changelist_flags_follow_the_frozen_clock(self, postmortem, stage):
        with time_machine.travel(DUE[stage], tick=False):
            row = selectors.postmortem_list().get()
            assert getattr(row, f"{stage}_overdue") is False
        with time_machine.travel(DUE[stage] + SECOND, tick=False):
            row = selectors.postmortem_list().get()
            assert getattr(row, f"{stage}_overdue") is True

    def test_a_stage_reached_in_time_is_never_overdue(self, postmortem):
        postmortem.status = PostmortemStatus.PUBLISHED
        postmortem.draft_started_at = R + timedelta(hours=1)
        postmortem.submitted_at = DUE[Stage.DRAFT]  # exactly at the deadline is in time
        postmortem.review_meeting_at = R + timedelta(hours=30)
        postmortem.published_at = R + timedelta(hours=31)
        postmortem.save()
        later = R + timedelta(days=30)
        for stage in Stage.values:
            assert overdue_ids(stage, later) == []

    def test_a_stage_reached_late_was_overdue_until_reached(self, postmortem):
        postmortem.status = PostmortemStatus.IN_REVIEW
        postmortem.draft_started_at = R + timedelta(hours=1)
        postmortem.submitted_at = DUE[Stage.DRAFT] + timedelta(hours=3)
        postmortem.save()
        assert overdue_ids(Stage.DRAFT, DUE[Stage.DRAFT] + timedelta(hours=1)) == [postmortem.pk]
        assert overdue_ids(Stage.DRAFT, DUE[Stage.DRAFT] + timedelta(hours=3)) == []

    def test_drafting_alone_does_not_meet_the_draft_deadline(self, postmortem):
        postmortem.status = PostmortemStatus.DRAFT
        postmortem.draft_started_at = R + timedelta(hours=1)
        postmortem.save()
        assert overdue_ids(Stage.DRAFT, DUE[Stage.DRAFT] + SECOND) == [postmortem.pk]

    def test_due_soon_and_overdue_with_the_flag(self, postmortem):
        later = PostmortemFactory(incident__started_at=T0 + timedelta(hours=10))
        now = DUE[Stage.DRAFT] + SECOND
        rows = list(selectors.postmortems_due(stage=Stage.DRAFT, now=now))
        assert [(r.pk, r.is_overdue) for r in rows] == [(postmortem.pk, True)]
        rows = list(
            selectors.postmortems_due(stage=Stage.DRAFT, now=now, within=timedelta(hours=10))
        )
        assert [(r.pk, r.is_overdue) for r in rows] == [
            (postmortem.pk, True),
            (later.pk, False),
        ]
        # A draft submitted in time is neither due nor overdue any more.
        later.status, later.draft_started_at = PostmortemStatus.IN_REVIEW, now
        later.submitted_at = now
        later.save()
        rows = selectors.postmortems_due(stage=Stage.DRAFT, now=now, within=timedelta(hours=10))
        assert [r.pk for r in rows] == [postmortem.pk]

    def test_lists_take_one_query_whatever_the_row_count(self, django_assert_num_queries):
        for _ in range(5):
            PostmortemFactory()
        with django_assert_num_queries(1):
            rows = list(selectors.postmortem_list(now=T0))
            assert [r.incident.severity.name for r in rows]
            assert [r.incident.team.name for r in rows]
        with django_assert_num_queries(1):
            list(selectors.postmortems_due(stage=Stage.REVIEW, now=T0, within=timedelta(days=9)))


class TestTimelineInTheReadersZone:
    def test_grouped_by_phase_in_the_zone_with_the_zone_named(self, postmortem):
        TimelineEntryFactory(
            postmortem=postmortem,
            occurred_at=datetime(2026, 3, 2, 9, 3, tzinfo=UTC),
            phase=TimelinePhase.DETECTED,
            text="Alert fired",
        )
        TimelineEntryFactory(
            postmortem=postmortem,
            occurred_at=datetime(2026, 3, 2, 11, 0, tzinfo=UTC),
            phase=TimelinePhase.RESOLVED,
            text="Resolved",
        )
        TimelineEntryFactory(
            postmortem=postmortem,
            occurred_at=datetime(2026, 3, 2, 9, 1, tzinfo=UTC),
            phase=TimelinePhase.DETECTED,
            text="Errors began",
        )
        groups = selectors.postmortem_timeline(
            postmortem=postmortem, zone=zoneinfo.ZoneInfo("America/New_York")
        )
        assert [(g.label, [(line.moment, line.text) for line in g.lines]) for g in groups] == [
            (
                "Detected",
                [("2026-03-02 04:01 EST", "Errors began"), ("2026-03-02 04:03 EST", "Alert fired")],
            ),
            ("Resolved", [("2026-03-02 06:00 EST", "Resolved")]),
        ]


class TestActionItemOverdue:
    # Due 10 March: overdue strictly after the midnight that starts 11 March, project's zone.
    DUE_DATE = date(2026, 3, 10)

    @pytest.mark.parametrize(
        ("zone", "midnight_utc"),
        [
            ("UTC", datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),
            ("America/New_York", datetime(2026, 3, 11, 4, 0, tzinfo=UTC)),  # EDT since 8 March
        ],
    )
    def test_exactly_at_the_end_of_the_due_day_is_not_overdue_one_second_after_is(
        self, settings, zone, midnight_utc
    ):
        settings.TIME_ZONE = zone
        item = ActionItemFactory(due_date=self.DUE_DATE)
        with time_machine.travel(midnight_utc, tick=False):
            assert not selectors.action_item_list().get().is_overdue
            assert not selectors.action_items_overdue(now=midnight_utc).exists()
        with time_machine.travel(midnight_utc + SECOND, tick=False):
            assert selectors.action_item_list().get().is_overdue
            assert list(selectors.action_items_overdue(now=midnight_utc + SECOND)) == [item]

    @pytest.mark.parametrize("status", [ActionItemStatus.DONE, ActionItemStatus.WONT_DO])
    def test_closed_items_are_never_overdue(self, status):
        ActionItemFactory(
            due_date=self.DUE_DATE,
            status=status,
            completed_at=T0 if status == ActionItemStatus.DONE else None,
        )
        now = datetime(2026, 6, 1, tzinfo=UTC)
        assert not selectors.action_items_overdue(now=now).exists()
        assert not selectors.action_item_list(now=now).get().is_overdue

    def test_items_without_a_due_date_are_not_overdue(self):
        ActionItemFactory(due_date=None)
        assert not selectors.action_items_overdue(now=datetime(2030, 1, 1, tzinfo=UTC)).exists()


@pytest.fixture
def teams():
    """Two teams; Ann and Ben in Platform, Cat in Payments, Dan in no team."""
    platform, payments = TeamFactory(name="Platform"), TeamFactory(name="Payments")
    people = {}
    for username, team in [("ann", platform), ("ben", platform), ("cat", payments), ("dan", None)]:
        user = UserFactory(username=username, first_name=username.title(), last_name="Smith")
        ProfileFactory(user=user, team=team)
        people[username] = user
    return platform, payments, people


NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # after the factories' 20 March due date


def make_items(people):
    """Ann: 2 done, 1 open overdue, 1 won't do. Ben: 1 in progress not due yet. Cat: 1 open
    overdue. Dan: 1 done. Nobody: 1 open overdue."""
    done = {"status": ActionItemStatus.DONE, "completed_at": T0}
    ActionItemFactory(owner=people["ann"], **done)
    ActionItemFactory(owner=people["ann"], **done)
    ActionItemFactory(owner=people["ann"])
    ActionItemFactory(owner=people["ann"], status=ActionItemStatus.WONT_DO)
    ActionItemFactory(
        owner=people["ben"], status=ActionItemStatus.IN_PROGRESS, due_date=date(2026, 4, 1)
    )
    ActionItemFactory(owner=people["cat"])
    ActionItemFactory(owner=people["dan"], **done)
    ActionItemFactory(owner=None)


class TestActionItemFigures:
    def test_open_and_overdue_per_owner_and_team(self, teams):
        platform, _, people = teams
        make_items(people)
        assert selectors.action_items_open(owner=people["ann"]).count() == 1
        assert selectors.action_items_open(team=platform).count() == 2
        assert selectors.action_items_overdue(now=NOW, team=platform).count() == 1
        assert selectors.action_items_overdue(now=NOW, owner=people["cat"]).count() == 1
        assert selectors.action_items_overdue(now=NOW).count() == 3

    def test_stats_by_owner(self, teams):
        _, _, people = teams
        make_items(people)
        rows = {
            row.name: (row.total, row.open, row.overdue, row.done, row.wont_do, row.completion_rate)
            for row in selectors.action_item_stats_by_owner(now=NOW)
        }
        assert rows == {
            "Ann Smith": (4, 1, 1, 2, 1, Decimal("0.6667")),
            "Ben Smith": (1, 1, 0, 0, 0, Decimal("0.0000")),
            "Cat Smith": (1, 1, 1, 0, 0, Decimal("0.0000")),
            "Dan Smith": (1, 0, 0, 1, 0, Decimal("1.0000")),
            "Unassigned": (1, 1, 1, 0, 0, Decimal("0.0000")),
        }

    def test_stats_by_team(self, teams):
        platform, payments, people = teams
        make_items(people)
        rows = {
            row.name: (row.key, row.total, row.open, row.overdue, row.completion_rate)
            for row in selectors.action_item_stats_by_team(now=NOW)
        }
        assert rows == {
            "Platform": (platform.pk, 5, 2, 1, Decimal("0.5000")),
            "Payments": (payments.pk, 1, 1, 1, Decimal("0.0000")),
            "No team": (None, 2, 1, 1, Decimal("0.5000")),
        }

    def test_completion_rate(self, teams):
        platform, _, people = teams
        assert selectors.action_item_completion_rate() is None
        make_items(people)
        assert selectors.action_item_completion_rate() == Decimal("0.4286")  # 3 / (8 - 1)
        assert selectors.action_item_completion_rate(owner=people["ann"]) == Decimal("0.6667")
        assert selectors.action_item_completion_rate(team=platform) == Decimal("0.5000")
        # Nothing counts when every item is "won't do".
        assert selectors.completion_rate(done=0, total=2, wont_do=2) is None

    def test_figures_take_one_query_whatever_the_row_count(self, teams, django_assert_num_queries):
        _, _, people = teams
        make_items(people)
        for function in (
            selectors.action_item_stats_by_owner,
            selectors.action_item_stats_by_team,
        ):
            with django_assert_num_queries(1):
                function(now=NOW)
        with django_assert_num_queries(1):
            selectors.action_item_completion_rate()
        with django_assert_num_queries(1):
            rows = list(selectors.action_items_overdue(now=NOW))
            assert [r.postmortem.incident.reference for r in rows]
            assert [r.owner.profile.team for r in rows if r.owner]

    def test_stats_queries_do_not_grow(self, teams):
        _, _, people = teams
        make_items(people)

        def count():
            with CaptureQueriesContext(connection) as ctx:
                selectors.action_item_stats_by_owner(now=NOW)
                selectors.action_item_stats_by_team(now=NOW)
            return len(ctx.captured_queries)

        few = count()
        for n in range(30):
            user = UserFactory(username=f"extra{n}")
            ActionItemFactory(owner=user)
        assert count() == few
