from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import TimelineEvent
from oncall.models import Page, PageSource
from oncall.services import PAGE_NOT_YOURS, PAGED_IN_FUTURE
from tests.api.conftest import assert_problem
from tests.incidents.factories import IncidentFactory, TeamFactory
from tests.oncall.factories import (
    PageFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
)
from tests.oncall.factories import (
    engineer as oncall_engineer,
)

pytestmark = pytest.mark.django_db

PAGES = "/api/v1/pages/"
FOREVER = (datetime(2020, 1, 6, 9, tzinfo=UTC), datetime(2100, 1, 4, 9, tzinfo=UTC))


@pytest.fixture
def rotation(platform):
    rotation = RotationFactory(team=platform, name="Primary", page_ack_within=timedelta(minutes=10))
    RotationMemberFactory(rotation=rotation, user=oncall_engineer("ada"), position=0)
    return rotation


def test_rotations_and_shifts(engineer_api, rotation):
    ada = rotation.members.get().user
    shift = ShiftFactory(rotation=rotation, engineer=ada)
    ShiftFactory(rotation=rotation, engineer=ada, starts_at=shift.ends_at, role="secondary")
    rotations = engineer_api.get("/api/v1/rotations/").json()["results"]
    assert rotations[0]["members"] == [{"position": 0, "username": "ada", "name": "Ada Oncall"}]
    assert rotations[0]["page_ack_within"] == "P0DT00H10M00S"
    assert engineer_api.get(f"/api/v1/rotations/{rotation.pk}/").json()["team"] == "Platform"
    shifts = engineer_api.get("/api/v1/shifts/").json()["results"]
    assert [s["role"] for s in shifts] == ["primary", "secondary"]
    assert shifts[0]["starts_at"] == "2026-03-02T09:00:00Z"
    only = engineer_api.get(
        "/api/v1/shifts/",
        {"ends_after": "2026-03-09T10:00:00Z", "starts_before": "2026-03-09T11:00:00Z"},
    ).json()["results"]
    assert [s["role"] for s in only] == ["secondary"]
    # An engineer nobody is called is a 400 naming the parameter, not an empty list.
    unknown = engineer_api.get("/api/v1/shifts/", {"engineer": "nobody"})
    assert unknown.status_code == 400
    assert unknown.json() == {"engineer": ["No user is named “nobody”."]}
    assert engineer_api.get(f"/api/v1/shifts/{shift.pk}/").json()["engineer"] == "ada"
    mine = engineer_api.get("/api/v1/shifts/", {"rotation": rotation.pk}).json()["results"]
    assert len(mine) == 2
    # A rotation id is a whole number: 1.5 is not rotation 1.
    for odd in (f"{rotation.pk}.5", "0", str(2**70)):
        response = engineer_api.get("/api/v1/shifts/", {"rotation": odd})
        assert response.status_code == 400
        assert "rotation" in response.json()


def test_who_is_on_call_now(engineer_api, rotation, platform):
    ada = rotation.members.get().user
    ShiftFactory(rotation=rotation, engineer=ada, starts_at=FOREVER[0], ends_at=FOREVER[1])
    response = engineer_api.get("/api/v1/oncall/now/")
    assert response.json() == [
        {
            "team": "Platform",
            "primary": {"username": "ada", "name": "Ada Oncall"},
            "secondary": None,
        }
    ]
    assert engineer_api.get("/api/v1/oncall/now/", {"team": "PLATFORM"}).json() == (response.json())


