from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents.models import TimelineEventKind
from postmortems import services
from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemStatus,
    TimelinePhase,
)
from tests.incidents.factories import BASE_TIME, EngineerFactory, UserFactory
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db

T0 = BASE_TIME
R = T0 + timedelta(hours=2)  # when the incidents below were resolved


@pytest.fixture
def author():
    return EngineerFactory(username="author", first_name="Ada", last_name="Author")


@pytest.fixture
def reviewer():
    return EngineerFactory(username="reviewer", first_name="Rob", last_name="Reviewer")


def scheduled() -> Postmortem:
    return PostmortemFactory(incident__started_at=T0)


def drafting(by) -> Postmortem:
    return services.postmortem_start_draft(postmortem=scheduled(), by=by, at=R + timedelta(hours=1))


def write_everything(postmortem, by) -> Postmortem:
    services.postmortem_update_sections(
        postmortem=postmortem,
        by=by,
        summary="Checkout failed for 40 minutes.",
        impact="All card payments failed.",
        root_cause="A config push removed the payments route.",
        what_went_well="Alerting paged within a minute.",
        what_could_be_improved="Config pushes skip canarying.",
        at=R + timedelta(hours=2),
    )
    services.timeline_entry_add(
        postmortem=postmortem, by=by, occurred_at=T0 + timedelta(minutes=3), text="Alert fired"
    )
    services.five_why_add(
        postmortem=postmortem,
        by=by,
        question="Why did checkout fail?",
        answer="The payments route was missing.",
    )
    return postmortem


def in_review(by) -> Postmortem:
    postmortem = write_everything(drafting(by), by)
    return services.postmortem_submit_for_review(
        postmortem=postmortem, by=by, at=R + timedelta(hours=20)
    )


def ready_to_publish(by) -> Postmortem:
    postmortem = in_review(by)
    return services.postmortem_record_review_meeting(
        postmortem=postmortem,
        by=by,
        held_at=R + timedelta(hours=40),
        at=R + timedelta(hours=41),
    )


def messages_of(error) -> list[str]:
    return error.value.messages


class TestStatusMoves:
    def test_start_draft_makes_the_starter_the_owner_and_stamps_the_moment(self, author):
        postmortem = services.postmortem_start_draft(
            postmortem=scheduled(), by=author, at=R + timedelta(hours=1)
        )
        assert postmortem.status == PostmortemStatus.DRAFT
        assert postmortem.owner == author
        assert postmortem.draft_started_at == R + timedelta(hours=1)

    def test_start_draft_keeps_an_assigned_owner_or_takes_the_one_given(
        self, author, reviewer, manager
    ):
        postmortem = scheduled()
        services.postmortem_assign(postmortem=postmortem, owner=author, by=manager)
        assert services.postmortem_start_draft(postmortem=postmortem, by=manager).owner == author
        other = services.postmortem_start_draft(postmortem=scheduled(), by=manager, owner=reviewer)
        assert other.owner == reviewer

    def test_the_full_path_to_published(self, author):
        postmortem = ready_to_publish(author)
        postmortem = services.postmortem_publish(
            postmortem=postmortem, by=author, at=R + timedelta(hours=50)
        )
        assert postmortem.status == PostmortemStatus.PUBLISHED
        assert postmortem.submitted_at == R + timedelta(hours=20)
        assert postmortem.review_meeting_at == R + timedelta(hours=40)
        assert postmortem.published_at == R + timedelta(hours=50)
        event = postmortem.incident.timeline.get(kind=TimelineEventKind.POSTMORTEM)
        assert event.message == "Post-mortem published by Ada Author"
        assert event.author == author
        assert event.occurred_at == R + timedelta(hours=50)

    @pytest.mark.parametrize(
        ("service", "start", "message"),
        [
            ("postmortem_start_draft", "draft", "from Draft to Draft"),
            ("postmortem_submit_for_review", "scheduled", "from Scheduled to In review"),
            ("postmortem_submit_for_review", "in_review", "from In review to In review"),
            ("postmortem_return_to_draft", "scheduled", "from Scheduled to Draft"),
            ("postmortem_return_to_draft", "draft", "from Draft to Draft"),
            ("postmortem_publish", "scheduled", "from Scheduled to Published"),
            ("postmortem_publish", "draft", "from Draft to Published"),
        ],
    )
    def test_invalid_moves_are_refused_naming_the_move(self, author, service, start, message):
        postmortem = {"scheduled": scheduled, "draft": drafting, "in_review": in_review}[start]
        postmortem = postmortem(author) if start != "scheduled" else postmortem()
        with pytest.raises(ValidationError) as error:
            getattr(services, service)(postmortem=postmortem, by=author)
        assert messages_of(error) == [f"A post-mortem cannot move {message}."]
        postmortem.refresh_from_db()
        assert postmortem.status == start

    def test_nothing_moves_a_published_post_mortem(self, author):
        postmortem = services.postmortem_publish(postmortem=ready_to_publish(author), by=author)
        for service in (
            services.postmortem_start_draft,
            services.postmortem_submit_for_review,
            services.postmortem_return_to_draft,
            services.postmortem_publish,
        ):
            with pytest.raises(ValidationError) as error:
                service(postmortem=postmortem, by=author)
            assert messages_of(error) == [services.PUBLISHED_IS_FINAL]
        with pytest.raises(ValidationError) as error:
            services.postmortem_update_sections(postmortem=postmortem, by=author, summary="x")
        assert messages_of(error) == [services.PUBLISHED_IS_FINAL]

    def test_return_to_draft_clears_the_submission_but_keeps_the_meeting(self, author):
        postmortem = ready_to_publish(author)
        postmortem = services.postmortem_return_to_draft(
            postmortem=postmortem, by=author, at=R + timedelta(hours=42)
        )
        assert postmortem.status == PostmortemStatus.DRAFT
        assert postmortem.submitted_at is None
        assert postmortem.review_meeting_at == R + timedelta(hours=40)
        statuses = list(postmortem.history.order_by("history_id"))
        assert [h.submitted_at for h in statuses][-2:] == [R + timedelta(hours=20), None]


