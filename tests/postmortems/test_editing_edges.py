"""Post-mortem edges found in review: a half-typed year, a line in the hour the clocks go
back, long and multi-line notes, customer impact recorded after the fact, and who may own an
action item."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents import services as incident_services
from incidents.models import IncidentStatus
from postmortems import services
from postmortems.models import ActionItem, Postmortem
from postmortems.services import ENTRY_TOO_EARLY, NOT_A_RESPONDER
from tests.incidents.factories import ProfileFactory, TeamFactory
from tests.pages import form_data
from tests.postmortems.factories import ActionItemFactory

pytestmark = pytest.mark.django_db
CHECK = incident_services.ResolutionChecklist.all_confirmed()
MINUTE = timedelta(minutes=1)


def _drafting(author, started: datetime, *, severity="SEV-1", customer_impact=False, notes=()):
    incident = incident_services.incident_declare(
        title="Checkout down",
        severity=severity,
        declared_by=author,
        started_at=started,
        detected_at=started + MINUTE,
        at=started + MINUTE,
        team=TeamFactory(name="Platform"),
        customer_impact=customer_impact,
    )
    for moment, text in notes:
        incident_services.note_add(incident=incident, author=author, text=text, at=moment)
    incident_services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.RESOLVED,
        by=author,
        checklist=CHECK,
        at=started + timedelta(hours=1),
    )
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is not None:
        services.postmortem_start_draft(
            postmortem=postmortem, by=author, at=started + timedelta(hours=2)
        )
    return incident, postmortem


def _entry_url(postmortem, entry=None) -> str:
    if entry is None:
        return f"/postmortems/{postmortem.pk}/timeline/"
    return f"/postmortems/{postmortem.pk}/timeline/{entry.pk}/"


def test_a_year_typed_as_0001_is_refused_and_the_post_mortem_still_opens(client, engineer):
    ProfileFactory(user=engineer, time_zone="Asia/Tokyo")
    _, postmortem = _drafting(engineer, datetime(2026, 3, 2, 10, tzinfo=UTC))
    client.force_login(engineer)
    response = client.post(
        _entry_url(postmortem), {"occurred_at": "0001-01-01T00:00", "text": "Typo in the year"}
    )
    assert ENTRY_TOO_EARLY in response.content.decode()
    assert not postmortem.timeline_entries.filter(text="Typo in the year").exists()
    assert client.get(f"/postmortems/{postmortem.pk}/").status_code == 200


class TestTheHourTheClocksGoBack:
    # 05:20 UTC on 1 November 2026 is 01:20 EDT, the first of New York's two 01:20s.
    STARTED = datetime(2026, 11, 1, 5, 20, tzinfo=UTC)

    @pytest.fixture
    def entry(self, engineer, settings):
        settings.TIME_ZONE = "UTC"
        ProfileFactory(user=engineer, time_zone="America/New_York")
        _, postmortem = _drafting(
            engineer,
            self.STARTED,
            notes=[(self.STARTED + timedelta(minutes=45), "Rolled back")],
        )
        return postmortem.timeline_entries.get(text="Rolled back")

    def test_a_line_there_is_corrected_keeping_its_moment(self, client, engineer, entry):
        # 06:05 UTC is the second 01:05 (EST): the picker shows 01:05 either way.
        client.force_login(engineer)
        response = client.post(
            _entry_url(entry.postmortem, entry),
            {
                f"entry-{entry.pk}-occurred_at": "2026-11-01T01:05",
                f"entry-{entry.pk}-text": "Rolled back deploy 4411",
            },
        )
        assert response.status_code == 302
        entry.refresh_from_db()
        assert entry.text == "Rolled back deploy 4411"
        assert entry.occurred_at == self.STARTED + timedelta(minutes=45)

    def test_a_line_added_there_is_the_first_of_the_two(self, client, engineer, entry):
        client.force_login(engineer)
        response = client.post(
            _entry_url(entry.postmortem),
            {"occurred_at": "2026-11-01T01:40", "text": "Paged the database team"},
        )
        assert response.status_code == 302
        added = entry.postmortem.timeline_entries.get(text="Paged the database team")
        assert added.occurred_at == datetime(2026, 11, 1, 5, 40, tzinfo=UTC)


def test_a_long_multi_line_note_keeps_its_text_when_its_time_is_corrected(client, engineer):
    started = datetime(2026, 3, 2, 10, tzinfo=UTC)
    note = "Status: degraded\nImpact: checkout\nAction: rollback " + "details " * 80
    _, postmortem = _drafting(engineer, started, notes=[(started + 5 * MINUTE, note)])
    entry = postmortem.timeline_entries.get(text__startswith="Status: degraded")
    client.force_login(engineer)
    page = client.get(f"/postmortems/{postmortem.pk}/").content.decode()
    assert f'<textarea name="entry-{entry.pk}-text"' in page
    response = client.post(
        _entry_url(postmortem, entry),
        {f"entry-{entry.pk}-occurred_at": "2026-03-02T10:04", f"entry-{entry.pk}-text": note},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.occurred_at, entry.text) == (started + 4 * MINUTE, note.strip())


def test_customer_impact_recorded_after_resolution_schedules_the_post_mortem(engineer, manager):
    incident, postmortem = _drafting(
        engineer, datetime(2026, 3, 2, 10, tzinfo=UTC), severity="SEV-3"
    )
    assert postmortem is None
    incident_services.incident_update_details(incident=incident, by=manager, customer_impact=True)
    assert Postmortem.objects.filter(incident=incident).exists()


class TestWhoOwnsAnActionItem:
    def test_finance_cannot_be_given_items_by_any_path(self, engineer, finance_user, manager):
        item = ActionItemFactory(owner=engineer)
        with pytest.raises(ValidationError, match="cannot own an action item"):
            services.action_items_reassign(items=[item], owner=finance_user, by=manager)
        with pytest.raises(ValidationError, match="cannot own an action item"):
            services.action_item_update(item=item, by=manager, owner=finance_user)
        item.refresh_from_db()
        assert item.owner == engineer

    def test_the_admin_reassign_action_says_why(self, client, engineer, finance_user, manager):
        item = ActionItemFactory(owner=engineer)
        client.force_login(manager)
        response = client.post(
            "/admin/postmortems/actionitem/",
            {
                "action": "reassign",
                "_selected_action": [item.pk],
                "apply": "1",
                "owner": finance_user.pk,
            },
            follow=True,
        )
        name = finance_user.get_full_name()
        assert NOT_A_RESPONDER.format(user=name) in response.content.decode().replace("&#x27;", "'")
        assert ActionItem.objects.get(pk=item.pk).owner == engineer


class TestTwoTabsOpen:
    """Each edit form posts every field as the page showed it; only what the writer changed
    is saved, so a tab left open never puts back what a co-author changed meanwhile."""

    def test_a_why_keeps_the_answer_written_in_another_tab(self, client, engineer, manager):
        _, postmortem = _drafting(engineer, datetime(2026, 3, 2, 10, tzinfo=UTC))
        why = services.five_why_add(
            postmortem=postmortem, by=engineer, question="Why did checkout fail?", answer=""
        )
        action = f"/postmortems/{postmortem.pk}/whys/{why.pk}/edit/"
        client.force_login(manager)
        stale = form_data(client.get(f"/postmortems/{postmortem.pk}/").content.decode(), action)
        services.five_why_update(why=why, by=engineer, answer="The pool was exhausted.")
        stale[f"why-{why.pk}-question"] = "Why did checkout return 502?"
        assert client.post(action, stale).status_code == 302
        why.refresh_from_db()
        assert (why.question, why.answer) == (
            "Why did checkout return 502?",
            "The pool was exhausted.",
        )

    def test_an_entry_keeps_the_text_corrected_in_another_tab(self, client, engineer, manager):
        _, postmortem = _drafting(engineer, datetime(2026, 3, 2, 10, tzinfo=UTC))
        entry = services.timeline_entry_add(
            postmortem=postmortem,
            by=engineer,
            occurred_at=datetime(2026, 3, 2, 10, 20, 30, tzinfo=UTC),
            text="Rolled back deploy 41",
        )
        action = _entry_url(postmortem, entry)
        client.force_login(manager)
        stale = form_data(client.get(f"/postmortems/{postmortem.pk}/").content.decode(), action)
        services.timeline_entry_update(entry=entry, by=engineer, text="Rolled back deploy 42")
        # Saved untouched: nothing changes, the seconds of the moment included.
        assert client.post(action, stale).status_code == 302
        entry.refresh_from_db()
        assert (entry.occurred_at.second, entry.text) == (30, "Rolled back deploy 42")
        # Only the time corrected: the text another tab wrote stands.
        stale[f"entry-{entry.pk}-occurred_at"] = "2026-03-02T10:10"  # UTC, the reader's zone
        assert client.post(action, stale).status_code == 302
        entry.refresh_from_db()
        assert entry.occurred_at == datetime(2026, 3, 2, 10, 10, tzinfo=UTC)
        assert entry.text == "Rolled back deploy 42"