def test_who_is_on_call_now_for_one_team(engineer_api, rotation):
    ada = rotation.members.get().user
    ShiftFactory(rotation=rotation, engineer=ada, starts_at=FOREVER[0], ends_at=FOREVER[1])
    data = RotationFactory(team=TeamFactory(name="Data"))
    ShiftFactory(
        rotation=data, engineer=oncall_engineer("bob"), starts_at=FOREVER[0], ends_at=FOREVER[1]
    )
    everyone = engineer_api.get("/api/v1/oncall/now/").json()
    assert [slot["team"] for slot in everyone] == ["Data", "Platform"]
    only = engineer_api.get("/api/v1/oncall/now/", {"team": "data"}).json()
    assert only == [
        {"team": "Data", "primary": {"username": "bob", "name": "Bob Oncall"}, "secondary": None}
    ]
    # As in every list filter: a team nobody has is a 400 naming the parameter, not "nobody
    # is on call" (which a script would read as a gap in the rota).
    unknown = engineer_api.get("/api/v1/oncall/now/", {"team": "NoSuchTeam"})
    assert unknown.status_code == 400
    assert unknown.json() == {"team": ["No team is named “NoSuchTeam”."]}
    # A team without an active rotation is a known team with nobody on call.
    TeamFactory(name="Idle")
    assert engineer_api.get("/api/v1/oncall/now/", {"team": "Idle"}).json() == []


