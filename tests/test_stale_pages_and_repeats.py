"""Pages left open while things change elsewhere, pages sent twice, and other edges found in
review: a template placeholder a manager mistyped, a service that incidents refer to, times in
the hour the clocks go back."""

import contextlib
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents.models import CommunicationTemplate, Incident, TemplateKind
from incidents.templatetags.moments import when
from oncall.models import CompTimeTaken
from postmortems import services as postmortem_services
from postmortems.models import ActionItemStatus
from tests.incidents.factories import (
    IncidentFactory,
    ProfileFactory,
    ServiceFactory,
    TeamFactory,
    severity,
)
from tests.pages import form_data
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db
LINK = "https://tracker.example.com/T-9"


class TestAPageLeftOpen:
    def test_saving_action_items_keeps_what_others_changed_meanwhile(
        self, client, engineer, other_engineer
    ):
        postmortem = PostmortemFactory()
        postmortem_services.postmortem_start_draft(postmortem=postmortem, by=engineer)
        item = ActionItemFactory(postmortem=postmortem, owner=other_engineer, title="Add alert")
        client.force_login(engineer)
        page = client.get(reverse("postmortems:detail", args=[postmortem.pk])).content.decode()
        action = reverse("postmortems:items", args=[postmortem.pk])
        data = form_data(page, action)
        # Meanwhile the owner adds the tracker link from "My action items".
        postmortem_services.action_item_update(item=item, by=other_engineer, tracker_url=LINK)
        # The author, on the page loaded before, adds a second item and renames the first.
        data |= {
            "items-0-title": "Alert on the pool size",
            "items-1-title": "Runbook for the pool",
            "items-1-owner": engineer.username,
            "items-1-due_date": "2030-04-01",
        }
        assert client.post(action, data).status_code == 302
        item.refresh_from_db()
        assert (item.title, item.tracker_url) == ("Alert on the pool size", LINK)
        assert postmortem.action_items.count() == 2

    def test_my_action_items_left_open_does_not_reopen_a_done_item(self, client, engineer):
        item = ActionItemFactory(owner=engineer)
        client.force_login(engineer)
        page = client.get(reverse("actionitems:mine")).content.decode()
        action = reverse("actionitems:update", args=[item.pk])
        data = form_data(page, action)
        assert data["status"] == "open"
        postmortem_services.action_item_complete(item=item, by=engineer)
        client.post(action, data | {"tracker_url": LINK})
        item.refresh_from_db()
        assert (item.status, item.tracker_url) == (ActionItemStatus.DONE, LINK)

    def test_a_tracker_link_too_long_is_a_field_error(self, client, engineer):
        item = ActionItemFactory(owner=engineer)
        client.force_login(engineer)
        long_link = "https://tracker.example.com/" + "x" * 500
        response = client.post(
            reverse("actionitems:update", args=[item.pk]),
            {"status": "open", "tracker_url": long_link},
        )
        assert response.status_code == 200
        assert "at most 500 characters" in response.content.decode()


class TestSentTwice:
    def test_declaring_twice_from_the_same_page_declares_once(self, client, engineer):
        ServiceFactory(name="checkout", team=TeamFactory(name="Shop"))
        client.force_login(engineer)
        page = client.get(reverse("incidents:declare")).content.decode()
        data = form_data(page, reverse("incidents:declare"))
        data |= {"title": "Checkout returns 502", "severity": severity("SEV-2").pk}
        first = client.post(reverse("incidents:declare"), data)
        again = client.post(reverse("incidents:declare"), data)
        incident = Incident.objects.get()
        assert first.url == again.url == reverse("incidents:detail", args=[incident.pk])

    def test_a_refused_declaration_can_be_sent_again(self, client, engineer):
        client.force_login(engineer)
        page = client.get(reverse("incidents:declare")).content.decode()
        data = form_data(page, reverse("incidents:declare")) | {"severity": severity("SEV-2").pk}
        refused = client.post(reverse("incidents:declare"), data)
        assert refused.status_code == 200
        data = form_data(refused.content.decode(), reverse("incidents:declare"))
        assert (
            client.post(reverse("incidents:declare"), data | {"title": "Late"}).status_code == 302
        )
        assert Incident.objects.count() == 1

    def test_logging_comp_time_twice_from_the_same_page_logs_once(self, client, engineer):
        client.force_login(engineer)
        page = client.get(reverse("oncall:me")).content.decode()
        data = form_data(page, reverse("oncall:comp_time_log"))
        data |= {"day": "2026-03-02", "hours": "8"}
        for _ in range(2):
            assert client.post(reverse("oncall:comp_time_log"), data).status_code == 302
        assert CompTimeTaken.objects.count() == 1

    def test_a_status_update_and_a_note_sent_twice_are_posted_once(self, client, engineer):
        incident = IncidentFactory(team=TeamFactory(name="Shop"))
        incident.services.add(ServiceFactory(name="checkout-web"))
        client.force_login(engineer)
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        update = reverse("incidents:act", args=[incident.pk, "update"])
        data = form_data(page, update) | {
            "audience": "status_page",
            "status": "Investigating",
            "impact": "Checkout fails",
            "action": "Rolling back",
            "eta": "unknown",
        }
        for _ in range(2):
            assert client.post(update, data).status_code == 302
        assert incident.updates.count() == 1
        note = reverse("incidents:act", args=[incident.pk, "note"])
        data = form_data(page, note) | {"text": "Rolled back deploy 41"}
        for _ in range(2):
            assert client.post(note, data).status_code == 302
        assert incident.timeline.filter(kind="note").count() == 1
        # A new page carries a new token: the next note is added.
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        client.post(note, form_data(page, note) | {"text": "Error rate back to normal"})
        assert incident.timeline.filter(kind="note").count() == 2

    def test_post_mortem_rows_sent_twice_are_added_once(self, client, engineer):
        postmortem = PostmortemFactory()
        postmortem_services.postmortem_start_draft(postmortem=postmortem, by=engineer)
        client.force_login(engineer)
        page = client.get(reverse("postmortems:detail", args=[postmortem.pk])).content.decode()
        items = reverse("postmortems:items", args=[postmortem.pk])
        data = form_data(page, items) | {
            "items-TOTAL_FORMS": "1",
            "items-0-title": "Add a canary stage",
            "items-0-kind": "prevent",
            "items-0-priority": "p2",
        }
        why = reverse("postmortems:why_add", args=[postmortem.pk])
        asked = form_data(page, why) | {"question": "Why did checkout fail?"}
        for _ in range(2):
            assert client.post(items, data).status_code == 302
            assert client.post(why, asked).status_code == 302
        assert postmortem.action_items.count() == 1
        assert postmortem.five_whys.count() == 1