class TestHistory:
    def test_status_and_owner_changes_are_kept_with_who_and_when(self, author, manager):
        postmortem = scheduled()
        services.postmortem_assign(
            postmortem=postmortem, owner=author, by=manager, at=R + timedelta(minutes=5)
        )
        services.postmortem_start_draft(postmortem=postmortem, by=author, at=R + timedelta(hours=1))
        rows = list(
            postmortem.history.order_by("history_id").values_list(
                "status", "owner", "history_user", "history_date"
            )
        )
        assert rows[-2:] == [
            ("scheduled", author.pk, manager.pk, R + timedelta(minutes=5)),
            ("draft", author.pk, author.pk, R + timedelta(hours=1)),
        ]


class TestSections:
    def test_writing_needs_a_started_draft(self, author):
        with pytest.raises(ValidationError) as error:
            services.postmortem_update_sections(postmortem=scheduled(), by=author, summary="x")
        assert messages_of(error) == [services.START_DRAFT_FIRST]

    def test_unknown_sections_are_refused(self, author):
        with pytest.raises(ValidationError) as error:
            services.postmortem_update_sections(
                postmortem=drafting(author), by=author, status="published", blame="Bob"
            )
        assert messages_of(error) == [services.UNKNOWN_SECTIONS.format(names="blame, status")]

    def test_only_real_changes_are_saved_and_recorded(self, author):
        postmortem = drafting(author)
        before = postmortem.history.count()
        services.postmortem_update_sections(
            postmortem=postmortem, by=author, summary="  Checkout failed.  ", impact=""
        )
        services.postmortem_update_sections(
            postmortem=postmortem, by=author, summary="Checkout failed."
        )
        postmortem.refresh_from_db()
        assert postmortem.summary == "Checkout failed."
        assert postmortem.history.count() == before + 1

    def test_sections_can_still_change_in_review(self, author):
        postmortem = in_review(author)
        services.postmortem_update_sections(postmortem=postmortem, by=author, impact="Revised.")
        postmortem.refresh_from_db()
        assert postmortem.impact == "Revised."


class TestReviewMeeting:
    def test_only_in_review(self, author):
        with pytest.raises(ValidationError, match="once the draft is in review"):
            services.postmortem_record_review_meeting(
                postmortem=drafting(author), by=author, held_at=R + timedelta(hours=2)
            )

    def test_not_in_the_future_nor_before_the_resolution(self, author):
        postmortem = in_review(author)
        now = R + timedelta(hours=30)
        with pytest.raises(ValidationError) as error:
            services.postmortem_record_review_meeting(
                postmortem=postmortem, by=author, held_at=now + timedelta(seconds=1), at=now
            )
        assert messages_of(error) == [services.MEETING_IN_FUTURE]
        with pytest.raises(ValidationError) as error:
            services.postmortem_record_review_meeting(
                postmortem=postmortem, by=author, held_at=R - timedelta(seconds=1), at=now
            )
        assert messages_of(error) == [services.MEETING_BEFORE_RESOLUTION]

    def test_recording_again_corrects_the_moment(self, author):
        postmortem = ready_to_publish(author)
        services.postmortem_record_review_meeting(
            postmortem=postmortem, by=author, held_at=R + timedelta(hours=39)
        )
        postmortem.refresh_from_db()
        assert postmortem.review_meeting_at == R + timedelta(hours=39)


