"""schemathesis against the live test server, with a manager's token: no request, valid or
not, gets a server error, and every response matches the OpenAPI schema (status code,
content type, headers and body).

Kept fast: the example and fuzzing phases only (no coverage or stateful phase), a handful
of examples per operation, deterministic generation and no example database."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth.models import Group
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents import services
from tests.api.conftest import token_for
from tests.incidents.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import PageFactory, RotationFactory, ShiftFactory
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 8
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DECLARED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REFERENCE = "INC-2026-0001"


@pytest.fixture
def world(settings):
    """A manager with a token, and one of everything so reads find real rows."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/minute", "anonymous": "100000/minute"},
    }
    manager = UserFactory(username="maria", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    team = TeamFactory(name="Platform")
    service = ServiceFactory(name="checkout", team=team)
    incident = services.incident_declare(
        title="Checkout down",
        severity="SEV-2",
        declared_by=manager,
        services=[service],
        at=DECLARED_AT,
    )
    assert incident.reference == REFERENCE
    rotation = RotationFactory(team=team)
    ShiftFactory(rotation=rotation, engineer=manager)
    PageFactory(engineer=manager, incident=incident, team=team)
    ActionItemFactory(postmortem=PostmortemFactory(), owner=manager)
    return {"token": token_for(manager)}


# The committed schema (test_schema.py keeps it equal to the generated one). schemathesis's
# lazy fixture loader does not work with pytest 9, so the schema is read from the file at
# collection time and every request goes to the live server.
schema = schemathesis.openapi.from_path(
    COMMITTED,
    config=schemathesis.Config.from_dict(
        {
            "suppress-health-check": ["all"],
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "mode": "all",
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {
                "examples": {"enabled": True},
                "fuzzing": {"enabled": True},
                "coverage": {"enabled": False},
                "stateful": {"enabled": False},
            },
            # Detail reads and actions on the seeded incident, not only on unknown ones.
            "parameters": {
                "path.reference": REFERENCE,
                "path.incident_reference": REFERENCE,
            },
        }
    ),
)


@schema.parametrize()
def test_the_api_keeps_its_schema_and_never_fails(case, live_server, world):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {world['token']}"},
        checks=CHECKS,
    )
