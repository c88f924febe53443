import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import IncidentStatus
from postmortems import services
from postmortems.admin import NOTHING_SAVED
from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemPolicy,
    PostmortemStatus,
    TimelinePhase,
)
from tests.incidents.factories import (
    BASE_TIME,
    EngineerFactory,
    IncidentFactory,
    ProfileFactory,
    TeamFactory,
    UserFactory,
    severity,
)
from tests.pages import form_data
from tests.postmortems.factories import (
    DUE_DATE,
    ActionItemFactory,
    PostmortemFactory,
    TimelineEntryFactory,
)
from tests.postmortems.stories import (
    RESOLVED_AT,
    people,
    published_checkout_postmortem,
    resolved_checkout_outage,
)

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "checkout-outage.md"

PM_CHANGELIST = reverse("admin:postmortems_postmortem_changelist")
ITEM_CHANGELIST = reverse("admin:postmortems_actionitem_changelist")
REQUIRE = reverse("admin:postmortems_postmortem_require")


def change_url(postmortem):
    return reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])


def act_url(postmortem, action):
    return reverse("admin:postmortems_postmortem_act", args=[postmortem.pk, action])


def markdown_url(postmortem):
    return reverse("admin:postmortems_postmortem_markdown", args=[postmortem.pk])


def item_change_url(item):
    return reverse("admin:postmortems_actionitem_change", args=[item.pk])


def _field_data(form, name, field) -> dict:
    """What a browser posts for one field, from the value the form shows, and beside it the
    value it was shown with (``show_hidden_initial``: the admin compares with that)."""
    shown = {}
    if field.show_hidden_initial:
        initial = form[name].initial
        key = form.add_initial_prefix(name)
        shown = {key: str(initial)} if isinstance(initial, bool) else _posted(key, initial)
    return shown | _posted(form.add_prefix(name), form[name].value())


def _posted(key: str, value) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, datetime):
        local = timezone.localtime(value)
        return {f"{key}_0": local.strftime("%Y-%m-%d"), f"{key}_1": local.strftime("%H:%M:%S")}
    if isinstance(value, date):
        return {key: value.isoformat()}
    if isinstance(value, bool):
        return {key: "on"} if value else {}
    if isinstance(value, list | tuple):
        return {key: [getattr(v, "pk", v) for v in value]}
    return {key: getattr(value, "pk", value)}


def page_data(response) -> dict:
    """The change page's main form and every inline formset, as the browser would post them."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        data.update(_field_data(form, name, field))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for item_form in formset.forms:  # the extra rows too, with the defaults they show
            for name, field in item_form.fields.items():
                data.update(_field_data(item_form, name, field))
    return data


@pytest.fixture
def who():
    return people()


@pytest.fixture
def drafting(who):
    """The checkout outage's post-mortem (snapshotted timeline) in draft, owned by Ada."""
    postmortem = resolved_checkout_outage(who)
    return services.postmortem_start_draft(
        postmortem=postmortem, by=who["ada"], at=RESOLVED_AT + timedelta(hours=1)
    )


class TestAccess:
    @pytest.mark.parametrize("who_", ["engineer", "finance_user"])
    def test_engineers_and_finance_are_refused_even_with_the_staff_flag(
        self, client, request, who_
    ):
        user = request.getfixturevalue(who_)
        user.is_staff = True
        user.save()
        postmortem = PostmortemFactory()
        item = ActionItemFactory(postmortem=postmortem)
        client.force_login(user)
        urls = [
            PM_CHANGELIST,
            change_url(postmortem),
            reverse("admin:postmortems_postmortem_history", args=[postmortem.pk]),
            markdown_url(postmortem),
            REQUIRE,
            ITEM_CHANGELIST,
            item_change_url(item),
            reverse("admin:postmortems_postmortempolicy_changelist"),
        ]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login"))
        response = client.post(act_url(postmortem, "start_draft"))
        assert response.status_code == 302
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.SCHEDULED

    def test_manager_sees_the_post_mortems_app(self, manager_client):
        page = manager_client.get(reverse("admin:index")).content.decode()
        assert "Post-mortems" in page
        assert "Action items" in page