class TestPublishRefusals:
    def test_submitting_an_empty_draft_is_refused(self, author):
        # An empty draft would meet the "draft within 24 hours" deadline.
        postmortem = drafting(author)
        with pytest.raises(ValidationError, match="Write the summary before submitting"):
            services.postmortem_submit_for_review(postmortem=postmortem, by=author)
        postmortem.refresh_from_db()
        assert (postmortem.status, postmortem.submitted_at) == (PostmortemStatus.DRAFT, None)

    def test_an_empty_post_mortem_names_everything_missing(self, author):
        postmortem = drafting(author)
        services.postmortem_update_sections(postmortem=postmortem, by=author, summary="Down.")
        postmortem = services.postmortem_submit_for_review(postmortem=postmortem, by=author)
        # The summary emptied again in review: publishing names it with the rest.
        services.postmortem_update_sections(postmortem=postmortem, by=author, summary="")
        postmortem.timeline_entries.all().delete()
        with pytest.raises(ValidationError) as error:
            services.postmortem_publish(postmortem=postmortem, by=author)
        assert messages_of(error) == [
            "The post-mortem cannot be published yet. Missing: the summary section; "
            "the impact section; the root cause section; the what went well section; "
            "the what could be improved section; at least one timeline entry; "
            "at least one of the 5 Whys; the review meeting."
        ]
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.IN_REVIEW
        assert postmortem.published_at is None

    def test_lessons_learned_is_optional(self, author):
        postmortem = ready_to_publish(author)
        assert postmortem.lessons_learned == ""
        assert services.postmortem_publish_blockers(postmortem) == []

    def test_a_blank_section_counts_as_empty(self, author):
        postmortem = ready_to_publish(author)
        Postmortem.objects.filter(pk=postmortem.pk).update(root_cause="   \n")
        with pytest.raises(ValidationError) as error:
            services.postmortem_publish(postmortem=postmortem, by=author)
        assert messages_of(error) == [
            "The post-mortem cannot be published yet. Missing: the root cause section."
        ]

    def test_unanswered_whys_are_named(self, author):
        postmortem = ready_to_publish(author)
        services.five_why_add(postmortem=postmortem, by=author, question="Why no canary?")
        with pytest.raises(ValidationError) as error:
            services.postmortem_publish(postmortem=postmortem, by=author)
        assert messages_of(error) == [
            "The post-mortem cannot be published yet. Missing: the answer to why #2."
        ]

    def test_action_items_without_owner_or_due_date_are_named(self, author):
        postmortem = ready_to_publish(author)
        services.action_item_add(postmortem=postmortem, by=author, title="Canary config pushes")
        services.action_item_add(
            postmortem=postmortem, by=author, title="Alert on route count", owner=author
        )
        services.action_item_add(
            postmortem=postmortem,
            by=author,
            title="Runbook for config rollback",
            due_date=date(2026, 3, 20),
        )
        with pytest.raises(ValidationError) as error:
            services.postmortem_publish(postmortem=postmortem, by=author)
        assert messages_of(error) == [
            "The post-mortem cannot be published yet. Missing: "
            "an owner for action item “Canary config pushes”; "
            "a due date for action item “Canary config pushes”; "
            "a due date for action item “Alert on route count”; "
            "an owner for action item “Runbook for config rollback”."
        ]

    def test_publishes_once_every_item_has_owner_and_due_date(self, author):
        postmortem = ready_to_publish(author)
        item = services.action_item_add(postmortem=postmortem, by=author, title="Canary")
        with pytest.raises(ValidationError):
            services.postmortem_publish(postmortem=postmortem, by=author)
        services.action_item_update(item=item, by=author, owner=author, due_date=date(2026, 3, 20))
        assert services.postmortem_publish(postmortem=postmortem, by=author).is_published

    def test_not_published_while_its_incident_is_open_again(self, author):
        from incidents import services as incident_services

        postmortem = ready_to_publish(author)
        incident_services.incident_change_status(
            incident=postmortem.incident, to_status="investigating", by=author, note="Back"
        )
        with pytest.raises(ValidationError) as error:
            services.postmortem_publish(postmortem=postmortem, by=author)
        assert "the incident's resolution (it is open again)" in messages_of(error)[0]
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.IN_REVIEW


