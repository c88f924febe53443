import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import (
    Incident,
    IncidentRole,
    IncidentStatus,
    Profile,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
    TimelineEventKind,
)
from tests.incidents.factories import (
    BASE_TIME,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    severity,
)
from tests.pages import form_data

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def act_url(incident, action):
    return reverse("admin:incidents_incident_act", args=[incident.pk, action])


@pytest.fixture
def incident(manager):
    service = ServiceFactory(name="checkout-web")
    return services.incident_declare(
        title="Checkout returns 502",
        severity="SEV-1",
        declared_by=manager,
        services=[service],
        at=BASE_TIME,
    )


class TestAccess:
    @pytest.mark.parametrize("who", ["engineer", "finance_user"])
    def test_engineers_and_finance_cannot_enter_even_with_staff_flag(self, client, request, who):
        user = request.getfixturevalue(who)
        user.is_staff = True  # a mistake someone could make in the user admin
        user.save()
        client.force_login(user)
        for url in (reverse("admin:index"), CHANGELIST, reverse("admin:incidents_incident_add")):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))

    def test_engineer_cannot_post_to_the_incident_actions(self, client, engineer, incident):
        client.force_login(engineer)
        response = client.post(act_url(incident, "note"), {"text": "sneaky"})
        assert response.status_code == 302
        assert not incident.timeline.filter(kind=TimelineEventKind.NOTE).exists()

    def test_anonymous_is_sent_to_login(self, client):
        response = client.get(CHANGELIST)
        assert response.status_code == 302

    def test_manager_enters(self, manager_client):
        assert manager_client.get(reverse("admin:index")).status_code == 200


class TestChangelist:
    def test_columns_show_reference_severity_status_commander_and_duration(
        self, manager_client, manager, incident
    ):
        services.role_assign(
            incident=incident, role=IncidentRole.COMMANDER, user=manager, by=manager
        )
        page = manager_client.get(CHANGELIST).content.decode()
        assert incident.reference in page
        assert "Checkout returns 502" in page
        assert "SEV-1" in page
        assert "Investigating" in page
        assert manager.get_full_name() in page

    def test_search_by_reference_and_title(self, manager_client, incident):
        other = IncidentFactory(title="Kafka consumer lag")
        page = manager_client.get(CHANGELIST, {"q": incident.reference}).content.decode()
        assert incident.reference in page
        assert other.reference not in page
        page = manager_client.get(CHANGELIST, {"q": "kafka"}).content.decode()
        assert other.reference in page
        assert incident.reference not in page

    def test_filters(self, manager_client, incident):
        sev3 = IncidentFactory(severity=severity("SEV-3"), team=TeamFactory(name="Identity"))
        response = manager_client.get(CHANGELIST, {"severity__id__exact": severity("SEV-3").pk})
        page = response.content.decode()
        assert sev3.reference in page
        assert incident.reference not in page
        page = manager_client.get(
            CHANGELIST, {"status__exact": "investigating", "team": "identity"}
        ).content.decode()
        assert sev3.reference in page
        assert incident.reference not in page
        service = incident.services.get()
        page = manager_client.get(CHANGELIST, {"service": service.name.upper()}).content.decode()
        assert incident.reference in page
        assert sev3.reference not in page
        # Teams and services are typed, not listed: a link per team would grow with them.
        assert 'name="team"' in page
        assert 'name="service"' in page
        assert "team__id__exact" not in page

    def test_query_count_is_the_same_for_5_and_50_incidents(self, manager_client):
        def build(count):
            for _ in range(count):
                incident = IncidentFactory()
                incident.services.add(ServiceFactory())
                services.role_assign(
                    incident=incident,
                    role=IncidentRole.COMMANDER,
                    user=UserFactory(),
                    by=None,
                )

        def queries():
            with CaptureQueriesContext(connection) as ctx:
                response = manager_client.get(CHANGELIST)
            assert response.status_code == 200
            return len(ctx.captured_queries)

        build(5)
        small = queries()
        build(45)
        large = queries()
        assert small == large
        assert large <= 20