class TestPostmortemChangelist:
    def test_columns(self, manager_client, who, drafting):
        page = manager_client.get(PM_CHANGELIST).content.decode()
        assert drafting.incident.reference in page
        assert "Checkout returns 502 for all users" in page
        assert "SEV-1" in page
        assert "Draft" in page
        assert '<td class="field-owner nowrap">ada.story</td>' in page
        assert "2026-03-03 10:10 UTC" in page  # draft due, 24 h after 10:10 UTC resolution
        assert "2026-03-04 10:10 UTC" in page
        assert "2026-03-05 10:10 UTC" in page

    def test_overdue_flags_at_the_boundary_with_a_frozen_clock(self, manager_client):
        postmortem = PostmortemFactory()
        with time_machine.travel(postmortem.draft_due_at, tick=False):
            page = manager_client.get(PM_CHANGELIST).content.decode()
            assert ">overdue<" not in page
        with time_machine.travel(postmortem.draft_due_at + timedelta(seconds=1), tick=False):
            page = manager_client.get(PM_CHANGELIST).content.decode()
            assert page.count(">overdue<") == 1
        with time_machine.travel(postmortem.publish_due_at + timedelta(seconds=1), tick=False):
            page = manager_client.get(PM_CHANGELIST).content.decode()
            assert page.count(">overdue<") == 3

    def test_met_deadlines_are_shown_as_met(self, manager_client, who):
        postmortem, _ = published_checkout_postmortem()
        with time_machine.travel(postmortem.publish_due_at + timedelta(days=1), tick=False):
            page = manager_client.get(PM_CHANGELIST).content.decode()
        assert page.count(">met<") == 3
        assert ">overdue<" not in page

    def test_filters(self, manager_client):
        platform = TeamFactory(name="Platform")
        late = PostmortemFactory(incident__team=platform, incident__started_at=BASE_TIME)
        fresh = PostmortemFactory(
            incident__started_at=BASE_TIME + timedelta(days=10),
            incident__severity=severity("SEV-1"),
        )
        now = BASE_TIME + timedelta(days=4)  # late's three deadlines passed; fresh's not yet

        def shown(**params):
            with time_machine.travel(now, tick=False):
                page = manager_client.get(PM_CHANGELIST, params).content.decode()
            return {pm.incident.reference for pm in (late, fresh) if pm.incident.reference in page}

        late_ref, fresh_ref = late.incident.reference, fresh.incident.reference
        assert shown(overdue="any") == {late_ref}
        assert shown(overdue="draft") == {late_ref}
        assert shown(overdue="review") == {late_ref}
        assert shown(overdue="publish") == {late_ref}
        assert shown(overdue="none") == {fresh_ref}
        assert shown(status__exact="scheduled") == {late_ref, fresh_ref}
        assert shown(status__exact="draft") == set()
        assert shown(team=platform.name) == {late_ref}
        assert shown(incident__severity__id__exact=severity("SEV-1").pk) == {fresh_ref}
        assert shown(q=fresh_ref) == {fresh_ref}

    def test_query_count_is_the_same_for_5_and_50_post_mortems(self, manager_client):
        def build(count):
            for _ in range(count):
                PostmortemFactory(owner=UserFactory())

        def queries():
            with CaptureQueriesContext(connection) as ctx:
                response = manager_client.get(PM_CHANGELIST, {"overdue": "any"})
            assert response.status_code == 200
            return len(ctx.captured_queries)

        build(5)
        small = queries()
        build(45)
        large = queries()
        assert small == large
        assert large <= 15