class TestTimelineEntries:
    def test_added_entries_take_the_phase_their_moment_falls_in(self, author):
        postmortem = drafting(author)  # acknowledged T0+5m, mitigated T0+1h, resolved T0+2h
        cases = [
            (T0 + timedelta(minutes=4), TimelinePhase.DETECTED),
            (T0 + timedelta(minutes=5), TimelinePhase.ACKNOWLEDGED),
            (T0 + timedelta(minutes=59), TimelinePhase.ACKNOWLEDGED),
            (T0 + timedelta(hours=1), TimelinePhase.MITIGATED),
            (R, TimelinePhase.RESOLVED),
        ]
        for moment, phase in cases:
            entry = services.timeline_entry_add(
                postmortem=postmortem, by=author, occurred_at=moment, text="x", at=R
            )
            assert entry.phase == phase, moment

    def test_the_author_may_choose_the_phase_and_correct_entries(self, author):
        postmortem = drafting(author)
        entry = services.timeline_entry_add(
            postmortem=postmortem,
            by=author,
            occurred_at=T0,
            text="Customer tweets",
            phase=TimelinePhase.DETECTED,
        )
        entry = services.timeline_entry_update(
            entry=entry,
            by=author,
            occurred_at=T0 + timedelta(minutes=6),
            phase=TimelinePhase.ACKNOWLEDGED,
        )
        entry.refresh_from_db()
        assert (entry.occurred_at, entry.phase, entry.text) == (
            T0 + timedelta(minutes=6),
            TimelinePhase.ACKNOWLEDGED,
            "Customer tweets",
        )

    def test_invalid_entries_are_refused(self, author):
        postmortem = drafting(author)
        with pytest.raises(ValidationError) as error:
            services.timeline_entry_add(
                postmortem=postmortem,
                by=author,
                occurred_at=R + timedelta(seconds=1),
                text=" ",
                phase="panic",
                at=R,
            )
        assert error.value.message_dict == {
            "text": [services.ENTRY_TEXT_REQUIRED],
            "occurred_at": [services.ENTRY_IN_FUTURE],
            "phase": [services.UNKNOWN_PHASE],
        }

    def test_entries_are_frozen_while_scheduled(self, author):
        postmortem = scheduled()
        with pytest.raises(ValidationError, match="Start the draft"):
            services.timeline_entry_add(postmortem=postmortem, by=author, occurred_at=T0, text="x")


class TestFiveWhys:
    def test_added_in_order_removed_and_renumbered(self, author):
        postmortem = drafting(author)
        first = services.five_why_add(postmortem=postmortem, by=author, question="Why 1?")
        second = services.five_why_add(postmortem=postmortem, by=author, question="Why 2?")
        third = services.five_why_add(postmortem=postmortem, by=author, question="Why 3?")
        assert [first.position, second.position, third.position] == [1, 2, 3]
        services.five_why_remove(why=second, by=author)
        assert list(
            FiveWhy.objects.filter(postmortem=postmortem).values_list("question", "position")
        ) == [("Why 1?", 1), ("Why 3?", 2)]

    def test_reorder(self, author):
        postmortem = drafting(author)
        whys = [
            services.five_why_add(postmortem=postmortem, by=author, question=f"Why {n}?")
            for n in range(1, 6)
        ]
        order = [whys[4].pk, whys[0].pk, whys[3].pk, whys[1].pk, whys[2].pk]
        result = services.five_whys_reorder(postmortem=postmortem, by=author, order=order)
        assert [w.pk for w in result] == order
        assert [w.position for w in result] == [1, 2, 3, 4, 5]

    @pytest.mark.parametrize("bad", ["missing", "duplicate", "foreign"])
    def test_reorder_must_list_every_why_once(self, author, bad):
        postmortem = drafting(author)
        whys = [
            services.five_why_add(postmortem=postmortem, by=author, question=f"Why {n}?")
            for n in range(1, 4)
        ]
        ids = [w.pk for w in whys]
        order = {
            "missing": ids[:2],
            "duplicate": [ids[0], ids[0], ids[1], ids[2]],
            "foreign": [*ids[:2], 987654],
        }[bad]
        with pytest.raises(ValidationError) as error:
            services.five_whys_reorder(postmortem=postmortem, by=author, order=order)
        assert messages_of(error) == [services.REORDER_MISMATCH]

    def test_update_and_question_required(self, author):
        postmortem = drafting(author)
        why = services.five_why_add(postmortem=postmortem, by=author, question="Why?")
        why = services.five_why_update(why=why, by=author, answer=" Because. ")
        assert why.answer == "Because."
        with pytest.raises(ValidationError) as error:
            services.five_why_update(why=why, by=author, question="  ")
        assert error.value.message_dict == {"question": [services.QUESTION_REQUIRED]}
        with pytest.raises(ValidationError):
            services.five_why_add(postmortem=postmortem, by=author, question="")