class TestTemplatePlaceholders:
    def test_a_mistyped_placeholder_is_refused_in_the_admin(self):
        template = CommunicationTemplate(kind=TemplateKind.UPDATE, body="{severity.name} down")
        with pytest.raises(ValidationError, match="Unknown placeholder"):
            template.full_clean()

    def test_one_saved_before_does_not_break_the_incident_page(self, client, engineer):
        CommunicationTemplate.objects.update_or_create(
            kind=TemplateKind.INITIAL, defaults={"status": "{severity.name}", "body": "{x[0]}"}
        )
        checkout = ServiceFactory(name="checkout", team=TeamFactory(name="Shop"), is_public=True)
        from incidents import services

        # On a public service: its first update is offered for the status page, from the
        # initial wording.
        incident = services.incident_declare(
            title="Checkout down", severity="SEV-1", declared_by=engineer, services=[checkout]
        )
        client.force_login(engineer)
        response = client.get(reverse("incidents:detail", args=[incident.pk]))
        assert response.status_code == 200
        assert "{severity.name}" in response.content.decode()


def test_a_service_incidents_refer_to_cannot_be_deleted(client, manager, engineer):
    from incidents import services

    used = ServiceFactory(name="checkout", team=TeamFactory(name="Shop"))
    unused = ServiceFactory(name="chekcout", team=used.team)
    services.incident_declare(
        title="Checkout down", severity="SEV-2", declared_by=engineer, services=[used]
    )
    client.force_login(manager)
    assert client.get(f"/admin/incidents/service/{used.pk}/delete/").status_code == 403
    assert (
        client.post(f"/admin/incidents/service/{unused.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    changelist = client.get("/admin/incidents/service/").content.decode()
    assert "delete_selected" not in changelist


def test_times_in_the_hour_the_clocks_go_back_name_their_zone(settings, engineer, client):
    ProfileFactory(user=engineer, time_zone="America/New_York")
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    from django.utils import timezone

    with timezone.override("America/New_York"):
        assert when(first) == "2026-11-01 01:30 EDT"
        assert when(second) == "2026-11-01 01:30 EST"
        assert when(date(2026, 1, 1), "Y-m-d") == "2026-01-01"


class TestTheGuardNeverStandsInTheWay:
    def _declare_page(self, client):
        page = client.get(reverse("incidents:declare")).content.decode()
        data = form_data(page, reverse("incidents:declare"))
        return data | {"title": "Checkout returns 502", "severity": severity("SEV-2").pk}

    def test_declaring_works_with_the_cache_down(self, client, engineer, settings):
        client.force_login(engineer)
        data = self._declare_page(client)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
            }
        }
        from django.core.cache import caches

        caches._settings = None  # read the settings above
        with contextlib.suppress(AttributeError, KeyError):
            del caches["default"]
        response = client.post(reverse("incidents:declare"), data)
        assert response.status_code == 302
        assert Incident.objects.count() == 1

    def test_a_declaration_that_failed_can_be_sent_again(self, client, engineer, monkeypatch):
        from incidents import services

        client.force_login(engineer)
        data = self._declare_page(client)
        real = services.incident_declare

        def fails_once(**kwargs):
            monkeypatch.setattr(services, "incident_declare", real)
            raise ConnectionError("database went away")

        monkeypatch.setattr(services, "incident_declare", fails_once)
        client.raise_request_exception = False
        assert client.post(reverse("incidents:declare"), data).status_code == 500
        assert client.post(reverse("incidents:declare"), data).status_code == 302
        assert Incident.objects.count() == 1