class TestPostmortemChangePage:
    def test_shows_sections_inlines_reminder_and_what_is_missing(
        self, manager_client, manager, drafting
    ):
        ProfileFactory(user=manager, time_zone="America/New_York")
        FiveWhy.objects.create(postmortem=drafting, position=1, question="Why 502?", answer="")
        ActionItemFactory(postmortem=drafting, title="Canary releases", owner=None)
        response = manager_client.get(change_url(drafting))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Blameless: write about systems and processes, not people." in page
        assert 'name="summary"' in page
        assert "Acknowledged by Eddie Engineer" in page  # the timeline copy inline
        assert "Why 502?" in page
        assert "Canary releases" in page
        assert "the answer to why #1" in page
        assert "an owner for action item “Canary releases”" in page
        assert "Timeline as readers see it (times in America/New_York)" in page
        assert "2026-03-02 04:02 EST — Acknowledged by Eddie Engineer" in page
        assert "Submit for review" in page
        assert "Download Markdown" not in page

    def test_sections_are_read_only_before_the_draft_and_after_publishing(self, manager_client):
        scheduled = PostmortemFactory()
        page = manager_client.get(change_url(scheduled)).content.decode()
        assert 'name="summary"' not in page
        assert "Start the draft" in page
        published, _ = published_checkout_postmortem()
        page = manager_client.get(change_url(published)).content.decode()
        assert 'name="summary"' not in page
        assert 'name="five_whys-0-question"' not in page
        assert "Download Markdown" in page

    def test_saving_the_form_writes_through_the_services(
        self, manager_client, manager, who, drafting
    ):
        why_a = services.five_why_add(postmortem=drafting, by=manager, question="A?")
        why_b = services.five_why_add(postmortem=drafting, by=manager, question="B?")
        entries = list(drafting.timeline_entries.order_by("occurred_at", "id"))
        response = manager_client.get(change_url(drafting))
        data = page_data(response)
        data["summary"] = "Checkout failed for 74 minutes."
        data["reviewers"] = [who["rob"].pk]
        # Reorder the whys (B first), answer A, add a third.
        data["five_whys-0-order"], data["five_whys-1-order"] = 2, 1
        data["five_whys-0-answer"] = "Because."
        data["five_whys-2-question"] = "C?"
        data["five_whys-TOTAL_FORMS"] = 3
        # Remove the first timeline entry, correct the second.
        data["timeline_entries-0-DELETE"] = "on"
        data["timeline_entries-1-text"] = "Ack by the on-call engineer"
        # A new action item, done at once.
        data.update(
            {
                "action_items-TOTAL_FORMS": 1,
                "action_items-0-title": "Canary releases",
                "action_items-0-owner": who["rob"].pk,
                "action_items-0-due_date": "2026-03-20",
                "action_items-0-kind": "detect",
                "action_items-0-priority": "p2",
                "action_items-0-status": "done",
            }
        )
        response = manager_client.post(change_url(drafting), data)
        assert response.status_code == 302, response.content.decode()[:3000]

        drafting.refresh_from_db()
        assert drafting.summary == "Checkout failed for 74 minutes."
        assert list(drafting.reviewers.all()) == [who["rob"]]
        assert drafting.history.latest("history_id").history_user == manager
        assert list(
            FiveWhy.objects.filter(postmortem=drafting).values_list(
                "question", "answer", "position"
            )
        ) == [("B?", "", 1), ("A?", "Because.", 2), ("C?", "", 3)]
        assert {why_a.pk, why_b.pk} <= set(drafting.five_whys.values_list("pk", flat=True))
        texts = list(drafting.timeline_entries.values_list("text", flat=True))
        assert entries[0].text not in texts
        assert "Ack by the on-call engineer" in texts
        item = ActionItem.objects.get()
        assert (item.title, item.owner, item.status) == ("Canary releases", who["rob"], "done")
        assert item.completed_by == manager

    def test_a_page_opened_earlier_saves_only_what_its_manager_changed(
        self, manager_client, who, drafting
    ):
        item = services.action_item_add(
            postmortem=drafting,
            by=who["ada"],
            title="Canary config pushes",
            owner=who["rob"],
            due_date=date(2026, 12, 1),
        )
        data = page_data(manager_client.get(change_url(drafting)))
        # Meanwhile the owner finishes the item and the author rewrites the summary.
        services.action_item_set_status(item=item, status="done", by=who["rob"])
        services.postmortem_update_sections(
            postmortem=drafting, by=who["ada"], summary="Rewritten by Ada."
        )
        data["impact"] = "Every card payment failed for 40 minutes."
        response = manager_client.post(change_url(drafting), data)
        assert response.status_code == 302
        drafting.refresh_from_db()
        item.refresh_from_db()
        assert drafting.impact == "Every card payment failed for 40 minutes."
        assert drafting.summary == "Rewritten by Ada."
        assert (item.status, item.completed_by) == ("done", who["rob"])

    def test_an_item_page_opened_earlier_keeps_the_owners_completion(self, manager_client, who):
        item = ActionItemFactory(owner=who["rob"], due_date=date(2026, 12, 1))
        url = reverse("admin:postmortems_actionitem_change", args=[item.pk])
        response = manager_client.get(url)
        form = response.context["adminform"].form
        data = {}
        for name, field in form.fields.items():
            data.update(_field_data(form, name, field))
        services.action_item_set_status(item=item, status="done", by=who["rob"])
        data["due_date"] = "2026-12-15"
        assert manager_client.post(url, data).status_code == 302
        item.refresh_from_db()
        assert (item.status, item.due_date) == ("done", date(2026, 12, 15))

    def test_a_refusal_while_saving_changes_nothing_and_says_why(self, manager_client, who):
        postmortem, _ = published_checkout_postmortem()
        response = manager_client.get(change_url(postmortem))
        data = page_data(response)
        item_index = next(
            i
            for i in range(3)
            if data.get(f"action_items-{i}-title") == "Test the generated route table in CI"
        )
        data.pop(f"action_items-{item_index}-owner")
        response = manager_client.post(change_url(postmortem), data, follow=True)
        page = response.content.decode()
        assert NOTHING_SAVED.format(reason="") in page
        assert services.PUBLISHED_ITEM_NEEDS in page
        assert (
            ActionItem.objects.get(title="Test the generated route table in CI").owner == who["ada"]
        )

    def test_status_buttons_and_the_publish_refusal(self, manager_client, manager, drafting):
        response = manager_client.post(act_url(drafting, "submit"), follow=True)
        assert "Write the summary before submitting for review" in response.content.decode()
        services.postmortem_update_sections(postmortem=drafting, by=manager, summary="Down.")
        response = manager_client.post(act_url(drafting, "submit"), follow=True)
        assert "Submit for review: done." in response.content.decode()
        response = manager_client.post(act_url(drafting, "publish"), follow=True)
        page = response.content.decode()
        assert "The post-mortem cannot be published yet. Missing: the impact section;" in page
        assert "the review meeting." in page
        drafting.refresh_from_db()
        assert drafting.status == PostmortemStatus.IN_REVIEW

        held = timezone.localtime(RESOLVED_AT + timedelta(hours=30))
        response = manager_client.post(
            act_url(drafting, "meeting"),
            {"held_at_0": held.strftime("%Y-%m-%d"), "held_at_1": held.strftime("%H:%M:%S")},
            follow=True,
        )
        assert "Record the review meeting: done." in response.content.decode()
        drafting.refresh_from_db()
        assert drafting.review_meeting_at == RESOLVED_AT + timedelta(hours=30)

        response = manager_client.post(act_url(drafting, "return_to_draft"))
        assert response.status_code == 302
        drafting.refresh_from_db()
        assert drafting.status == PostmortemStatus.DRAFT
        assert drafting.history.latest("history_id").history_user == manager

    def test_meeting_form_errors_are_reported(self, manager_client, drafting):
        services.postmortem_update_sections(postmortem=drafting, by=None, summary="Down.")
        services.postmortem_submit_for_review(postmortem=drafting, by=None)
        response = manager_client.post(act_url(drafting, "meeting"), {}, follow=True)
        assert "This field is required." in response.content.decode()
        future = timezone.localtime(timezone.now() + timedelta(days=1))
        response = manager_client.post(
            act_url(drafting, "meeting"),
            {"held_at_0": future.strftime("%Y-%m-%d"), "held_at_1": "10:00:00"},
            follow=True,
        )
        assert services.MEETING_IN_FUTURE in response.content.decode()

    def test_unknown_actions_and_get_are_harmless(self, manager_client, drafting):
        assert manager_client.post(act_url(drafting, "delete_everything")).status_code == 403
        assert manager_client.get(act_url(drafting, "submit")).status_code == 302
        drafting.refresh_from_db()
        assert drafting.status == PostmortemStatus.DRAFT

    def test_download_markdown(self, manager_client, manager):
        postmortem, _ = published_checkout_postmortem()
        ProfileFactory(user=manager, time_zone="America/New_York")
        response = manager_client.get(markdown_url(postmortem))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/markdown; charset=utf-8"
        assert response["Content-Disposition"] == (
            'attachment; filename="INC-2026-0001-postmortem.md"'
        )
        assert response.content == FIXTURE.read_bytes()

    def test_download_of_an_unpublished_one_is_refused(self, manager_client, drafting):
        response = manager_client.get(markdown_url(drafting), follow=True)
        assert "Only published post-mortems can be exported" in response.content.decode()
        assert response.redirect_chain[-1][0] == change_url(drafting)

    def test_history_page_shows_who_changed_the_status(self, manager_client, who, drafting):
        url = reverse("admin:postmortems_postmortem_history", args=[drafting.pk])
        page = " ".join(manager_client.get(url).content.decode().split())
        assert "<strong>Status:</strong> scheduled &nbsp;&rarr;&nbsp;&nbsp;draft" in page
        assert f'">{who["ada"].username}</a>' in page  # changed by: she started the draft
        assert "March 2, 2026, 11:10 a.m." in page  # when (the service's moment)

    def test_history_page_reads_constant_queries(self, manager_client, who, drafting):
        # Every autosaved section edit is a history row; each row names its incident.
        url = reverse("admin:postmortems_postmortem_history", args=[drafting.pk])

        def count_after(edits: int) -> int:
            for number in range(edits):
                services.postmortem_update_sections(
                    postmortem=drafting, by=who["ada"], summary=f"Summary {number} {edits}"
                )
            manager_client.get(url)  # what a process reads once (content types) is read
            with CaptureQueriesContext(connection) as queries:
                assert manager_client.get(url).status_code == 200
            return len(queries.captured_queries)

        assert count_after(2) == count_after(10)

    def test_history_cannot_revert(self, manager_client, drafting):
        record = drafting.history.earliest("history_id")
        url = reverse("admin:postmortems_postmortem_simple_history", args=[drafting.pk, record.pk])
        assert manager_client.get(url).status_code == 200
        assert manager_client.post(url, {"status": "scheduled"}).status_code == 405
        drafting.refresh_from_db()
        assert drafting.status == PostmortemStatus.DRAFT

    def test_no_add_and_no_delete(self, manager_client, drafting):
        assert manager_client.get(reverse("admin:postmortems_postmortem_add")).status_code == 403
        delete = reverse("admin:postmortems_postmortem_delete", args=[drafting.pk])
        assert manager_client.post(delete, {"post": "yes"}).status_code == 403
        assert Postmortem.objects.filter(pk=drafting.pk).exists()


