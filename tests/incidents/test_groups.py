import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def test_groups_exist_after_migrate_with_their_permissions():
    managers = Group.objects.get(name="Managers")
    engineers = Group.objects.get(name="Engineers")
    finance = Group.objects.get(name="Finance")
    manager_perms = set(managers.permissions.values_list("codename", flat=True))
    assert {
        "add_incident",
        "change_incident",
        "view_timelineevent",
        "change_severity",
        "add_team",
        "change_periodictask",
    } <= manager_perms
    engineer_perms = set(engineers.permissions.values_list("codename", flat=True))
    assert "add_incident" in engineer_perms
    assert "change_severity" not in engineer_perms
    assert not finance.permissions.filter(content_type__app_label="incidents").exists()