class TestActionItems:
    def test_add_with_defaults(self, author):
        postmortem = drafting(author)
        item = services.action_item_add(
            postmortem=postmortem, by=author, title=" Canary config pushes ", at=R
        )
        assert item.title == "Canary config pushes"
        assert (item.kind, item.priority, item.status) == ("prevent", "p3", "open")
        assert item.owner is None
        assert item.due_date is None
        assert item.created_at == R

    def test_invalid_values_are_refused_by_field(self, author):
        with pytest.raises(ValidationError) as error:
            services.action_item_add(
                postmortem=drafting(author),
                by=author,
                title="",
                kind="blame",
                priority="p0",
                tracker_url="jira/OPS-1",
            )
        assert error.value.message_dict == {
            "title": [services.ITEM_TITLE_REQUIRED],
            "kind": [services.UNKNOWN_KIND],
            "priority": [services.UNKNOWN_PRIORITY],
            "tracker_url": [services.INVALID_TRACKER_URL],
        }
        assert not ActionItem.objects.exists()

    def test_complete_stamps_who_and_when_and_reopen_clears_it_keeping_history(
        self, author, reviewer
    ):
        item = ActionItemFactory(owner=author)
        item = services.action_item_complete(item=item, by=reviewer, at=R + timedelta(days=3))
        assert item.status == ActionItemStatus.DONE
        assert (item.completed_by, item.completed_at) == (reviewer, R + timedelta(days=3))

        item = services.action_item_reopen(item=item, by=author, at=R + timedelta(days=4))
        assert item.status == ActionItemStatus.OPEN
        assert (item.completed_by, item.completed_at) == (None, None)
        rows = list(
            item.history.order_by("history_id").values_list(
                "status", "completed_by", "completed_at", "history_user"
            )
        )
        assert rows[-2:] == [
            ("done", reviewer.pk, R + timedelta(days=3), reviewer.pk),
            ("open", None, None, author.pk),
        ]

    def test_status_moves(self, author):
        item = ActionItemFactory()
        item = services.action_item_set_status(item=item, status="in_progress", by=author)
        item = services.action_item_set_status(item=item, status="wont_do", by=author)
        assert item.completed_at is None
        with pytest.raises(ValidationError) as error:
            services.action_item_set_status(item=item, status="done", by=author)
        assert error.value.message_dict == {
            "status": ["An action item cannot move from won't do to done; reopen it first."]
        }
        with pytest.raises(ValidationError) as error:
            services.action_item_set_status(item=item, status="wont_do", by=author)
        assert error.value.message_dict == {"status": ["The action item is already won't do."]}
        with pytest.raises(ValidationError):
            services.action_item_set_status(item=item, status="cancelled", by=author)
        item = services.action_item_reopen(item=item, by=author)
        assert item.status == ActionItemStatus.OPEN
        with pytest.raises(ValidationError, match="already open"):
            services.action_item_reopen(item=item, by=author)

    def test_completing_twice_is_refused(self, author):
        item = services.action_item_complete(item=ActionItemFactory(), by=author)
        with pytest.raises(ValidationError, match="already done"):
            services.action_item_complete(item=item, by=author)

    def test_update_saves_only_real_changes_with_history(self, author, reviewer):
        item = ActionItemFactory(owner=author)
        before = item.history.count()
        services.action_item_update(
            item=item, by=author, title=item.title, owner=reviewer, due_date=date(2026, 4, 1)
        )
        services.action_item_update(item=item, by=author, owner=reviewer)
        item.refresh_from_db()
        assert (item.owner, item.due_date) == (reviewer, date(2026, 4, 1))
        assert item.history.count() == before + 1
        latest = item.history.latest("history_id")
        assert (latest.owner, latest.history_user) == (reviewer, author)

    def test_update_refuses_status_and_unknown_fields(self, author):
        with pytest.raises(ValidationError) as error:
            services.action_item_update(item=ActionItemFactory(), by=author, status="done")
        assert messages_of(error) == [services.UNKNOWN_ITEM_FIELDS.format(names="status")]

    def test_items_of_a_published_post_mortem_keep_owner_and_due_date(self, author):
        postmortem = services.postmortem_publish(postmortem=ready_to_publish(author), by=author)
        with pytest.raises(ValidationError) as error:
            services.action_item_add(postmortem=postmortem, by=author, title="Follow-up")
        assert error.value.message_dict == {
            "owner": [services.PUBLISHED_ITEM_NEEDS],
            "due_date": [services.PUBLISHED_ITEM_NEEDS],
        }
        item = services.action_item_add(
            postmortem=postmortem,
            by=author,
            title="Follow-up",
            owner=author,
            due_date=date(2026, 4, 1),
        )
        with pytest.raises(ValidationError):
            services.action_item_update(item=item, by=author, due_date=None)
        # Tracking continues after publishing.
        assert services.action_item_complete(item=item, by=author).status == "done"

    def test_inactive_owners_are_refused(self, author):
        gone = UserFactory(username="gone", is_active=False)
        with pytest.raises(ValidationError) as error:
            services.action_item_add(postmortem=drafting(author), by=author, title="x", owner=gone)
        assert "is not an active user" in error.value.message_dict["owner"][0]

    def test_bulk_reassign_changes_each_item_with_its_own_history(self, author, reviewer, manager):
        items = [ActionItemFactory(owner=author) for _ in range(3)] + [
            ActionItemFactory(owner=reviewer)
        ]
        count = services.action_items_reassign(
            items=items, owner=reviewer, by=manager, at=R + timedelta(days=1)
        )
        assert count == 3
        assert set(ActionItem.objects.values_list("owner", flat=True)) == {reviewer.pk}
        for item in items[:3]:
            latest = item.history.latest("history_id")
            assert (latest.owner_id, latest.history_user, latest.history_date) == (
                reviewer.pk,
                manager,
                R + timedelta(days=1),
            )

    def test_bulk_reassign_needs_an_active_owner(self, author, manager):
        item = ActionItemFactory(owner=author)
        with pytest.raises(ValidationError) as error:
            services.action_items_reassign(items=[item], owner=None, by=manager)
        assert error.value.message_dict == {"owner": [services.REASSIGN_NEEDS_OWNER]}
        gone = UserFactory(username="gone", is_active=False)
        with pytest.raises(ValidationError):
            services.action_items_reassign(items=[item], owner=gone, by=manager)
        item.refresh_from_db()
        assert item.owner == author