class TestRequire:
    def test_page_and_requiring_an_open_incident(self, manager_client, manager):
        incident = IncidentFactory(severity=severity("SEV-3"))
        assert manager_client.get(REQUIRE).status_code == 200
        response = manager_client.post(REQUIRE, {"incident": incident.pk}, follow=True)
        assert "now requires a post-mortem; it is scheduled when the incident is resolved" in (
            response.content.decode()
        )
        incident.refresh_from_db()
        assert incident.postmortem_required is True
        assert not Postmortem.objects.exists()

    def test_requiring_a_resolved_incident_schedules_it(self, manager_client, manager):
        incident = incident_services.incident_declare(
            title="Dashboard slow", severity="SEV-3", declared_by=manager, at=BASE_TIME
        )
        incident_services.incident_resolve(
            incident=incident,
            by=manager,
            checklist=incident_services.ResolutionChecklist.all_confirmed(),
            at=BASE_TIME + timedelta(hours=1),
        )
        response = manager_client.post(REQUIRE, {"incident": incident.pk})
        postmortem = Postmortem.objects.get(incident=incident)
        assert response["Location"] == change_url(postmortem)
        assert postmortem.status == PostmortemStatus.SCHEDULED

    def test_changelist_links_to_it(self, manager_client):
        assert REQUIRE in manager_client.get(PM_CHANGELIST).content.decode()


