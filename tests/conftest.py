import pytest
from django.contrib.auth.models import Group

from incidents.access import ENGINEERS, FINANCE, MANAGERS
from tests.incidents.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is Django's business; tests only need passwords to work.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _member(group_name: str, **extra):
    user = UserFactory(**extra)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def manager(db):
    return _member(MANAGERS, username="maria", is_staff=True)


@pytest.fixture
def engineer(db):
    return _member(ENGINEERS, username="eddie")


@pytest.fixture
def other_engineer(db):
    return _member(ENGINEERS, username="olga")


@pytest.fixture
def finance_user(db):
    return _member(FINANCE, username="fiona")


@pytest.fixture
def sev1(manager):
    """A SEV-1 declared at ``BASE_TIME`` on a Payments service (manager ``em``), with ``comms``
    as its communications lead: what the reminder and escalation tests start from."""
    from incidents import services
    from incidents.models import IncidentRole
    from tests.incidents.factories import BASE_TIME, ServiceFactory, TeamFactory

    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    incident = services.incident_declare(
        title="Checkout down",
        severity="SEV-1",
        declared_by=manager,
        services=[ServiceFactory(team=team)],
        at=BASE_TIME,
    )
    services.role_assign(
        incident=incident,
        role=IncidentRole.COMMUNICATIONS_LEAD,
        user=UserFactory(username="comms"),
        by=manager,
        at=BASE_TIME,
    )
    return incident


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def reads_and_writes(fn) -> tuple[int, int]:
    """Run ``fn`` and count its queries: (everything but INSERTs, INSERTs).

    Sweeps must find their work in a constant number of queries; their bulk inserts may be
    split into batches by the database (SQLite caps the parameters of one statement)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    inserts = sum(1 for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("INSERT"))
    return len(ctx.captured_queries) - inserts, inserts


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Keep the serialized contents of the test database (rows the data migrations seed) on
    the connection class, not only on the connection object that created the database.

    Playwright's sync API runs an event loop in the main thread, after which Django may hand
    the same thread a fresh connection object; without this, transactional tests that follow
    a browser test would find the seeded rows gone (``serialized_rollback``)."""
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents:
            type(connection)._test_serialized_contents = contents