class TestPeople:
    def test_owner_cannot_be_cleared_once_writing_started(self, author, manager):
        postmortem = drafting(author)
        with pytest.raises(ValidationError) as error:
            services.postmortem_assign(postmortem=postmortem, owner=None, by=manager)
        assert error.value.message_dict == {"owner": [services.OWNER_REQUIRED]}

    def test_reviewers(self, author, reviewer, manager):
        postmortem = drafting(author)
        services.postmortem_set_reviewers(
            postmortem=postmortem, reviewers=[reviewer, manager], by=manager
        )
        assert set(postmortem.reviewers.all()) == {reviewer, manager}
        services.postmortem_set_reviewers(postmortem=postmortem, reviewers=[reviewer], by=manager)
        assert list(postmortem.reviewers.all()) == [reviewer]


def test_a_line_moved_to_another_moment_takes_the_phase_it_now_falls_in(author):
    postmortem = drafting(author)
    incident = postmortem.incident
    entry = services.timeline_entry_add(
        postmortem=postmortem,
        by=author,
        occurred_at=incident.detected_at + timedelta(seconds=1),
        text="Alert fires",
    )
    assert entry.phase == TimelinePhase.DETECTED
    services.timeline_entry_update(
        entry=entry, by=author, occurred_at=incident.resolved_at + timedelta(minutes=30)
    )
    entry.refresh_from_db()
    assert entry.phase == TimelinePhase.RESOLVED
    # The text alone keeps the phase.
    services.timeline_entry_update(entry=entry, by=author, text="Alert fires again")
    entry.refresh_from_db()
    assert entry.phase == TimelinePhase.RESOLVED