class TestDeclareFromAdmin:
    def test_add_declares_through_the_service(self, manager_client, manager):
        service = ServiceFactory(name="payments-api")
        response = manager_client.post(
            reverse("admin:incidents_incident_add"),
            {
                "title": "Payments failing",
                "severity": severity("SEV-2").pk,
                "services": [service.pk],
                "detection_method": "customer_report",
                "summary": "Cards declined",
                "customer_impact": "on",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        incident = Incident.objects.get()
        assert incident.reference.startswith("INC-")
        assert incident.declared_by == manager
        assert incident.team == service.team
        assert list(incident.services.all()) == [service]
        assert incident.timeline.get().kind == TimelineEventKind.DECLARED

    def test_add_with_start_after_detection_shows_error_and_creates_nothing(self, manager_client):
        response = manager_client.post(
            reverse("admin:incidents_incident_add"),
            {
                "title": "Bad times",
                "severity": severity("SEV-2").pk,
                "detection_method": "alert",
                "started_at_0": "2026-03-02",
                "started_at_1": "10:00:00",
                "detected_at_0": "2026-03-02",
                "detected_at_1": "09:00:00",
            },
        )
        assert response.status_code == 200
        assert services.DETECTED_BEFORE_STARTED in response.content.decode()
        assert Incident.objects.count() == 0

    def test_add_with_unknown_severity_is_a_form_error(self, manager_client):
        response = manager_client.post(
            reverse("admin:incidents_incident_add"),
            {"title": "x", "severity": 987654, "detection_method": "alert"},
        )
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert Incident.objects.count() == 0


class TestChangePage:
    def test_the_change_page_reads_its_updates_in_constant_queries(self, manager_client, incident):
        def post(n):
            for k in range(n):
                services.status_update_post(
                    incident=incident,
                    author=None,
                    status="Investigating",
                    impact="Checkout fails",
                    action=f"Step {k}",
                    eta="unknown",
                    at=BASE_TIME + timedelta(minutes=k + 1),
                )

        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert manager_client.get(change_url(incident)).status_code == 200
            return len(queries)

        post(1)
        count()  # the first visit also reads what is cached from then on
        one = count()
        post(15)  # a long SEV-1 posts one every 15 minutes
        assert count() == one

    def test_change_page_shows_timeline_roles_and_action_forms(self, manager_client, incident):
        response = manager_client.get(change_url(incident))
        page = response.content.decode()
        assert response.status_code == 200
        assert "Declared SEV-1: Checkout returns 502" in page
        assert "Post a status update" in page
        assert "Add a note" in page
        assert "Change status" in page
        assert "timeline (the latest 100 events; append-only)" in page.lower()

    def test_editing_details_writes_the_timeline(self, manager_client, incident):
        page = manager_client.get(change_url(incident))
        form = page.context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if name in form.fields and value is not None
        }
        data["services"] = [s.pk for s in incident.services.all()]
        data["team"] = incident.team_id
        data["users_affected"] = 4200
        data["root_cause_category"] = "deployment"
        for prefix in ("roles", "updates", "timeline"):
            for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
                data[f"{prefix}-{key}"] = 0
        response = manager_client.post(change_url(incident), data)
        assert response.status_code == 302, response.content.decode()[:3000]
        incident.refresh_from_db()
        assert incident.users_affected == 4200
        event = incident.timeline.get(kind=TimelineEventKind.DETAILS_CHANGED)
        assert set(event.payload["changes"]) == {"users_affected", "root_cause_category"}

    def test_no_delete_for_incidents_or_timeline(self, manager_client, incident):
        response = manager_client.get(
            reverse("admin:incidents_incident_delete", args=[incident.pk])
        )
        assert response.status_code == 403
        event = incident.timeline.get()
        response = manager_client.get(
            reverse("admin:incidents_timelineevent_change", args=[event.pk])
        )
        assert response.status_code == 200
        assert 'name="_save"' not in response.content.decode()
        response = manager_client.post(
            reverse("admin:incidents_timelineevent_change", args=[event.pk]),
            {"message": "rewritten"},
        )
        assert response.status_code == 403
        response = manager_client.post(
            reverse("admin:incidents_timelineevent_delete", args=[event.pk]), {"post": "yes"}
        )
        assert response.status_code == 403
        assert manager_client.get(reverse("admin:incidents_timelineevent_add")).status_code == 403
        event.refresh_from_db()
        assert event.message.startswith("Declared")


class TestActOnIncident:
    def test_post_update(self, manager_client, incident):
        response = manager_client.post(
            act_url(incident, "update"),
            {
                "audience": "status_page",
                "status": "Investigating",
                "impact": "Checkout fails",
                "action": "Rolling back",
                "eta": "unknown",
            },
        )
        assert response.status_code == 302
        assert response["Location"] == change_url(incident)
        update = StatusUpdate.objects.get()
        assert update.audience == "status_page"
        assert incident.timeline.filter(kind=TimelineEventKind.STATUS_UPDATE).count() == 1

    def test_update_without_its_fields_shows_errors_and_keeps_input(self, manager_client, incident):
        response = manager_client.post(
            act_url(incident, "update"),
            {"audience": "internal", "status": "Investigating", "impact": "", "action": "Digging"},
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert "This field is required." in page
        assert "Digging" in page  # what the user typed is still there
        assert StatusUpdate.objects.count() == 0

    def test_note(self, manager_client, incident):
        manager_client.post(act_url(incident, "note"), {"text": "Rollback started"})
        assert incident.timeline.get(kind=TimelineEventKind.NOTE).message == "Rollback started"

    def test_status_change_and_refused_resolve(self, manager_client, incident):
        response = manager_client.post(
            act_url(incident, "status"),
            {"to_status": "mitigated", "mitigation_action": "Rolled back"},
        )
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.MITIGATED
        response = manager_client.post(
            act_url(incident, "status"), {"to_status": "resolved", "issue_fixed": "on"}
        )
        assert response.status_code == 400
        assert "Customer impact verified resolved" in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.MITIGATED

    def test_status_form_offers_only_allowed_moves(self, manager_client, incident):
        response = manager_client.post(act_url(incident, "status"), {"to_status": "closed"})
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()

    def test_severity_and_role(self, manager_client, incident, engineer):
        manager_client.post(act_url(incident, "severity"), {"severity": severity("SEV-2").pk})
        manager_client.post(act_url(incident, "role"), {"role": "commander", "user": engineer.pk})
        incident.refresh_from_db()
        assert incident.severity.name == "SEV-2"
        assert RoleAssignment.objects.get(incident=incident).user == engineer

    def test_role_already_held_is_an_error(self, manager_client, incident, engineer):
        manager_client.post(act_url(incident, "role"), {"role": "scribe", "user": engineer.pk})
        response = manager_client.post(
            act_url(incident, "role"), {"role": "scribe", "user": engineer.pk}
        )
        assert response.status_code == 400
        assert "already holds" in response.content.decode()
        assert RoleAssignment.objects.count() == 1

    def test_acknowledge(self, manager_client, manager, incident):
        manager_client.post(act_url(incident, "acknowledge"))
        incident.refresh_from_db()
        assert incident.acknowledged_by == manager


class TestChangelistActions:
    def test_move_action_reports_refusals_per_incident(self, manager_client, incident):
        closed = IncidentFactory(
            status=IncidentStatus.CLOSED,
            started_at=BASE_TIME,
            resolved_at=BASE_TIME + timedelta(hours=1),
            closed_at=BASE_TIME + timedelta(hours=2),
        )
        response = manager_client.post(
            CHANGELIST,
            {"action": "move_to_identified", "_selected_action": [incident.pk, closed.pk]},
            follow=True,
        )
        page = response.content.decode()
        assert "1 incident(s) moved to identified." in page
        assert f"{closed.reference}: {services.CLOSED_IS_FINAL}" in page
        incident.refresh_from_db()
        closed.refresh_from_db()
        assert incident.status == IncidentStatus.IDENTIFIED
        assert closed.status == IncidentStatus.CLOSED

    def test_resolve_action_asks_for_the_checklist(self, manager_client, incident):
        response = manager_client.post(
            CHANGELIST, {"action": "resolve_with_checklist", "_selected_action": [incident.pk]}
        )
        assert response.status_code == 200
        assert "Monitored for 30 minutes (stable)" in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.INVESTIGATING

        confirmed = dict.fromkeys(services.ResolutionChecklist.LABELS, "on")
        response = manager_client.post(
            CHANGELIST,
            {
                "action": "resolve_with_checklist",
                "_selected_action": [incident.pk],
                "apply": "1",
                **confirmed,
            },
            follow=True,
        )
        assert "1 incident(s) resolved." in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.RESOLVED

    def test_resolve_action_with_incomplete_checklist_resolves_nothing(
        self, manager_client, incident
    ):
        response = manager_client.post(
            CHANGELIST,
            {
                "action": "resolve_with_checklist",
                "_selected_action": [incident.pk],
                "apply": "1",
                "issue_fixed": "on",
            },
            follow=True,
        )
        assert "confirm every item" in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.INVESTIGATING


class TestOtherAdmins:
    @pytest.mark.parametrize(
        "model", ["severity", "team", "service", "escalationlevel", "communicationtemplate"]
    )
    def test_changelist_and_add_pages(self, manager_client, model):
        TeamFactory(name="Platform")
        assert manager_client.get(reverse(f"admin:incidents_{model}_changelist")).status_code == 200
        assert (
            manager_client.get(
                reverse(f"admin:incidents_{model}_changelist"), {"q": "SEV"}
            ).status_code
            == 200
        )
        assert manager_client.get(reverse(f"admin:incidents_{model}_add")).status_code == 200

    def test_team_and_service_add_and_change(self, manager_client, manager):
        response = manager_client.post(
            reverse("admin:incidents_team_add"),
            {
                "name": "Search",
                "engineering_manager": manager.pk,
                "members-TOTAL_FORMS": 0,
                "members-INITIAL_FORMS": 0,
            },
        )
        assert response.status_code == 302
        team = TeamFactory._meta.model.objects.get(name="Search")
        response = manager_client.post(
            reverse("admin:incidents_service_add"),
            {"name": "search-api", "team": team.pk, "is_public": "on"},
        )
        assert response.status_code == 302
        service = ServiceFactory._meta.model.objects.get(name="search-api")
        response = manager_client.post(
            reverse("admin:incidents_service_change", args=[service.pk]),
            {"name": "search-api-v2", "team": team.pk},
        )
        assert response.status_code == 302
        service.refresh_from_db()
        assert service.name == "search-api-v2"
        assert service.is_public is False

    def test_severity_change_and_no_delete(self, manager_client):
        sev = severity("SEV-3")
        page = manager_client.get(reverse("admin:incidents_severity_change", args=[sev.pk]))
        assert page.status_code == 200
        assert (
            manager_client.get(
                reverse("admin:incidents_severity_delete", args=[sev.pk])
            ).status_code
            == 403
        )

    def test_timeline_changelist_is_read_only_and_searchable(self, manager_client, incident):
        response = manager_client.get(
            reverse("admin:incidents_timelineevent_changelist"), {"q": incident.reference}
        )
        assert response.status_code == 200
        assert "Declared SEV-1" in response.content.decode()
        assert TimelineEvent.objects.count() == 1

    def test_user_admin_shows_profile(self, manager_client, engineer):
        response = manager_client.get(reverse("admin:auth_user_change", args=[engineer.pk]))
        assert response.status_code == 200
        assert "Time zone" in response.content.decode()

    def test_a_manager_cannot_make_anyone_a_superuser_or_touch_a_superuser(
        self, manager_client, manager
    ):
        page = manager_client.get(reverse("admin:auth_user_change", args=[manager.pk]))
        assert page.status_code == 200
        assert 'name="is_superuser"' not in page.content.decode()  # shown, not editable
        assert 'name="user_permissions"' not in page.content.decode()
        root = UserFactory(username="root", is_superuser=True, is_staff=True)
        for name in ("admin:auth_user_change", "admin:auth_user_password_change"):
            url = reverse(name, args=[root.pk])
            assert manager_client.post(url, {"password1": "x" * 20}).status_code == 403
        assert (
            manager_client.post(
                reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        root.refresh_from_db()
        assert root.is_superuser


def test_a_page_opened_earlier_does_not_undo_what_responders_did_since(manager_client, manager):
    incident = services.incident_declare(
        title="Checkout returns 502",
        severity="SEV-1",
        declared_by=manager,
        services=[ServiceFactory(name="checkout-web")],
        at=BASE_TIME,
    )
    data = form_data(manager_client.get(change_url(incident)).content.decode(), None)
    # Meanwhile a responder records the mitigation.
    services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.MITIGATED,
        by=UserFactory(),
        mitigation_action="Rolled back deploy 4711",
        at=BASE_TIME + timedelta(minutes=20),
    )
    data["title"] = "Checkout returns 502 for card payments"
    response = manager_client.post(change_url(incident), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502 for card payments"
    assert incident.mitigation_action == "Rolled back deploy 4711"
    assert incident.status == IncidentStatus.MITIGATED


def test_the_team_page_never_moves_a_profile_to_another_person(manager_client):
    # A member row is a person's profile (their zone prices their overnight pages): picking
    # someone else in it must not hand it over and leave the first person without one.
    team = TeamFactory(name="Payments")
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    Profile.objects.create(user=ada, team=team, time_zone="Asia/Kolkata")
    url = reverse("admin:incidents_team_change", args=[team.pk])
    data = form_data(manager_client.get(url).content.decode(), None)
    assert "members-0-user" not in data  # shown, not a field
    data["members-0-user"] = str(bob.pk)
    assert manager_client.post(url, data).status_code == 302
    assert Profile.objects.get(user=ada).time_zone == "Asia/Kolkata"
    assert Profile.objects.get(user=ada).team == team
    assert not Profile.objects.filter(user=bob).exists()


def test_the_change_page_shows_the_latest_events_and_links_to_all(manager_client, manager):
    # A flapping alert adds an event per repeat: the page managers act from stays bounded.
    from incidents.admin import TIMELINE_SHOWN
    from incidents.events import timeline_event_record

    incident = services.incident_declare(
        title="Flapping", severity="SEV-3", declared_by=manager, at=BASE_TIME
    )
    other = services.incident_declare(
        title="Other", severity="SEV-3", declared_by=manager, at=BASE_TIME
    )
    for number in range(TIMELINE_SHOWN + 20):
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.NOTE,
            message=f"Alert again #{number:03d}",
            at=BASE_TIME + timedelta(minutes=1 + number),
        )
    page = manager_client.get(change_url(incident)).content.decode()
    shown = list(dict.fromkeys(re.findall(r"Alert again #(\d{3})", page)))
    assert shown == [f"{n:03d}" for n in range(20, TIMELINE_SHOWN + 20)]  # latest, in order
    assert "declared sev-3" not in page.lower().split("timeline (the latest")[1]
    link = reverse("admin:incidents_timelineevent_changelist")
    assert f'href="{link}?incident__id__exact={incident.pk}"' in page
    everything = manager_client.get(link, {"incident__id__exact": incident.pk, "all": ""})
    assert everything.status_code == 200
    body = everything.content.decode()
    assert "Alert again #000" in body
    assert other.reference not in body
