"""Every list endpoint reads the same number of queries whatever the number of rows."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Profile
from tests.incidents.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import (
    PageFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
)
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 12
MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _incidents(n, ctx):
    for _ in range(n):
        incident = IncidentFactory(team=ctx["team"])
        incident.services.add(ServiceFactory(team=ctx["team"]), ServiceFactory(team=ctx["team"]))
        services.role_assign(
            incident=incident, role="commander", user=ctx["user"], by=None, at=incident.started_at
        )
    return "/api/v1/incidents/"


def _timeline(n, ctx):
    incident = ctx.setdefault("incident", IncidentFactory(team=ctx["team"]))
    for i in range(n):
        services.note_add(incident=incident, author=UserFactory(), text=f"n{i}")
    return f"/api/v1/incidents/{incident.reference}/timeline/"


def _teams(n, ctx):
    for _ in range(n):
        TeamFactory()
    return "/api/v1/teams/"


def _services(n, ctx):
    for _ in range(n):
        ServiceFactory()
    return "/api/v1/services/"


def _postmortems(n, ctx):
    for _ in range(n):
        PostmortemFactory(owner=UserFactory())
    return "/api/v1/postmortems/"


def _action_items(n, ctx):
    for _ in range(n):
        owner = UserFactory()
        Profile.objects.create(user=owner, team=TeamFactory())
        ActionItemFactory(owner=owner, completed_by=None)
    return "/api/v1/action-items/"


def _rotations(n, ctx):
    for _ in range(n):
        rotation = RotationFactory(team=TeamFactory())
        RotationMemberFactory(rotation=rotation, position=0)
        RotationMemberFactory(rotation=rotation, position=1)
    return "/api/v1/rotations/"


def _shifts(n, ctx):
    for i in range(n):
        ShiftFactory(
            rotation=RotationFactory(team=TeamFactory()),
            starts_at=MONDAY + timedelta(days=7 * i),
        )
    return "/api/v1/shifts/"


def _pages(n, ctx):
    for _ in range(n):
        PageFactory(incident=IncidentFactory(), team=TeamFactory())
    return "/api/v1/pages/"


def _on_call_now(n, ctx):
    for _ in range(n):
        team = TeamFactory()
        ShiftFactory(
            rotation=RotationFactory(team=team),
            starts_at=MONDAY - timedelta(days=3650),
            ends_at=MONDAY + timedelta(days=36500),
        )
    return "/api/v1/oncall/now/"


# The name filters: one query finds the name, whatever the number of rows it picks.


def _service(ctx):
    if "service" not in ctx:
        ctx["service"] = ServiceFactory(name="checkout", team=ctx["team"])
    return ctx["service"]


def _services_of_a_team(n, ctx):
    for _ in range(n):
        ServiceFactory(team=ctx["team"])
        ServiceFactory()
    return "/api/v1/services/?team=platform"


def _rotations_of_a_team(n, ctx):
    for _ in range(n):
        rotation = RotationFactory(team=ctx["team"])
        RotationMemberFactory(rotation=rotation, position=0)
        RotationFactory(team=TeamFactory())
    return "/api/v1/rotations/?team=platform"


def _postmortems_by_service(n, ctx):
    for _ in range(n):
        pm = PostmortemFactory(owner=UserFactory(), incident__team=ctx["team"])
        pm.incident.services.add(_service(ctx), ServiceFactory(team=ctx["team"]))
        PostmortemFactory(owner=UserFactory())
    return "/api/v1/postmortems/?service=checkout&team=platform"


def _action_items_by_service_and_severity(n, ctx):
    for _ in range(n):
        owner = UserFactory()
        Profile.objects.create(user=owner, team=ctx["team"])
        item = ActionItemFactory(owner=owner, completed_by=None)
        item.postmortem.incident.services.add(_service(ctx))
        ActionItemFactory(owner=owner, completed_by=None)
    return "/api/v1/action-items/?service=checkout&severity=SEV-2&team=platform"


def _on_call_now_for_a_team(n, ctx):
    for _ in range(n):
        ShiftFactory(
            rotation=RotationFactory(team=ctx["team"]),
            starts_at=MONDAY - timedelta(days=3650),
            ends_at=MONDAY + timedelta(days=36500),
        )
        ShiftFactory(
            rotation=RotationFactory(team=TeamFactory()),
            starts_at=MONDAY - timedelta(days=3650),
            ends_at=MONDAY + timedelta(days=36500),
        )
    return "/api/v1/oncall/now/?team=platform"


BUILDERS = [
    _incidents,
    _timeline,
    _teams,
    _services,
    _postmortems,
    _action_items,
    _rotations,
    _shifts,
    _pages,
    _on_call_now,
    _services_of_a_team,
    _rotations_of_a_team,
    _postmortems_by_service,
    _action_items_by_service_and_severity,
    _on_call_now_for_a_team,
]


def _count(client, url) -> int:
    client.get(url)  # warm up: the token's "last used" stamp is written once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__.strip("_"))
def test_list_queries_do_not_grow_with_rows(manager_api, manager, build):
    ctx = {"team": TeamFactory(name="Platform"), "user": manager}
    url = build(FEW, ctx)
    few = _count(manager_api, url)
    build(MANY - FEW, ctx)
    many = _count(manager_api, url)
    assert few == many, f"{url}: {few} queries with {FEW} rows, {many} with {MANY}"
