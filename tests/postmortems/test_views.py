"""The engineers' post-mortem editor and "my action items", through the test client."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from postmortems import services
from postmortems.models import (
    SECTION_FIELDS as SECTIONS,
)
from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    FiveWhy,
    PostmortemStatus,
)
from tests.incidents.factories import ProfileFactory, UserFactory
from tests.pages import form_data
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory
from tests.postmortems.stories import published_checkout_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem():
    return PostmortemFactory()


def url(name, *args):
    return reverse(f"postmortems:{name}", args=args)


def started(postmortem, user):
    return services.postmortem_start_draft(postmortem=postmortem, by=user)


def test_exporting_a_draft_is_refused_with_a_readable_message(client, engineer, postmortem):
    client.force_login(engineer)
    response = client.get(url("export", postmortem.pk), follow=True)
    text = response.content.decode()
    assert "Only published post-mortems can be exported" in text
    assert "[&#x27;" not in text  # the message, not a Python list


class TestEditing:
    def test_an_engineer_starts_it_and_becomes_the_owner(self, client, engineer, postmortem):
        client.force_login(engineer)
        response = client.post(url("start", postmortem.pk))
        assert response.status_code == 302
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.DRAFT
        assert postmortem.owner == engineer

    def test_sections_save_and_autosave(self, client, engineer, postmortem):
        started(postmortem, engineer)
        client.force_login(engineer)
        client.post(url("sections", postmortem.pk), {"summary": "Checkout failed."})
        response = client.post(
            url("sections", postmortem.pk), {"impact": "12k users"}, HTTP_HX_REQUEST="true"
        )
        assert "Saved at" in response.content.decode()
        postmortem.refresh_from_db()
        assert (postmortem.summary, postmortem.impact) == ("Checkout failed.", "12k users")

    def test_autosave_writes_only_the_section_typed_in(
        self, client, engineer, other_engineer, postmortem
    ):
        started(postmortem, engineer)
        postmortem.reviewers.add(other_engineer)
        client.force_login(engineer)
        page = client.get(url("detail", postmortem.pk)).content.decode()
        assert 'name="loaded-impact"' in page
        assert 'hx-params="summary,loaded-summary"' in page
        # A reviewer writes the impact meanwhile.
        services.postmortem_update_sections(
            postmortem=postmortem, by=other_engineer, impact="12k users"
        )
        # The author's autosave of the summary, with the rest of the form as loaded (empty),
        # as htmx sends it from inside the form.
        payload = dict.fromkeys(SECTIONS, "") | {f"loaded-{n}": "" for n in SECTIONS}
        payload["summary"] = "Checkout failed."
        response = client.post(
            url("sections", postmortem.pk),
            payload,
            HTTP_HX_REQUEST="true",
            HTTP_HX_TRIGGER_NAME="summary",
        )
        assert "Saved at" in response.content.decode()
        postmortem.refresh_from_db()
        assert (postmortem.summary, postmortem.impact) == ("Checkout failed.", "12k users")

    def test_two_writers_never_overwrite_each_other_and_the_second_is_told(
        self, client, engineer, other_engineer, postmortem
    ):
        started(postmortem, engineer)
        postmortem.reviewers.add(other_engineer)
        services.postmortem_update_sections(
            postmortem=postmortem, by=engineer, summary="Checkout failed."
        )
        # Both opened the page on "Checkout failed."; the reviewer's autosave lands first.
        autosave = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER_NAME": "summary"}
        reviewer = Client()
        reviewer.force_login(other_engineer)
        response = reviewer.post(
            url("sections", postmortem.pk),
            {
                "summary": "Checkout failed. <b>Add</b> the customer emails.",
                "loaded-summary": "Checkout failed.",
            },
            **autosave,
        )
        text = response.content.decode()
        assert "Saved at" in text
        # Their page now starts from what they saved, so their next keystrokes save too.
        assert 'id="loaded-summary"' in text
        assert 'hx-swap-oob="true"' in text
        assert "&lt;b&gt;Add&lt;/b&gt;" in text
        response = reviewer.post(
            url("sections", postmortem.pk),
            {
                "summary": "Checkout failed. Add the customer emails, all of them.",
                "loaded-summary": "Checkout failed. <b>Add</b> the customer emails.",
            },
            **autosave,
        )
        assert "Saved at" in response.content.decode()
        # The author's autosave, from the page as they opened it: refused, told, shown theirs.
        client.force_login(engineer)
        response = client.post(
            url("sections", postmortem.pk),
            {
                "summary": "Checkout failed: the pool was exhausted.",
                "loaded-summary": "Checkout failed.",
            },
            **autosave,
        )
        text = response.content.decode()
        assert "Not saved" in text
        assert "Someone else changed this section" in text
        assert "Add the customer emails, all of them." in text
        postmortem.refresh_from_db()
        assert postmortem.summary == "Checkout failed. Add the customer emails, all of them."
        # The same through the button: the page comes back with the error, nothing saved.
        payload = dict.fromkeys(SECTIONS, "") | {f"loaded-{n}": "" for n in SECTIONS}
        payload |= {"summary": "Mine.", "loaded-summary": "Checkout failed."}
        response = client.post(url("sections", postmortem.pk), payload)
        assert response.status_code == 200
        assert "Someone else changed this section" in response.content.decode()
        postmortem.refresh_from_db()
        assert postmortem.summary == "Checkout failed. Add the customer emails, all of them."

    def test_the_save_button_writes_only_the_sections_changed_on_the_page(
        self, client, engineer, other_engineer, postmortem
    ):
        started(postmortem, engineer)
        services.postmortem_update_sections(postmortem=postmortem, by=engineer, impact="Some")
        client.force_login(engineer)
        services.postmortem_update_sections(
            postmortem=postmortem, by=engineer, impact="12k users for 40 minutes"
        )
        payload = dict.fromkeys(SECTIONS, "") | {f"loaded-{n}": "" for n in SECTIONS}
        payload |= {"impact": "Some", "loaded-impact": "Some", "summary": "Checkout failed."}
        client.post(url("sections", postmortem.pk), payload)
        postmortem.refresh_from_db()
        assert (postmortem.summary, postmortem.impact) == (
            "Checkout failed.",
            "12k users for 40 minutes",
        )
        # A section cleared on the page is saved as cleared.
        payload |= {"summary": "", "loaded-summary": "Checkout failed."}
        client.post(url("sections", postmortem.pk), payload)
        postmortem.refresh_from_db()
        assert postmortem.summary == ""

    def test_a_why_asked_before_its_answer_was_known_is_answered_later(
        self, client, engineer, postmortem
    ):
        started(postmortem, engineer)
        client.force_login(engineer)
        client.post(url("why_add", postmortem.pk), {"question": "Why did checkout fail?"})
        why = FiveWhy.objects.get()
        page = client.get(url("detail", postmortem.pk)).content.decode()
        assert url("why_edit", postmortem.pk, why.pk) in page
        # A blank question is refused beside the field, keeping the answer typed.
        response = client.post(
            url("why_edit", postmortem.pk, why.pk),
            {f"why-{why.pk}-question": " ", f"why-{why.pk}-answer": "The pool was full."},
        )
        assert response.status_code == 200
        text = response.content.decode()
        assert "This field is required." in text
        assert "The pool was full." in text
        client.post(
            url("why_edit", postmortem.pk, why.pk),
            {
                f"why-{why.pk}-question": "Why did checkout fail?",
                f"why-{why.pk}-answer": "The connection pool was exhausted.",
            },
        )
        why.refresh_from_db()
        assert why.answer == "The connection pool was exhausted."

    def test_a_long_why_written_in_the_admin_is_answered_on_the_page(
        self, client, engineer, postmortem
    ):
        started(postmortem, engineer)
        question = "Why " + "did the pool fill up " * 30 + "?"
        assert len(question) > 500
        why = FiveWhy.objects.create(postmortem=postmortem, position=1, question=question)
        client.force_login(engineer)
        client.post(
            url("why_edit", postmortem.pk, why.pk),
            {f"why-{why.pk}-question": question, f"why-{why.pk}-answer": "A leak."},
        )
        why.refresh_from_db()
        assert why.answer == "A leak."

    def test_the_author_corrects_an_entry_of_the_post_mortems_timeline(
        self, client, engineer, other_engineer, postmortem
    ):
        started(postmortem, engineer)
        moment = postmortem.incident.resolved_at - timedelta(minutes=30, seconds=27)
        entry = services.timeline_entry_add(
            postmortem=postmortem, by=engineer, occurred_at=moment, text="Alert fird"
        )
        client.force_login(engineer)
        page = client.get(url("detail", postmortem.pk)).content.decode()
        shown = timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
        assert f'value="{shown}"' in page  # the picker shows the saved moment
        prefix = f"entry-{entry.pk}"
        # The text alone: the moment keeps its seconds.
        client.post(
            url("entry_edit", postmortem.pk, entry.pk),
            {f"{prefix}-occurred_at": shown, f"{prefix}-text": "Alert fired"},
        )
        entry.refresh_from_db()
        assert (entry.text, entry.occurred_at) == ("Alert fired", moment)
        # A moment in the future is refused beside the field, keeping what was typed.
        future = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        response = client.post(
            url("entry_edit", postmortem.pk, entry.pk),
            {f"{prefix}-occurred_at": future, f"{prefix}-text": "Alert fired late"},
        )
        assert response.status_code == 200
        assert "Alert fired late" in response.content.decode()
        entry.refresh_from_db()
        assert entry.occurred_at == moment
        # Someone who may not edit the post-mortem may not correct its timeline either.
        client.force_login(other_engineer)
        response = client.post(
            url("entry_edit", postmortem.pk, entry.pk),
            {f"{prefix}-occurred_at": shown, f"{prefix}-text": "Rewritten"},
        )
        assert response.status_code == 403
        entry.refresh_from_db()
        assert entry.text == "Alert fired"

    def test_only_its_editors_change_a_why(self, client, other_engineer, engineer, postmortem):
        started(postmortem, engineer)
        why = services.five_why_add(postmortem=postmortem, by=engineer, question="Why?")
        client.force_login(other_engineer)
        response = client.post(
            url("why_edit", postmortem.pk, why.pk),
            {f"why-{why.pk}-question": "Why?", f"why-{why.pk}-answer": "Sabotage"},
        )
        assert response.status_code == 403
        why.refresh_from_db()
        assert why.answer == ""

    def test_whys_are_added_reordered_and_removed(self, client, engineer, postmortem):
        started(postmortem, engineer)
        client.force_login(engineer)
        for question in ("Why did checkout fail?", "Why was the bad build deployed?"):
            client.post(url("why_add", postmortem.pk), {"question": question, "answer": "x"})
        second = FiveWhy.objects.get(position=2)
        client.post(url("why_change", postmortem.pk, second.pk, "up"))
        assert list(FiveWhy.objects.order_by("position").values_list("question", flat=True)) == [
            "Why was the bad build deployed?",
            "Why did checkout fail?",
        ]
        client.post(url("why_change", postmortem.pk, second.pk, "remove"))
        assert FiveWhy.objects.count() == 1

    def test_action_items_formset_adds_and_updates_all_or_nothing(
        self, client, engineer, other_engineer, finance_user, postmortem
    ):
        started(postmortem, engineer)
        client.force_login(engineer)
        data = {
            "items-TOTAL_FORMS": "2",
            "items-INITIAL_FORMS": "0",
            "items-0-title": "Add a canary stage",
            "items-0-owner": other_engineer.username,
            "items-0-due_date": "2026-04-01",
            "items-0-kind": "prevent",
            "items-0-priority": "p2",
            "items-1-title": "Alert on 5xx rate",
            "items-1-owner": "nobody-by-that-name",
            "items-1-kind": "detect",
            "items-1-priority": "p3",
        }
        response = client.post(url("items", postmortem.pk), data)
        page = response.content.decode()
        assert response.status_code == 200
        assert "No active person has the username" in page
        assert "Add a canary stage" in page  # the user's input is kept
        assert not ActionItem.objects.exists()  # nothing half-saved
        # The summary at the top names the row and links to its field.
        summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
        assert '<a href="#id_items-1-owner">Owner (item 2)</a>: No active person' in summary
        # Finance cannot own an item: they could never see or complete it.
        data["items-1-owner"] = finance_user.username
        page = client.post(url("items", postmortem.pk), data).content.decode()
        assert "cannot own an action item: only engineers and managers" in page
        assert f'<option value="{finance_user.username}"' not in page
        assert not ActionItem.objects.exists()
        data["items-1-owner"] = engineer.username
        # A year typed with two digits (0026): never reminded, it would be lost.
        data["items-1-due_date"] = "0026-04-01"
        page = client.post(url("items", postmortem.pk), data).content.decode()
        assert "cannot be before 1900; check the year" in page
        assert not ActionItem.objects.exists()
        data["items-1-due_date"] = ""
        response = client.post(url("items", postmortem.pk), data)
        assert response.status_code == 302
        assert sorted(ActionItem.objects.values_list("title", "owner__username")) == [
            ("Add a canary stage", other_engineer.username),
            ("Alert on 5xx rate", engineer.username),
        ]

    def test_submit_for_review_and_refused_publish(self, client, engineer, postmortem):
        started(postmortem, engineer)
        client.force_login(engineer)
        response = client.post(url("move", postmortem.pk, "submit"), follow=True)
        assert "Write the summary before submitting for review" in response.content.decode()
        services.postmortem_update_sections(postmortem=postmortem, by=engineer, summary="Down.")
        client.post(url("move", postmortem.pk, "submit"))
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.IN_REVIEW
        response = client.post(url("move", postmortem.pk, "publish"), follow=True)
        assert "cannot be published yet" in response.content.decode()
        postmortem.refresh_from_db()
        assert postmortem.status == PostmortemStatus.IN_REVIEW

    def test_a_refused_review_meeting_keeps_the_moment_typed(self, client, engineer, postmortem):
        services.postmortem_start_draft(
            postmortem=postmortem, by=engineer, at=timezone.now() - timedelta(hours=3)
        )
        services.postmortem_update_sections(postmortem=postmortem, by=engineer, summary="Down.")
        services.postmortem_submit_for_review(postmortem=postmortem, by=engineer)
        client.force_login(engineer)
        future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        response = client.post(url("review_meeting", postmortem.pk), {"held_at": future})
        assert response.status_code == 200
        page = response.content.decode()
        assert "not in the future" in page
        assert f'value="{future}"' in page
        assert '<a href="#id_held_at">' in page  # the summary links to the field
        postmortem.refresh_from_db()
        assert postmortem.review_meeting_at is None
        held = timezone.localtime() - timedelta(hours=1)
        response = client.post(
            url("review_meeting", postmortem.pk), {"held_at": held.strftime("%Y-%m-%dT%H:%M")}
        )
        assert response.status_code == 302
        postmortem.refresh_from_db()
        assert postmortem.review_meeting_at == held.replace(second=0, microsecond=0)
        # Before the draft was started there was nothing to review.
        early = (timezone.localtime() - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
        response = client.post(url("review_meeting", postmortem.pk), {"held_at": early})
        assert "cannot be before the draft was started" in response.content.decode()
        postmortem.refresh_from_db()
        assert postmortem.review_meeting_at == held.replace(second=0, microsecond=0)

    def test_the_editor_reminds_to_be_blameless(self, client, engineer, postmortem):
        client.force_login(engineer)
        page = client.get(url("detail", postmortem.pk)).content.decode()
        assert "write about systems and processes, not people" in page


class TestSomeoneElsesPostmortem:
    def test_another_engineer_can_read_but_not_write(
        self, client, engineer, other_engineer, postmortem
    ):
        started(postmortem, engineer)
        client.force_login(other_engineer)
        assert client.get(url("detail", postmortem.pk)).status_code == 200
        for name, data in [
            ("sections", {"summary": "mine now"}),
            ("why_add", {"question": "Why?"}),
            ("items", {"items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0"}),
        ]:
            assert client.post(url(name, postmortem.pk), data).status_code == 403
        assert client.post(url("move", postmortem.pk, "submit")).status_code == 403
        postmortem.refresh_from_db()
        assert postmortem.summary == ""
        assert postmortem.status == PostmortemStatus.DRAFT

    def test_an_owned_scheduled_postmortem_is_started_by_its_owner(
        self, client, engineer, other_engineer
    ):
        postmortem = PostmortemFactory(owner=engineer)
        client.force_login(other_engineer)
        assert client.post(url("start", postmortem.pk)).status_code == 403


class TestMyActionItems:
    def test_sorted_overdue_first_then_due_date(self, client, engineer):
        ActionItemFactory(owner=engineer, title="Later", due_date=date(2099, 1, 1))
        ActionItemFactory(owner=engineer, title="Overdue", due_date=date(2020, 1, 1))
        done = ActionItemFactory(owner=engineer, title="Done already")
        services.action_item_complete(item=done, by=engineer)
        ActionItemFactory(owner=UserFactory(), title="Someone else's")
        client.force_login(engineer)
        page = client.get(reverse("actionitems:mine")).content.decode()
        open_items, closed = page.split("Closed in the last 30 days")
        assert open_items.index("Overdue") < open_items.index("Later")
        assert "Done already" not in open_items
        assert "Done already" in closed  # to reopen, if completed by mistake
        assert "Someone else" not in page

    def test_the_page_says_when_a_due_day_ends_on_the_readers_clock(self, client, engineer):
        ProfileFactory(user=engineer, time_zone="Asia/Kolkata")
        client.force_login(engineer)
        page = client.get(reverse("actionitems:mine")).content.decode()
        assert "A due day ends at midnight UTC, 05:30 IST your time" in page

    def test_an_old_item_dropped_today_is_listed_to_reopen(self, client, engineer):
        old = timezone.now() - timedelta(days=40)
        dropped = ActionItemFactory(owner=engineer, title="Old idea", created_at=old)
        services.action_item_set_status(item=dropped, status="wont_do", by=engineer)
        long_ago = ActionItemFactory(owner=engineer, title="Ancient", created_at=old)
        services.action_item_set_status(
            item=long_ago, status="wont_do", by=engineer, at=old + timedelta(days=1)
        )
        client.force_login(engineer)
        page = client.get(reverse("actionitems:mine")).content.decode()
        closed = page.split("Closed in the last 30 days")[1]
        assert f'id="closed-{dropped.pk}"' in closed
        assert "Ancient" not in closed

    def test_an_item_completed_by_mistake_is_reopened_from_the_page(self, client, engineer):
        item = ActionItemFactory(owner=engineer, title="Add disk alerts")
        client.force_login(engineer)
        client.post(reverse("actionitems:complete", args=[item.pk]))
        page = client.get(reverse("actionitems:mine")).content.decode()
        row = page.split(f'id="closed-{item.pk}"')[1].split("</tr>")[0]
        data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', row))
        data["csrfmiddlewaretoken"] = "x"
        response = client.post(reverse("actionitems:update", args=[item.pk]), data)
        assert response.status_code == 302
        item.refresh_from_db()
        assert (item.status, item.completed_at, item.completed_by) == ("open", None, None)
        page = client.get(reverse("actionitems:mine")).content.decode()
        assert f'id="item-{item.pk}"' in page
        assert f'id="closed-{item.pk}"' not in page

    def test_update_status_tracker_link_and_complete(self, client, engineer):
        item = ActionItemFactory(owner=engineer)
        client.force_login(engineer)
        client.post(
            reverse("actionitems:update", args=[item.pk]),
            {"status": "in_progress", "tracker_url": "https://jira.example.com/OPS-1"},
        )
        item.refresh_from_db()
        assert item.status == ActionItemStatus.IN_PROGRESS
        assert item.tracker_url == "https://jira.example.com/OPS-1"
        client.post(reverse("actionitems:complete", args=[item.pk]))
        item.refresh_from_db()
        assert item.status == ActionItemStatus.DONE
        assert item.completed_by == engineer

    def test_a_bad_link_is_refused_and_nothing_changes(self, client, engineer):
        item = ActionItemFactory(owner=engineer)
        client.force_login(engineer)
        response = client.post(
            reverse("actionitems:update", args=[item.pk]),
            {"status": "in_progress", "tracker_url": "not a link"},
        )
        page = response.content.decode()
        assert "Enter a valid URL" in page
        item.refresh_from_db()
        assert item.status == ActionItemStatus.OPEN
        # What was typed is kept, the error sits beside its field, and the summary links to it.
        field = f'id="id_item{item.pk}-tracker_url"'
        assert 'value="not a link" placeholder="https://…" aria-invalid="true"' in page
        assert page.index(field) < page.index("Enter a valid URL", page.index(field))
        assert f'href="#id_item{item.pk}-tracker_url"' in page
        assert '<option value="in_progress" selected>' in page

    def test_another_engineer_cannot_touch_my_item_by_page_or_crafted_post(
        self, client, engineer, other_engineer
    ):
        item = ActionItemFactory(owner=engineer)
        client.force_login(other_engineer)
        page = client.get(reverse("actionitems:mine")).content.decode()
        assert item.title not in page
        response = client.post(
            reverse("actionitems:update", args=[item.pk]),
            {"status": "wont_do", "tracker_url": ""},
        )
        assert response.status_code == 403
        assert client.post(reverse("actionitems:complete", args=[item.pk])).status_code == 403
        item.refresh_from_db()
        assert item.status == ActionItemStatus.OPEN

    def test_query_count_is_constant(self, client, engineer):
        client.force_login(engineer)

        def count():
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(reverse("actionitems:mine")).status_code == 200
            return len(ctx.captured_queries)

        ActionItemFactory(owner=engineer)
        services.action_item_complete(item=ActionItemFactory(owner=engineer), by=engineer)
        small = count()
        for n in range(30):
            ActionItemFactory(owner=engineer, due_date=date(2026, 3, 1) + timedelta(days=n))
            closed = ActionItemFactory(owner=engineer)
            services.action_item_complete(item=closed, by=engineer)
        assert count() == small


def test_postmortem_page_query_count_is_constant(client, engineer):
    postmortem = PostmortemFactory()
    started(postmortem, engineer)
    client.force_login(engineer)
    target = url("detail", postmortem.pk)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(target).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for n in range(15):
        services.five_why_add(postmortem=postmortem, by=engineer, question=f"Why {n}?")
        ActionItemFactory(postmortem=postmortem, owner=UserFactory())
    assert count() == small


def test_once_published_only_an_items_owner_or_a_manager_changes_it(client):
    postmortem, who = published_checkout_postmortem()
    item = ActionItem.objects.get(postmortem=postmortem, owner=who["ada"])
    client.force_login(who["rob"])  # a reviewer of the post-mortem, not the item's owner
    page = client.get(url("detail", postmortem.pk)).content.decode()
    data = form_data(page, url("items", postmortem.pk))
    row = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == str(item.pk))
    data[f"items-{row}-due_date"] = "2027-03-13"
    assert client.post(url("items", postmortem.pk), data).status_code == 403
    item.refresh_from_db()
    assert (item.owner, item.due_date) == (who["ada"], date(2026, 3, 13))
    # Its owner may.
    client.force_login(who["ada"])
    page = client.get(url("detail", postmortem.pk)).content.decode()
    data = form_data(page, url("items", postmortem.pk))
    data[f"items-{row}-due_date"] = "2026-04-01"
    assert client.post(url("items", postmortem.pk), data).status_code == 302
    item.refresh_from_db()
    assert item.due_date == date(2026, 4, 1)


def test_an_item_whose_owner_left_does_not_block_the_others(client):
    # Rob left: his item stays his, and the author still adds follow-ups and changes hers.
    postmortem, who = published_checkout_postmortem()
    who["rob"].is_active = False
    who["rob"].save()
    client.force_login(who["ada"])
    page = client.get(url("detail", postmortem.pk)).content.decode()
    data = form_data(page, url("items", postmortem.pk))
    blank = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and not v)
    data |= {
        f"items-{blank}-title": "Alert on route table drift",
        f"items-{blank}-owner": who["ada"].username,
        f"items-{blank}-due_date": "2026-04-10",
    }
    response = client.post(url("items", postmortem.pk), data)
    assert response.status_code == 302
    titles = set(postmortem.action_items.values_list("title", flat=True))
    assert "Alert on route table drift" in titles
    assert postmortem.action_items.filter(owner=who["rob"]).exists()
    # Giving an item to him now is still refused.
    data = form_data(
        client.get(url("detail", postmortem.pk)).content.decode(), url("items", postmortem.pk)
    )
    mine = next(
        k.split("-")[1]
        for k, v in data.items()
        if k.endswith("-owner") and v == who["ada"].username
    )
    data[f"items-{mine}-owner"] = who["rob"].username
    response = client.post(url("items", postmortem.pk), data)
    assert response.status_code == 200
    assert "No active person has the username" in response.content.decode()


def test_a_published_postmortem_keeps_its_resolution_when_the_incident_reopens(client):
    from incidents import services as incident_services
    from incidents.models import IncidentStatus

    postmortem, who = published_checkout_postmortem()
    client.force_login(who["ada"])
    before = client.get(url("export", postmortem.pk)).content.decode()
    resolved_line = next(line for line in before.splitlines() if "**Resolved:**" in line)
    incident_services.incident_change_status(
        incident=postmortem.incident,
        to_status=IncidentStatus.INVESTIGATING,
        by=who["maria"],
        note="It came back",
    )
    after = client.get(url("export", postmortem.pk)).content.decode()
    assert after == before
    assert "—" not in resolved_line


def test_a_refused_save_on_a_published_postmortem_never_shows_as_its_text(client):
    # A tab left open in review; someone published meanwhile. The save is refused, the page
    # shows the published text, and what was typed apart, to copy.
    postmortem, who = published_checkout_postmortem()
    stored_impact = postmortem.impact
    client.force_login(who["ada"])
    response = client.post(
        url("sections", postmortem.pk),
        {"summary": "My unsaved rewrite", "loaded-summary": postmortem.summary},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not saved." in page
    assert '<textarea rows="3" readonly>My unsaved rewrite</textarea>' in page
    shown = page.split('id="sections-h"')[1].split("</section>")[0].split("</div>")[-1]
    assert "My unsaved rewrite" not in shown
    assert stored_impact.split()[0] in shown  # the other sections, not blanks
    postmortem.refresh_from_db()
    assert postmortem.summary != "My unsaved rewrite"


def test_the_items_page_sent_again_after_the_back_button_adds_its_items_once(client):
    # Saved with a new item; the browser's Back brings the page back as it was sent, and an
    # existing row is changed on it: the new item is not added a second time.
    postmortem, who = published_checkout_postmortem()
    client.force_login(who["maria"])  # a manager: may change any item
    page = client.get(url("detail", postmortem.pk)).content.decode()
    data = form_data(page, url("items", postmortem.pk))
    blank = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and not v)
    data |= {
        f"items-{blank}-title": "Alert on route table drift",
        f"items-{blank}-owner": who["ada"].username,
        f"items-{blank}-due_date": "2026-04-10",
    }
    assert client.post(url("items", postmortem.pk), data).status_code == 302
    existing = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v)
    again = data | {f"items-{existing}-priority": "p1"}
    response = client.post(url("items", postmortem.pk), again, follow=True)
    titles = list(postmortem.action_items.values_list("title", flat=True))
    assert titles.count("Alert on route table drift") == 1
    assert "This page was already saved" in response.content.decode()
