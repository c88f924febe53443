"""Post-mortem deadline and action-item reminders at their boundaries."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from incidents import services as incident_services
from incidents.access import ENGINEERS
from incidents.models import IncidentStatus, Notification, TimelineEventKind
from postmortems import reminders, services
from postmortems.models import ActionItemStatus, PostmortemStatus
from postmortems.tasks import send_action_item_digests, sweep_action_items, sweep_deadlines
from tests.conftest import reads_and_writes
from tests.incidents.factories import (
    BASE_TIME,
    EngineerFactory,
    ProfileFactory,
    TeamFactory,
    UserFactory,
)
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory
from tests.postmortems.stories import published_checkout_postmortem

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def sent(kind: str) -> list[str]:
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    )


@pytest.fixture
def postmortem():
    em = UserFactory(username="em")
    team = TeamFactory(name="Payments", engineering_manager=em)
    owner = UserFactory(username="owner")
    pm = PostmortemFactory(incident__team=team, owner=owner)
    return pm


class TestDeadlines:
    def test_reminder_before_the_draft_deadline_then_overdue_notice(self, postmortem):
        due = postmortem.draft_due_at
        lead = timedelta(hours=4)
        assert reminders.sweep_postmortem_deadlines(now=due - lead - SECOND) == 0
        assert reminders.sweep_postmortem_deadlines(now=due - lead) == 1
        assert sent("postmortem_due_soon") == ["owner"]
        # Exactly at the deadline it is not overdue yet; one second later it is.
        assert reminders.sweep_postmortem_deadlines(now=due) == 0
        assert reminders.sweep_postmortem_deadlines(now=due + SECOND) == 2
        assert sent("postmortem_overdue") == ["em", "owner"]
        assert reminders.sweep_postmortem_deadlines(now=due + timedelta(hours=1)) == 0
        events = postmortem.incident.timeline.filter(kind=TimelineEventKind.REMINDER)
        messages = [e.message for e in events.order_by("occurred_at", "id")]
        assert len(messages) == 2
        assert messages[0].startswith("Reminder: post-mortem draft deadline 2026-")
        assert messages[1] == "Reminder: post-mortem draft deadline missed"

    def test_the_overdue_notice_quotes_the_policy_in_force(self, postmortem, manager):
        services.postmortem_policy_update(
            by=manager,
            draft_within=timedelta(hours=48),
            review_within=timedelta(hours=96),
            publish_within=timedelta(hours=120),
            remind_before=timedelta(hours=4),
        )
        reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND)
        body = Notification.objects.filter(kind="postmortem_overdue").first().body
        assert (
            "a draft within 48 hours, the review within 96 hours and publication within "
            "120 hours of resolution" in body
        )

    def test_a_deadline_missed_more_than_the_notice_window_ago_is_history(self, postmortem):
        # The first sweep in a long while: every deadline passed more than a week ago.
        late = postmortem.publish_due_at + reminders.NOTICE_WINDOW
        assert reminders.sweep_postmortem_deadlines(now=late + SECOND) == 0
        assert sent("postmortem_overdue") == []
        # A week to the second after the last deadline, that one is still noticed (the draft
        # and review deadlines, one and two days earlier, are history).
        assert reminders.sweep_postmortem_deadlines(now=late) == 2
        assert sent("postmortem_overdue") == ["em", "owner"]
        stages = Notification.objects.values_list("payload__stage", flat=True)
        assert set(stages) == {"publish"}

    def test_the_incidents_engineering_manager_role_wins_over_the_team_manager(self, postmortem):
        from incidents.models import IncidentRole

        incident_services.role_assign(
            incident=postmortem.incident,
            role=IncidentRole.ENGINEERING_MANAGER,
            user=UserFactory(username="incident-em"),
            by=None,
            at=postmortem.incident.started_at,
        )
        reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND)
        assert sent("postmortem_overdue") == ["incident-em", "owner"]

    def test_nothing_once_the_stage_is_reached_or_published(self, postmortem):
        postmortem.draft_started_at = postmortem.scheduled_at
        postmortem.submitted_at = postmortem.draft_due_at - timedelta(hours=5)
        postmortem.status = PostmortemStatus.IN_REVIEW
        postmortem.save()
        assert reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND) == 0

    def test_nothing_once_published(self):
        published, _ = published_checkout_postmortem()
        assert published.status == PostmortemStatus.PUBLISHED
        assert reminders.sweep_postmortem_deadlines(now=published.publish_due_at + SECOND) == 0

    def test_lead_time_comes_from_the_policy(self, postmortem, manager):
        policy = services.postmortem_policy_update(
            by=manager,
            draft_within=timedelta(hours=24),
            review_within=timedelta(hours=48),
            publish_within=timedelta(hours=72),
            remind_before=timedelta(hours=1),
        )
        assert policy.remind_before == timedelta(hours=1)
        due = postmortem.draft_due_at
        assert sweep_deadlines((due - timedelta(hours=1) - SECOND).isoformat()) == 0
        assert sweep_deadlines((due - timedelta(hours=1)).isoformat()) == 1


class TestActionItems:
    @pytest.fixture
    def item(self):
        team = TeamFactory(name="Platform", engineering_manager=UserFactory(username="boss"))
        owner = UserFactory(username="owner")
        ProfileFactory(user=owner, team=team)
        return ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))

    def test_due_soon_overdue_and_escalation_at_their_edges(self, item):
        # Due on 20 March (project zone UTC): reminded from 18 March (2 days before).
        assert reminders.sweep_action_items(now=datetime(2026, 3, 17, 23, 59, 59, tzinfo=UTC)) == 0
        assert reminders.sweep_action_items(now=datetime(2026, 3, 18, tzinfo=UTC)) == 1
        assert sent("action_item_due_soon") == ["owner"]
        # Overdue strictly after the end of 20 March.
        assert reminders.sweep_action_items(now=datetime(2026, 3, 21, tzinfo=UTC)) == 0
        assert reminders.sweep_action_items(now=datetime(2026, 3, 21, 0, 0, 1, tzinfo=UTC)) == 1
        assert sent("action_item_overdue") == ["owner"]
        # Escalated to the owner's manager once more than 7 days late: overdue since 21 March
        # 00:00, it is exactly 7 days late at 28 March 00:00, and more one second later.
        assert reminders.sweep_action_items(now=datetime(2026, 3, 27, 12, tzinfo=UTC)) == 0
        assert reminders.sweep_action_items(now=datetime(2026, 3, 28, tzinfo=UTC)) == 0
        assert reminders.sweep_action_items(now=datetime(2026, 3, 28, 0, 0, 1, tzinfo=UTC)) == 1
        assert sent("action_item_escalation") == ["boss"]
        assert sweep_action_items(datetime(2026, 4, 28, tzinfo=UTC).isoformat()) == 0

    def test_an_item_past_its_escalation_by_more_than_the_notice_window_is_history(self, item):
        # Due 20 March, escalated from 28 March; a first sweep long after says nothing.
        last_day = datetime(2026, 3, 28, tzinfo=UTC) + reminders.NOTICE_WINDOW
        assert reminders.sweep_action_items(now=last_day + timedelta(days=1)) == 0
        assert reminders.sweep_action_items(now=last_day) == 2  # overdue and escalation
        assert sent("action_item_escalation") == ["boss"]

    def test_chased_after_the_incident_is_closed_but_not_once_done(self, item):
        incident = item.postmortem.incident
        incident_services.incident_change_status(
            incident=incident, to_status=IncidentStatus.CLOSED, by=None
        )
        assert reminders.sweep_action_items(now=datetime(2026, 3, 22, tzinfo=UTC)) == 1
        services.action_item_complete(item=item, by=item.owner)
        assert reminders.sweep_action_items(now=datetime(2026, 4, 22, tzinfo=UTC)) == 0
        wont = ActionItemFactory(owner=item.owner, status=ActionItemStatus.WONT_DO)
        assert wont.status == ActionItemStatus.WONT_DO
        assert reminders.sweep_action_items(now=datetime(2026, 4, 22, tzinfo=UTC)) == 0

    def test_reopened_or_given_to_someone_long_after_its_due_date_it_is_chased_again(self, item):
        # Due 20 March: reminded, escalated, then done. Reopened in May, the fix did not hold.
        reminders.sweep_action_items(now=datetime(2026, 3, 28, 0, 0, 1, tzinfo=UTC))
        services.action_item_complete(item=item, by=item.owner, at=datetime(2026, 4, 1, tzinfo=UTC))
        may = datetime(2026, 5, 4, 9, tzinfo=UTC)
        services.action_item_reopen(item=item, by=item.owner, at=may)
        assert reminders.sweep_action_items(now=may + timedelta(hours=1)) == 2
        assert sent("action_item_overdue") == ["owner", "owner"]
        assert sent("action_item_escalation") == ["boss", "boss"]
        assert reminders.sweep_action_items(now=may + timedelta(hours=2)) == 0
        # Given to someone else: the new owner hears of it.
        newcomer = EngineerFactory(username="newcomer")
        ProfileFactory(user=newcomer, team=TeamFactory(name="Payments"))
        services.action_items_reassign(items=[item], owner=newcomer, by=None, at=may)
        reminders.sweep_action_items(now=may + timedelta(hours=3))
        assert sent("action_item_overdue") == ["newcomer", "owner", "owner"]

    def test_a_new_owner_gets_the_grace_period_before_their_manager_hears(self, item):
        # Due 20 March, given to someone on another team a month later: the newcomer is told
        # at once, their manager only once the grace period has passed for them.
        newcomer = EngineerFactory(username="newcomer")
        other = TeamFactory(name="Search", engineering_manager=UserFactory(username="quinn"))
        ProfileFactory(user=newcomer, team=other)
        given = datetime(2026, 4, 20, 10, tzinfo=UTC)
        services.action_items_reassign(items=[item], owner=newcomer, by=None, at=given)
        reminders.sweep_action_items(now=given + timedelta(hours=1))
        assert sent("action_item_overdue") == ["newcomer"]
        assert sent("action_item_escalation") == []
        reminders.sweep_action_items(now=datetime(2026, 4, 27, 23, tzinfo=UTC))  # 7 days: grace
        assert sent("action_item_escalation") == []
        reminders.sweep_action_items(now=datetime(2026, 4, 28, 0, 0, 1, tzinfo=UTC))
        assert sent("action_item_escalation") == ["quinn"]
        escalation = Notification.objects.get(kind="action_item_escalation")
        assert "39 days late" in escalation.subject  # late since its due date all the same

    def test_an_item_added_already_overdue_gets_the_grace_period_too(self, item):
        # Added on 20 April with a due date typed in the past (the 10th): the owner is told at
        # once, their manager only once the grace period has passed since it became theirs.
        added = datetime(2026, 4, 20, 10, tzinfo=UTC)
        item.owner.groups.add(Group.objects.get(name=ENGINEERS))
        late = services.action_item_add(
            postmortem=item.postmortem,
            by=None,
            title="Rotate the keys",
            owner=item.owner,
            due_date=date(2026, 4, 10),
            at=added,
        )
        item.delete()
        reminders.sweep_action_items(now=added + timedelta(minutes=5))
        assert sent("action_item_overdue") == ["owner"]
        assert sent("action_item_escalation") == []
        reminders.sweep_action_items(now=datetime(2026, 4, 28, 0, 0, 1, tzinfo=UTC))
        assert sent("action_item_escalation") == ["boss"]
        assert (
            Notification.objects.get(kind="action_item_escalation").payload["action_item"]
            == late.pk
        )

    def test_the_notices_say_when_the_day_ends_on_the_owners_clock(self, item):
        # Due 20 March: by midnight UTC (the project's zone), 17:00 the day before in Los
        # Angeles (PDT since 8 March).
        item.owner.profile.time_zone = "America/Los_Angeles"
        item.owner.profile.save()
        reminders.sweep_action_items(now=datetime(2026, 3, 19, 12, tzinfo=UTC))
        soon = Notification.objects.get(kind="action_item_due_soon")
        assert "is due on 2026-03-20 (by Fri 20 Mar 17:00 PDT your time)" in soon.body
        reminders.sweep_action_items(now=datetime(2026, 3, 21, 0, 0, 1, tzinfo=UTC))
        late = Notification.objects.get(kind="action_item_overdue")
        assert "was due on 2026-03-20 (by Fri 20 Mar 17:00 PDT your time)" in late.body

    def test_moving_the_due_date_starts_over(self, item):
        reminders.sweep_action_items(now=datetime(2026, 3, 21, 12, tzinfo=UTC))
        services.action_item_update(item=item, by=item.owner, due_date=date(2026, 4, 1))
        assert reminders.sweep_action_items(now=datetime(2026, 4, 2, 12, tzinfo=UTC)) == 1
        assert len(sent("action_item_overdue")) == 2


class TestDigest:
    def test_weekly_digest_once_per_week_and_muted_on_request(self):
        ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
        ActionItemFactory(owner=ada, title="Add disk alerts")
        ActionItemFactory(owner=ada, title="Rotate keys")
        ActionItemFactory(owner=bob)
        monday = datetime(2026, 3, 23, 7, tzinfo=UTC)
        assert send_action_item_digests(monday.isoformat()) == 2
        assert send_action_item_digests((monday + timedelta(hours=3)).isoformat()) == 0
        digest = Notification.objects.get(kind="action_item_digest", recipient=ada)
        assert "Add disk alerts" in digest.body
        assert "Rotate keys" in digest.body
        assert "(OVERDUE)" in digest.body  # due 20 March
        incident_services.profile_set_digest_muted(user=bob, muted=True)
        assert send_action_item_digests((monday + timedelta(weeks=1)).isoformat()) == 1
        assert sent("action_item_digest") == ["ada", "ada", "bob"]

    def test_muting_the_digest_does_not_mute_escalations(self):
        team = TeamFactory(name="Platform", engineering_manager=UserFactory(username="boss"))
        owner = UserFactory(username="quiet")
        ProfileFactory(user=owner, team=team)
        incident_services.profile_set_digest_muted(user=owner, muted=True)
        ActionItemFactory(owner=owner, due_date=date(2026, 4, 10))
        reminders.sweep_action_items(now=datetime(2026, 4, 20, tzinfo=UTC))
        assert sent("action_item_overdue") == ["quiet"]
        assert sent("action_item_escalation") == ["boss"]


@pytest.mark.parametrize(
    ("sweep", "first", "second"),
    [
        # Deadlines 3-5 March (the incidents start on 2 March): all recent on the 8th.
        (reminders.sweep_postmortem_deadlines, datetime(2026, 3, 8, tzinfo=UTC), None),
        # Items due 20 March: overdue, and inside the notice window, on the 25th and 26th.
        (
            reminders.sweep_action_items,
            datetime(2026, 3, 25, tzinfo=UTC),
            datetime(2026, 3, 26, tzinfo=UTC),
        ),
        (
            reminders.send_action_item_digests,
            datetime(2026, 3, 25, tzinfo=UTC),
            datetime(2026, 4, 25, tzinfo=UTC),
        ),
    ],
)
def test_sweeps_take_a_constant_number_of_queries(sweep, first, second):
    def build(count):
        for _ in range(count):
            team = TeamFactory(engineering_manager=UserFactory())
            owner = UserFactory()
            ProfileFactory(user=owner, team=team)
            # A fixed start: the factory's sequence would otherwise move the deadlines with
            # every incident created earlier in the session, and with them what is due.
            pm = PostmortemFactory(incident__team=team, incident__started_at=BASE_TIME, owner=owner)
            ActionItemFactory(postmortem=pm, owner=owner)

    build(3)
    small, _ = reads_and_writes(lambda: sweep(now=first))
    assert Notification.objects.exists()  # the small run had work too
    before = Notification.objects.count()
    build(30)
    large, inserts = reads_and_writes(lambda: sweep(now=second or first))
    assert large == small
    assert Notification.objects.count() >= before + 30  # and the large one ten times more
    assert inserts < 10  # batched, never one per row