class TestActionItemChangelist:
    @pytest.fixture
    def items(self):
        platform = TeamFactory(name="Platform")
        ann = UserFactory(username="ann", first_name="Ann", last_name="Smith")
        ProfileFactory(user=ann, team=platform)
        ben = UserFactory(username="ben", first_name="Ben", last_name="Jones")
        return {
            "late": ActionItemFactory(title="Late item", owner=ann, due_date=date(2026, 3, 10)),
            "later": ActionItemFactory(title="Later item", owner=ben, due_date=date(2026, 3, 30)),
            "done": ActionItemFactory(
                title="Done item",
                owner=ben,
                due_date=date(2026, 3, 1),
                status=ActionItemStatus.DONE,
                completed_at=BASE_TIME,
            ),
            "ann": ann,
            "ben": ben,
            "platform": platform,
        }

    def shown(self, client, now, **params):
        with time_machine.travel(now, tick=False):
            page = client.get(ITEM_CHANGELIST, params).content.decode()
        return {t for t in ("Late item", "Later item", "Done item") if t in page}

    def test_columns_and_the_overdue_flag_at_the_boundary(self, manager_client, items):
        midnight = datetime.fromisoformat("2026-03-11T00:00:00+00:00")  # ends 10 March, UTC
        with time_machine.travel(midnight, tick=False):
            page = manager_client.get(ITEM_CHANGELIST).content.decode()
        assert '<td class="field-owner nowrap">ann</td>' in page
        assert '<td class="field-team">Platform</td>' in page
        assert '<td class="field-status">Open</td>' in page
        assert '<td class="field-priority">P3 (medium)</td>' in page
        reference = items["late"].postmortem.incident.reference
        assert f'<td class="field-reference">{reference}</td>' in page
        assert ">overdue<" not in page
        with time_machine.travel(midnight + timedelta(seconds=1), tick=False):
            page = manager_client.get(ITEM_CHANGELIST).content.decode()
        assert page.count(">overdue<") == 1

    def test_filters(self, manager_client, items):
        now = datetime.fromisoformat("2026-03-15T12:00:00+00:00")
        assert self.shown(manager_client, now, overdue="yes") == {"Late item"}
        assert self.shown(manager_client, now, overdue="no") == {"Later item", "Done item"}
        assert self.shown(manager_client, now, status__exact="done") == {"Done item"}
        assert self.shown(manager_client, now, owner=items["ben"].username) == {
            "Later item",
            "Done item",
        }
        assert self.shown(manager_client, now, owner=items["ben"].username.upper()) == {
            "Later item",
            "Done item",
        }
        assert self.shown(manager_client, now, owner="nobody") == set()
        assert self.shown(manager_client, now, team=items["platform"].name.lower()) == {"Late item"}
        assert self.shown(manager_client, now, q="later") == {"Later item"}

    def test_owner_filter_is_a_box_that_keeps_the_other_filters(self, manager_client, items):
        page = manager_client.get(
            ITEM_CHANGELIST, {"status__exact": "open", "owner": items["ben"].username}
        ).content.decode()
        assert '<input type="hidden" name="status__exact" value="open">' in page
        assert f'name="owner" value="{items["ben"].username}"' in page
        assert "?status__exact=open" in page  # the "All" link drops only the owner
        # No link per engineer: the box stays the same size however many there are.
        assert f"?owner__id__exact={items['ben'].pk}" not in page

    def test_mark_done_reports_refusals(self, manager_client, manager, items):
        response = manager_client.post(
            ITEM_CHANGELIST,
            {
                "action": "mark_done",
                "_selected_action": [items["late"].pk, items["done"].pk],
            },
            follow=True,
        )
        page = response.content.decode()
        assert "1 action item(s) marked done." in page
        assert "Done item: The action item is already done." in page
        late = ActionItem.objects.get(pk=items["late"].pk)
        assert (late.status, late.completed_by) == ("done", manager)

    def test_reassign_asks_for_the_owner_then_reassigns(self, manager_client, manager, items):
        selected = [items["late"].pk, items["later"].pk]
        response = manager_client.post(
            ITEM_CHANGELIST, {"action": "reassign", "_selected_action": selected}
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert "Give these action items to a new owner" in page
        assert "admin-autocomplete" in page
        new_owner = EngineerFactory(username="nora")
        response = manager_client.post(
            ITEM_CHANGELIST,
            {
                "action": "reassign",
                "_selected_action": selected,
                "apply": "1",
                "owner": new_owner.pk,
            },
            follow=True,
        )
        assert "2 action item(s) reassigned to nora." in response.content.decode()
        assert set(ActionItem.objects.filter(pk__in=selected).values_list("owner", flat=True)) == {
            new_owner.pk
        }
        history = reverse("admin:postmortems_actionitem_history", args=[items["late"].pk])
        page = manager_client.get(history).content.decode()
        assert "nora" in page
        assert manager.username in page

    def test_reassign_without_an_owner_shows_the_page_again(self, manager_client, items):
        response = manager_client.post(
            ITEM_CHANGELIST,
            {"action": "reassign", "_selected_action": [items["late"].pk], "apply": "1"},
        )
        assert response.status_code == 200
        assert "This field is required." in response.content.decode()
        assert ActionItem.objects.get(pk=items["late"].pk).owner == items["ann"]

    def test_query_count_is_the_same_for_5_and_50_items(self, manager_client):
        def build(count):
            for n in range(count):
                owner = UserFactory()
                ProfileFactory(user=owner, team=TeamFactory())
                ActionItemFactory(owner=owner, due_date=DUE_DATE + timedelta(days=n % 5))

        def queries():
            with CaptureQueriesContext(connection) as ctx:
                response = manager_client.get(ITEM_CHANGELIST, {"overdue": "yes"})
            assert response.status_code == 200
            return len(ctx.captured_queries)

        build(5)
        small = queries()
        build(45)
        large = queries()
        assert small == large
        assert large <= 15


class TestActionItemPages:
    def test_add_goes_through_the_service(self, manager_client, manager, drafting, who):
        response = manager_client.post(
            reverse("admin:postmortems_actionitem_add"),
            {
                "postmortem": drafting.pk,
                "title": "Alert on route count",
                "owner": who["ada"].pk,
                "due_date": "2026-03-27",
                "kind": "detect",
                "priority": "p1",
                "status": "open",
                "tracker_url": "https://tracker.example.com/OPS-7",
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        item = ActionItem.objects.get()
        assert item.created_at is not None
        assert item.history.get().history_user == manager

    def test_change_status_back_to_open_reopens(self, manager_client, manager):
        item = services.action_item_complete(item=ActionItemFactory(), by=manager)
        response = manager_client.get(item_change_url(item))
        assert response.status_code == 200
        data = page_data(response)
        data["status"] = "open"
        response = manager_client.post(item_change_url(item), data)
        assert response.status_code == 302, response.content.decode()[:3000]
        item.refresh_from_db()
        assert (item.status, item.completed_at, item.completed_by) == ("open", None, None)
        assert list(item.history.order_by("history_id").values_list("status", flat=True))[-2:] == [
            "done",
            "open",
        ]

    def test_invalid_status_move_is_refused_and_nothing_saved(self, manager_client):
        item = ActionItemFactory(status=ActionItemStatus.WONT_DO)
        title = item.title
        data = page_data(manager_client.get(item_change_url(item)))
        data["status"] = "done"
        data["title"] = "Renamed"
        response = manager_client.post(item_change_url(item), data, follow=True)
        assert "reopen it first" in response.content.decode()
        item.refresh_from_db()
        assert (item.status, item.title) == ("wont_do", title)

    def test_no_delete(self, manager_client):
        item = ActionItemFactory()
        url = reverse("admin:postmortems_actionitem_delete", args=[item.pk])
        assert manager_client.post(url, {"post": "yes"}).status_code == 403


class TestPolicyAdmin:
    def test_change_goes_through_the_service_with_history(self, manager_client, manager):
        policy = PostmortemPolicy.objects.get()
        url = reverse("admin:postmortems_postmortempolicy_change", args=[policy.pk])
        assert manager_client.get(url).status_code == 200
        response = manager_client.post(
            url,
            {
                "draft_within": "12:00:00",
                "review_within": "1 12:00:00",
                "publish_within": "3 00:00:00",
                "remind_before": "2:00:00",
                "item_due_soon_days": "3",
                "item_grace_days": "10",
            },
        )
        assert response.status_code == 302
        policy.refresh_from_db()
        assert policy.draft_within == timedelta(hours=12)
        assert policy.review_within == timedelta(hours=36)
        assert policy.remind_before == timedelta(hours=2)
        assert (policy.item_due_soon_days, policy.item_grace_days) == (3, 10)
        assert policy.history.latest("history_id").history_user == manager

    def test_out_of_order_is_refused(self, manager_client):
        policy = PostmortemPolicy.objects.get()
        url = reverse("admin:postmortems_postmortempolicy_change", args=[policy.pk])
        response = manager_client.post(
            url,
            {
                "draft_within": "2 00:00:00",
                "review_within": "1 00:00:00",
                "publish_within": "3 00:00:00",
            },
            follow=True,
        )
        # The model's constraint catches it on the form, before the service is called.
        assert "The review deadline cannot come before the draft" in response.content.decode()
        policy.refresh_from_db()
        assert policy.draft_within == timedelta(hours=24)

    @pytest.mark.parametrize(
        ("field", "value"), [("publish_within", "3000000 00:00:00"), ("remind_before", "400 0:0")]
    )
    def test_a_deadline_beyond_a_year_is_refused_so_resolving_still_works(
        self, manager_client, manager, field, value
    ):
        policy = PostmortemPolicy.objects.get()
        url = reverse("admin:postmortems_postmortempolicy_change", args=[policy.pk])
        data = {
            "draft_within": "12:00:00",
            "review_within": "1 12:00:00",
            "publish_within": "3 00:00:00",
            "remind_before": "2:00:00",
            "item_due_soon_days": "3",
            "item_grace_days": "10",
        }
        response = manager_client.post(url, {**data, field: value}, follow=True)
        assert "must be at most 365 days" in response.content.decode()
        policy.refresh_from_db()
        assert policy.publish_within < timedelta(days=366)
        assert policy.remind_before < timedelta(days=366)

    def test_no_second_row_and_no_delete(self, manager_client):
        assert (
            manager_client.get(reverse("admin:postmortems_postmortempolicy_add")).status_code == 403
        )
        policy = PostmortemPolicy.objects.get()
        delete = reverse("admin:postmortems_postmortempolicy_delete", args=[policy.pk])
        assert manager_client.post(delete, {"post": "yes"}).status_code == 403


def test_incident_timeline_entries_factory_is_usable_in_the_admin(manager_client):
    """Smoke: a post-mortem built from factories alone (no incident timeline) renders."""
    entry = TimelineEntryFactory(postmortem__status=PostmortemStatus.SCHEDULED)
    assert manager_client.get(change_url(entry.postmortem)).status_code == 200


def test_closed_incident_post_mortem_renders(manager_client, manager):
    incident = IncidentFactory(
        status=IncidentStatus.CLOSED,
        started_at=BASE_TIME,
        acknowledged_at=BASE_TIME + timedelta(minutes=5),
        resolved_at=BASE_TIME + timedelta(hours=1),
        closed_at=BASE_TIME + timedelta(hours=2),
    )
    postmortem = services.postmortem_schedule(incident=incident, at=BASE_TIME + timedelta(hours=3))
    assert manager_client.get(change_url(postmortem)).status_code == 200


@pytest.mark.parametrize("hour", [5, 6])  # 01:30:15 in New York, before and after 1 November
def test_a_line_in_the_hour_the_clocks_go_back_never_blocks_a_save(
    manager_client, manager, engineer, hour
):
    from datetime import UTC

    from incidents.models import Profile
    from tests.pages import form_data
    from tests.postmortems.factories import PostmortemFactory

    Profile.objects.update_or_create(user=manager, defaults={"time_zone": "America/New_York"})
    postmortem = PostmortemFactory()
    services.postmortem_start_draft(postmortem=postmortem, by=engineer)
    moment = datetime(2026, 11, 1, hour, 30, 15, tzinfo=UTC)
    entry = TimelineEntryFactory(postmortem=postmortem, occurred_at=moment)
    data = form_data(manager_client.get(change_url(postmortem)).content.decode(), None)
    data["summary"] = "Typed by the manager"
    assert manager_client.post(change_url(postmortem), data).status_code == 302
    entry.refresh_from_db()
    postmortem.refresh_from_db()
    assert (entry.occurred_at, postmortem.summary) == (moment, "Typed by the manager")


def test_the_change_page_reads_its_items_owners_in_constant_queries(manager_client):
    postmortem = PostmortemFactory()

    def queries() -> int:
        manager_client.get(change_url(postmortem))  # warm the per-process caches
        with CaptureQueriesContext(connection) as ctx:
            page = manager_client.get(change_url(postmortem)).content.decode()
        for owner in owners:
            assert f">{owner}</option>" in page
        return len(ctx.captured_queries)

    owners = [UserFactory(username="own-0")]
    ActionItemFactory(postmortem=postmortem, owner=owners[0])
    few = queries()
    for n in range(1, 8):
        owners.append(UserFactory(username=f"own-{n}"))
        ActionItemFactory(postmortem=postmortem, owner=owners[-1])
    assert queries() == few


def test_the_owner_box_still_finds_people_as_the_manager_types(manager_client):
    UserFactory(username="rob.owner", first_name="Rob")
    response = manager_client.get(
        "/admin/autocomplete/",
        {
            "term": "rob",
            "app_label": "postmortems",
            "model_name": "actionitem",
            "field_name": "owner",
        },
    )
    assert response.status_code == 200
    assert "rob.owner" in response.content.decode() or "Rob" in response.content.decode()


class TestPageOpenedEarlier:
    """The 5 Whys and the timeline lines save only what the manager changed on the page."""

    def test_an_answer_written_meanwhile_stands(self, manager_client, who, drafting):
        why = services.five_why_add(postmortem=drafting, by=who["ada"], question="Why?")
        data = form_data(manager_client.get(change_url(drafting)).content.decode(), None)
        services.five_why_update(why=why, by=who["ada"], answer="The pool was exhausted.")
        key = next(
            k
            for k, v in data.items()
            if k.endswith("-question") and not k.startswith("initial-") and v == "Why?"
        )
        data[key] = "Why did checkout fail?"
        assert manager_client.post(change_url(drafting), data).status_code == 302
        why.refresh_from_db()
        assert (why.question, why.answer) == ("Why did checkout fail?", "The pool was exhausted.")

    def test_a_line_corrected_meanwhile_keeps_its_text_and_a_moved_line_its_new_phase(
        self, manager_client, who, drafting
    ):
        entry = drafting.timeline_entries.order_by("occurred_at").first()
        data = form_data(manager_client.get(change_url(drafting)).content.decode(), None)
        services.timeline_entry_update(entry=entry, by=who["ada"], text="Corrected by Ada.")
        row = next(k[:-3] for k, v in data.items() if k.endswith("-id") and v == str(entry.pk))
        moved = timezone.localtime(RESOLVED_AT + timedelta(minutes=10))
        data[f"{row}-occurred_at_0"] = moved.strftime("%Y-%m-%d")
        data[f"{row}-occurred_at_1"] = moved.strftime("%H:%M:%S")
        assert manager_client.post(change_url(drafting), data).status_code == 302
        entry.refresh_from_db()
        assert entry.text == "Corrected by Ada."
        assert entry.phase == TimelinePhase.RESOLVED


def test_the_history_shows_an_owner_set_for_the_first_time_as_set_not_deleted(manager_client):
    who = people()
    postmortem = resolved_checkout_outage(who)
    services.postmortem_start_draft(postmortem=postmortem, by=who["ada"])
    item = services.action_item_add(postmortem=postmortem, by=who["ada"], title="Canary releases")
    base = "/admin/postmortems/actionitem/"
    body = {"action": "reassign", "_selected_action": [item.pk], "apply": "1"}
    manager_client.post(base, {**body, "owner": who["rob"].pk}, follow=True)
    page = manager_client.get(f"{base}{item.pk}/history/").content.decode()
    text = re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", page))
    assert "Deleted user" not in text
    assert "rob" in text
