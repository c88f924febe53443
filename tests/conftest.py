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
def manager_client(client, manager):
    client.force_login(manager)
    return client
