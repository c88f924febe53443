"""The engineers' incident pages, through the test client."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import once, services
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentStatus,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
    TimelineEventKind,
)
from tests.incidents.factories import (
    BASE_TIME,
    ProfileFactory,
    ServiceFactory,
    UserFactory,
    severity,
)

pytestmark = pytest.mark.django_db

LIST = reverse("incidents:list")
DECLARE = reverse("incidents:declare")


@pytest.fixture
def engineer_client(client, engineer):
    client.force_login(engineer)
    return client


@pytest.fixture
def incident(engineer):
    return services.incident_declare(
        title="Checkout down",
        severity="SEV-1",
        declared_by=engineer,
        services=[ServiceFactory(name="checkout-web")],
    )


def act(incident, action):
    return reverse("incidents:act", args=[incident.pk, action])


class TestAccess:
    @pytest.mark.parametrize(
        "url", [LIST, DECLARE, "/incidents/1/", "/postmortems/", "/action-items/", "/oncall/me/"]
    )
    def test_login_required(self, client, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("url", [LIST, DECLARE, "/postmortems/", "/oncall/me/", "/oncall/now/"])
    def test_finance_sees_only_the_report(self, client, finance_user, url):
        client.force_login(finance_user)
        assert client.get(url).status_code == 403

    def test_finance_cannot_post_to_an_incident(self, client, finance_user, incident):
        client.force_login(finance_user)
        response = client.post(act(incident, "note"), {"text": "hi"})
        assert response.status_code == 403
        assert not incident.timeline.filter(kind=TimelineEventKind.NOTE).exists()

    def test_csrf_is_enforced(self, engineer, incident):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(engineer)
        response = client.post(act(incident, "note"), {"text": "hi"})
        assert response.status_code == 403


class TestListAndDeclare:
    def test_list_shows_open_incidents_with_commander_and_filters(
        self, engineer_client, engineer, incident
    ):
        services.role_assign(
            incident=incident, role=IncidentRole.COMMANDER, user=engineer, by=engineer
        )
        other = services.incident_declare(title="Slow search", severity="SEV-3", declared_by=None)
        page = engineer_client.get(LIST).content.decode()
        assert incident.reference in page
        assert engineer.get_full_name() in page
        assert other.reference in page
        page = engineer_client.get(LIST, {"severity": severity("SEV-3").pk}).content.decode()
        assert other.reference in page
        assert incident.reference not in page

    def test_the_other_pages_keep_the_filters(self, engineer_client):
        for n in range(51):
            services.incident_declare(title=f"s{n}", severity="SEV-3", declared_by=None)
        services.incident_declare(title="the SEV-2", severity="SEV-2", declared_by=None)
        sev3 = severity("SEV-3").pk
        page = engineer_client.get(LIST, {"show": "", "severity": sev3}).content.decode()
        assert f'href="?show=&amp;severity={sev3}&amp;page=2"' in page
        second = engineer_client.get(LIST, {"show": "", "severity": sev3, "page": 2})
        assert len(second.context["page"].object_list) == 1
        assert "the SEV-2" not in second.content.decode()

    @pytest.mark.parametrize("field", ["severity", "team", "service"])
    def test_a_filter_value_that_is_not_an_id_is_ignored(self, engineer_client, incident, field):
        response = engineer_client.get(LIST, {field: "SEV-1"})
        assert response.status_code == 200
        assert incident.reference in response.content.decode()

    def test_mine_lists_what_i_declared_or_held_a_role_in(
        self, engineer_client, engineer, incident
    ):
        held = services.incident_declare(title="Held", severity="SEV-3", declared_by=None)
        services.role_assign(incident=held, role=IncidentRole.SCRIBE, user=engineer, by=None)
        services.role_relieve(incident=held, role=IncidentRole.SCRIBE, by=None)
        other = services.incident_declare(title="Not mine", severity="SEV-3", declared_by=None)
        page = engineer_client.get(LIST, {"show": "mine"}).content.decode()
        assert incident.reference in page  # declared by me
        assert held.reference in page  # a role I held, relieved since
        assert other.reference not in page

    def test_header_counts(self, engineer_client, incident):
        response = engineer_client.get(LIST)
        assert response.context["header_open_incidents"] == 1
        assert response.context["header_my_action_items"] == 0

    def test_declare_takes_the_declarer_to_the_incident(self, engineer_client, engineer):
        service = ServiceFactory(name="payments-api")
        response = engineer_client.post(
            DECLARE,
            {
                "title": "Payments failing",
                "severity": severity("SEV-2").pk,
                "services": [service.pk],
                "detection_method": "customer_report",
                "summary": "Cards declined",
                "customer_impact": "on",
                "impact_description": "some card payments fail",
            },
        )
        incident = Incident.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
        assert incident.declared_by == engineer
        assert incident.customer_impact is True

    def test_a_page_sent_twice_declares_once_but_other_text_on_it_declares_again(
        self, engineer_client
    ):
        # A double click sends the same page twice: one incident. The back button brings the
        # page back with its spent token; what is typed on it then is a new incident.
        data = {
            "title": "Payments failing",
            "severity": severity("SEV-2").pk,
            "detection_method": "customer_report",
            "once": once.new_token(),  # the cache outlives test databases
        }
        first = engineer_client.post(DECLARE, data)
        again = engineer_client.post(DECLARE, data, follow=True)
        assert Incident.objects.count() == 1
        assert again.redirect_chain[-1][0] == first["Location"]
        assert "This incident was already declared." in again.content.decode()
        other = engineer_client.post(DECLARE, data | {"title": "Logins failing"})
        assert other.status_code == 302
        titles = sorted(Incident.objects.values_list("title", flat=True))
        assert titles == ["Logins failing", "Payments failing"]

    def test_declare_records_when_it_began_in_the_declarers_zone(self, engineer_client, engineer):
        ProfileFactory(user=engineer, time_zone="America/New_York")
        now = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # 12:00 in New York (EDT)
        data = {
            "title": "Logins failing",
            "severity": severity("SEV-2").pk,
            "detection_method": "customer_report",
            "started_at": "2026-07-01T10:00",  # two hours before it was noticed
        }
        with time_machine.travel(now, tick=False):
            response = engineer_client.post(DECLARE, data)
        assert response.status_code == 302
        incident = Incident.objects.get()
        assert incident.started_at == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
        assert incident.time_to_detect == timedelta(hours=2)

    def test_a_start_in_the_future_is_refused_beside_its_box(self, engineer_client):
        later = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        response = engineer_client.post(
            DECLARE,
            {
                "title": "Logins failing",
                "severity": severity("SEV-2").pk,
                "detection_method": "alert",
                "started_at": later,
            },
        )
        assert response.status_code == 200
        assert "The start cannot be in the future." in response.content.decode()
        assert not Incident.objects.exists()

    def test_invalid_declare_keeps_the_input_and_saves_nothing(self, engineer_client):
        response = engineer_client.post(
            DECLARE,
            {"title": "Half filled in", "detection_method": "alert", "summary": "keep me"},
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert "Please correct the errors below" in page
        assert "This field is required." in page
        assert "Half filled in" in page
        assert "keep me" in page
        assert not Incident.objects.exists()
        # The summary names each field by its label and links to its box (a severity's first
        # radio), as a screen reader user follows it.
        summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
        assert '<a href="#id_severity_0">Severity</a>' in summary
        assert 'id="id_severity_0"' in page

    def test_list_query_count_is_constant(self, engineer_client):
        def build(count):
            for n in range(count):
                incident = services.incident_declare(
                    title=f"i{n}",
                    severity="SEV-2",
                    declared_by=None,
                    services=[ServiceFactory()],
                    at=BASE_TIME,
                )
                services.role_assign(
                    incident=incident, role=IncidentRole.COMMANDER, user=UserFactory(), by=None
                )

        def count():
            with CaptureQueriesContext(connection) as ctx:
                assert engineer_client.get(LIST, {"show": ""}).status_code == 200
            return len(ctx.captured_queries)

        build(3)
        small = count()
        build(40)
        assert count() == small


class TestIncidentPage:
    def test_page_shows_facts_roles_timeline_and_countdown(self, engineer_client, incident):
        response = engineer_client.get(reverse("incidents:detail", args=[incident.pk]))
        page = response.content.decode()
        assert incident.channel_name in page
        assert "Next status update due" in page
        assert "data-countdown" in page
        assert "Declared SEV-1: Checkout down" in page
        assert 'hx-trigger="every 3s"' in page
        # Prefilled from the initial status page template, with public facts only: the
        # title and impact description are internal until someone chooses to publish them.
        assert "We are investigating reports of an issue affecting checkout-web" in page
        assert "Checkout down. We will provide" not in page

    def test_the_first_update_is_prefilled_without_internal_facts(self, engineer_client, engineer):
        incident = services.incident_declare(
            declared_by=engineer,
            title="Primary DB OOM after migration 0042",
            severity="SEV-2",
            impact_description="EU tenants cannot log in",
            services=[
                ServiceFactory(name="auth-service"),
                ServiceFactory(name="db-primary", is_public=False),
            ],
        )
        page = engineer_client.get(reverse("incidents:detail", args=[incident.pk])).content
        form = page.decode().split('id="update"')[1].split("</form>")[0]
        assert "We are investigating reports of an issue affecting auth-service." in form
        assert "Some customers may be experiencing degraded service." in form
        for internal in ("Primary DB OOM", "EU tenants", "db-primary"):
            assert internal not in form

    def test_take_role_post_update_change_status_and_resolve(
        self, engineer_client, engineer, incident
    ):
        engineer_client.post(act(incident, "take"), {"take-role": "commander"})
        assert RoleAssignment.objects.get(incident=incident).user == engineer
        response = engineer_client.post(
            act(incident, "update"),
            {
                "audience": "status_page",
                "status": "Investigating",
                "impact": "Checkout fails",
                "action": "Rolling back",
                "eta": "30 minutes",
            },
        )
        assert response.status_code == 302
        assert StatusUpdate.objects.count() == 1
        engineer_client.post(act(incident, "status"), {"to_status": "mitigated"})
        response = engineer_client.post(
            act(incident, "status"),
            {"to_status": "resolved", **dict.fromkeys(services.ResolutionChecklist.LABELS, "on")},
        )
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.RESOLVED

    def test_taking_a_role_someone_holds_is_refused_not_a_silent_handover(
        self, client, engineer, other_engineer, incident
    ):
        # Several people open the page at the start of a SEV-1: one click on "Take this role"
        # must not relieve the commander.
        services.role_assign(
            incident=incident, role="commander", user=other_engineer, by=other_engineer
        )
        client.force_login(engineer)
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        take = page.split('id="take"')[1].split("</form>")[0]
        assert '<option value="" selected>Choose a role…</option>' in take
        response = client.post(act(incident, "take"), {"take-role": "commander"})
        assert response.status_code == 200
        assert "holds the Incident commander role" in response.content.decode()
        assert '<th scope="row">Choose a role…</th>' not in page  # the roles table
        holders = RoleAssignment.objects.filter(incident=incident, relieved_at__isnull=True)
        assert [a.user for a in holders] == [other_engineer]
        assert client.post(act(incident, "take"), {"take-role": ""}).status_code == 200
        # A free role is taken at once.
        client.post(act(incident, "take"), {"take-role": "scribe"})
        assert RoleAssignment.objects.get(incident=incident, role="scribe").user == engineer

    def test_the_error_summary_links_to_a_prefixed_forms_field(self, engineer_client, incident):
        response = engineer_client.post(act(incident, "take"), {"take-role": "bogus"})
        page = response.content.decode()
        assert response.status_code == 200
        assert 'href="#id_take-role"' in page
        assert 'id="id_take-role"' in page

    def test_refused_resolve_shows_the_missing_items_and_keeps_the_note(
        self, engineer_client, incident
    ):
        response = engineer_client.post(
            act(incident, "status"),
            {"to_status": "resolved", "issue_fixed": "on", "note": "looks good to me"},
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert "Customer impact verified resolved" in page
        assert "looks good to me" in page
        assert page.count('class="error-summary"') == 1  # told once, beside the form
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.INVESTIGATING

    def test_update_without_its_fields_keeps_the_input(self, engineer_client, incident):
        response = engineer_client.post(
            act(incident, "update"),
            {"audience": "internal", "status": "Investigating", "impact": "", "action": "Digging"},
        )
        page = response.content.decode()
        assert "This field is required." in page
        assert "Digging" in page
        assert not StatusUpdate.objects.exists()

    def test_hand_over_and_severity(self, engineer_client, engineer, other_engineer, incident):
        engineer_client.post(act(incident, "take"), {"take-role": "scribe"})
        engineer_client.post(
            act(incident, "handover"),
            {"handover-role": "scribe", "handover-user": other_engineer.pk},
        )
        engineer_client.post(act(incident, "severity"), {"severity": severity("SEV-2").pk})
        incident.refresh_from_db()
        assert incident.severity.name == "SEV-2"
        holder = RoleAssignment.objects.get(incident=incident, relieved_at__isnull=True)
        assert holder.user == other_engineer

    def test_roles_go_only_to_people_who_work_incidents(
        self, engineer_client, finance_user, manager, incident
    ):
        page = engineer_client.get(reverse("incidents:detail", args=[incident.pk]))
        options = page.content.decode().split('name="handover-user"', 1)[1].split("</select>")[0]
        assert manager.username in options
        assert finance_user.username not in options
        response = engineer_client.post(
            act(incident, "handover"),
            {"handover-role": "scribe", "handover-user": finance_user.pk},
        )
        assert response.status_code == 200
        assert "Select a valid choice." in response.content.decode()
        assert not RoleAssignment.objects.filter(user=finance_user).exists()

    def test_timeline_fragment_is_newest_first(self, engineer_client, engineer, incident):
        services.note_add(incident=incident, author=engineer, text="second thing")
        page = engineer_client.get(reverse("incidents:timeline", args=[incident.pk]))
        text = page.content.decode()
        assert text.index("second thing") < text.index("Declared SEV-1")

    def test_a_note_corrects_an_earlier_event_from_the_page(
        self, engineer_client, engineer, incident
    ):
        wrong = services.note_add(incident=incident, author=engineer, text="Root cause: DNS")
        response = engineer_client.post(
            act(incident, "note"),
            {"text": "Not DNS: the certificate expired", "corrects": wrong.pk},
        )
        assert response.status_code == 302
        note = TimelineEvent.objects.get(message="Not DNS: the certificate expired")
        assert note.corrects == wrong
        wrong.refresh_from_db()
        assert wrong.message == "Root cause: DNS"  # history is never edited
        fragment = engineer_client.get(reverse("incidents:timeline", args=[incident.pk]))
        assert "(corrects the note of " in fragment.content.decode()
        page = engineer_client.get(reverse("incidents:detail", args=[incident.pk]))
        assert "(corrects the note of " in page.content.decode()
        # Only this incident's events can be corrected here.
        other = services.incident_declare(title="Other", severity="SEV-3", declared_by=engineer)
        foreign = other.timeline.first()
        response = engineer_client.post(
            act(incident, "note"), {"text": "sneaky", "corrects": foreign.pk}
        )
        assert response.status_code == 200
        assert not TimelineEvent.objects.filter(message="sneaky").exists()

    def test_the_polled_fragment_does_not_count_the_headers_figures(
        self, engineer_client, incident
    ):
        # Polled every 3 seconds by every viewer: it shows no header, so it counts nothing
        # for one.
        with CaptureQueriesContext(connection) as queries:
            engineer_client.get(reverse("incidents:timeline", args=[incident.pk]))
        counted = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert counted == []

    def test_an_imported_acknowledgement_names_nobody(self, engineer_client):
        imported, _ = services.incident_import(
            reference="OLD-7",
            title="Left over",
            severity="SEV-3",
            started_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
            acknowledged_at=datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
        )
        page = engineer_client.get(reverse("incidents:detail", args=[imported.pk]))
        facts = page.content.decode().split("<dt>Acknowledged</dt>")[1].split("</dd>")[0]
        assert "2026-03-01 09:05" in facts
        assert "by" not in facts

    def test_responders_record_impact_and_root_cause_even_once_closed(
        self, engineer_client, engineer, incident
    ):
        services.incident_resolve(
            incident=incident, by=engineer, checklist=services.ResolutionChecklist.all_confirmed()
        )
        services.incident_change_status(
            incident=incident, to_status=IncidentStatus.CLOSED, by=engineer
        )
        page = engineer_client.get(reverse("incidents:detail", args=[incident.pk]))
        assert 'name="impact-root_cause_category"' in page.content.decode()
        response = engineer_client.post(
            act(incident, "impact"),
            {
                "impact-customer_impact": "on",
                "impact-impact_description": "Checkout failed for EU customers",
                "impact-users_affected": "1200",
                "impact-revenue_impact": "4500.50",
                "impact-revenue_currency": "eur",
                "impact-data_loss": "",
                "impact-data_loss_details": "",
                "impact-security_related": "",
                "impact-root_cause": "The v42 deploy doubled the connection pool.",
                "impact-root_cause_category": "deployment",
            },
        )
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.users_affected == 1200
        assert str(incident.revenue_impact) == "4500.50"
        assert incident.revenue_currency == "EUR"
        assert incident.root_cause_category == "deployment"
        assert incident.customer_impact
        event = incident.timeline.get(kind=TimelineEventKind.DETAILS_CHANGED)
        assert event.author == engineer
        assert set(event.payload["changes"]) >= {"users_affected", "root_cause_category"}
        page = engineer_client.get(reverse("incidents:detail", args=[incident.pk])).content
        assert b"The v42 deploy doubled the connection pool." in page
        assert b"4500.50 EUR" in page

    def test_bad_impact_figures_are_refused_beside_their_boxes(self, engineer_client, incident):
        response = engineer_client.post(
            act(incident, "impact"),
            {
                "impact-users_affected": "-5",
                "impact-revenue_impact": "-1",
                "impact-revenue_currency": "dollars",
                "impact-root_cause_category": "gremlins",
            },
        )
        assert response.status_code == 200
        errors = response.context["impact_form"].errors
        assert set(errors) == {
            "users_affected",
            "revenue_impact",
            "revenue_currency",
            "root_cause_category",
        }
        assert b'<details id="impact" open>' in response.content
        assert b'<a href="#id_impact-users_affected">Users affected</a>' in response.content
        incident.refresh_from_db()
        assert incident.users_affected is None
        assert incident.revenue_currency == "USD"
        assert not incident.timeline.filter(kind=TimelineEventKind.DETAILS_CHANGED).exists()

    def test_unknown_action_and_get_are_refused(self, engineer_client, incident):
        assert engineer_client.post(act(incident, "explode"), {}).status_code == 405
        assert engineer_client.get(act(incident, "note")).status_code == 405

    def test_incident_page_query_count_is_constant(self, engineer_client, engineer, incident):
        url = reverse("incidents:detail", args=[incident.pk])

        def count():
            with CaptureQueriesContext(connection) as ctx:
                assert engineer_client.get(url).status_code == 200
            return len(ctx.captured_queries)

        small = count()
        for n in range(25):
            services.note_add(incident=incident, author=UserFactory(), text=f"note {n}")
            services.status_update_post(
                incident=incident,
                author=UserFactory(),
                status="s",
                impact="i",
                action="a",
                eta="e",
            )
        for role in (IncidentRole.SCRIBE, IncidentRole.TECHNICAL_LEAD):
            services.role_assign(incident=incident, role=role, user=UserFactory(), by=engineer)
        assert count() == small