def test_rotations_are_filtered_by_their_team(engineer_api, rotation):
    RotationFactory(team=TeamFactory(name="Data"), name="Data primary")

    def names(**params):
        response = engineer_api.get("/api/v1/rotations/", params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert sorted(names()) == ["Data primary", "Primary"]
    assert names(team="platform") == ["Primary"]
    unknown = engineer_api.get("/api/v1/rotations/", {"team": "Nowhere"})
    assert unknown.status_code == 400
    assert unknown.json() == {"team": ["No team is named “Nowhere”."]}


def test_a_paging_tool_records_a_page(manager_api, rotation, platform):
    incident = IncidentFactory(team=platform)
    response = manager_api.post(
        PAGES, {"engineer": "ada", "incident": incident.reference, "message": "disk full"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    page = Page.objects.get()
    assert body["id"] == page.pk
    assert page.source == PageSource.API
    assert page.team == platform
    assert page.ack_due_at - page.paged_at == timedelta(minutes=10)  # the rotation's target
    assert TimelineEvent.objects.filter(incident=incident, kind="page").exists()
    assert mail.outbox == []  # the paging tool already reached the engineer


def test_a_page_may_ask_incidentdesk_to_notify_too(
    manager_api, rotation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_api.post(PAGES, {"engineer": "ada", "notify_engineer": True})
    assert response.status_code == 201
    assert len(mail.outbox) == 1


def test_page_validation(manager_api, rotation):
    response = manager_api.post(PAGES, {"engineer": "nobody"})
    assert list(response.json()) == ["engineer"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = manager_api.post(PAGES, {"engineer": "ada", "paged_at": future})
    assert response.json() == {"paged_at": [PAGED_IN_FUTURE]}
    response = manager_api.post(PAGES, {"engineer": "ada", "incident": "INC-0000-0000"})
    assert list(response.json()) == ["incident"]
    # 1926 for 2026: no policy could pay it, and it would leave every balance unpriceable.
    response = manager_api.post(PAGES, {"engineer": "ada", "paged_at": "1926-03-03T02:00:00Z"})
    assert response.status_code == 400
    assert "No compensation policy is in force at 1926-03-03" in response.json()["paged_at"][0]


def test_finance_is_never_paged(manager_api, finance_user, rotation):
    # Finance could never open the page to acknowledge it: it would only wait to escalate.
    response = manager_api.post(PAGES, {"engineer": finance_user.username})
    assert response.status_code == 400
    assert "Finance cannot open a page" in response.json()["engineer"][0]
    assert not Page.objects.filter(engineer=finance_user).exists()
    assert manager_api.post(PAGES, {"engineer": "ada"}).status_code == 201


def test_recording_pages_needs_the_permission(engineer_api, finance_api, rotation):
    # Engineers acknowledge pages; recording them is for managers and accounts given
    # "Can add page" (a paging tool's account).
    assert_problem(engineer_api.post(PAGES, {"engineer": "ada"}), 403)
    assert_problem(finance_api.post(PAGES, {"engineer": "ada"}), 403)


def test_pages_list_filters_and_detail(engineer_api, engineer, platform):
    mine = PageFactory(engineer=engineer, acknowledged_at=None, team=platform)
    PageFactory(engineer=oncall_engineer("bob"))
    assert len(engineer_api.get(PAGES).json()["results"]) == 2
    open_pages = engineer_api.get(PAGES, {"acknowledged": "false"}).json()["results"]
    assert [p["id"] for p in open_pages] == [mine.pk]
    assert [p["id"] for p in engineer_api.get(PAGES, {"team": "platform"}).json()["results"]] == [
        mine.pk
    ]
    assert engineer_api.get(f"{PAGES}{mine.pk}/").json()["engineer"] == "eddie"


def test_only_the_paged_engineer_acknowledges(
    engineer_api, other_engineer_api, manager_api, engineer
):
    page = PageFactory(engineer=engineer, acknowledged_at=None, paged_at=timezone.now())
    url = f"{PAGES}{page.pk}/acknowledge/"
    assert_problem(other_engineer_api.post(url), 403)
    assert_problem(manager_api.post(url), 403)
    response = engineer_api.post(url)
    assert response.status_code == 200
    assert response.json()["acknowledged_at"] is not None
    response = engineer_api.post(url)
    assert list(response.json()) == ["non_field_errors"]
    assert PAGE_NOT_YOURS  # the service refuses others too; the API says so earlier, as 403


def test_finance_sees_no_on_call_data(finance_api, rotation):
    for url in ["/api/v1/rotations/", "/api/v1/shifts/", "/api/v1/oncall/now/", PAGES]:
        assert_problem(finance_api.get(url), 403)


def test_idempotent_pages(manager_api, rotation):
    manager_api.post(PAGES, {"engineer": "ada"}, HTTP_IDEMPOTENCY_KEY="p-1")
    again = manager_api.post(PAGES, {"engineer": "ada"}, HTTP_IDEMPOTENCY_KEY="p-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Page.objects.count() == 1


class TestWhatAPagingToolMayNotRecord:
    def test_a_page_for_a_resolved_or_closed_incident_is_refused(self, manager_api, rotation):
        for status in ("resolved", "closed"):
            now = timezone.now()
            closed_at = now if status == "closed" else None
            incident = IncidentFactory(
                team=rotation.team, status=status, resolved_at=now, closed_at=closed_at
            )
            response = manager_api.post(PAGES, {"engineer": "ada", "incident": incident.reference})
            assert response.status_code == 400
            assert "nothing left to page anyone for" in response.json()["incident"][0]
        assert not Page.objects.exists()

    def test_go_zero_time_is_refused(self, manager_api, rotation):
        response = manager_api.post(PAGES, {"engineer": "ada", "paged_at": "0001-01-01T00:00:00Z"})
        assert response.status_code == 400
        assert response.json() == {"paged_at": ["A page cannot be before 1900; check the year."]}


def test_the_same_page_sent_again_is_the_page_recorded(manager_api, rotation):
    """A paging tool retrying after a timeout: one page to acknowledge, one page paid."""
    incident = IncidentFactory(team=rotation.team)
    paged_at = (incident.started_at + timedelta(minutes=5)).isoformat()
    body = {"engineer": "ada", "incident": incident.reference, "paged_at": paged_at}
    first = manager_api.post(PAGES, body, format="json")
    again = manager_api.post(PAGES, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Page.objects.count() == 1
    other = IncidentFactory(team=rotation.team, started_at=incident.started_at)
    clash = manager_api.post(PAGES, {**body, "incident": other.reference}, format="json")
    assert clash.status_code == 400
    assert f"already recorded, for {incident.reference}" in clash.json()["paged_at"][0]
    assert Page.objects.count() == 1
    # Before its incident started: a local time sent without its offset, hours early.
    early = (incident.started_at - timedelta(hours=5)).isoformat()
    response = manager_api.post(
        PAGES, {"engineer": "ada", "incident": incident.reference, "paged_at": early}, format="json"
    )
    assert response.status_code == 400
    assert "cannot be before the incident started" in response.json()["paged_at"][0]
