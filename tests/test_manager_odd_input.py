"""What managers type or click that no page offers: far dates, NUL characters, far weeks, and
policies judged by the project's calendar, not the manager's own zone."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from oncall import services
from oncall.models import CompensationPolicy
from tests.incidents.factories import IncidentFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["admin:metrics", "admin:metrics_csv", "admin:metrics_review"])
@pytest.mark.parametrize(
    ("start", "end"), [("9999-12-20", "9999-12-31"), ("0001-01-01", "0001-01-10")]
)
def test_the_dashboard_refuses_dates_off_the_calendar_with_a_message(
    manager_client, name, start, end
):
    response = manager_client.get(reverse(name), {"start": start, "end": end})
    assert response.status_code in (200, 400)
    if name == "admin:metrics":
        assert "Choose dates between 1970-01-01 and 2999-12-31." in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/oncall/shift/?week=99999999",
        "/admin/oncall/shift/?week=-99999999",
    ],
)
def test_changelist_filters_ignore_what_they_cannot_mean(manager_client, path):
    IncidentFactory()
    assert manager_client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/incidents/incident/?team=a%00b",
        "/admin/incidents/incident/?service=a%00b",
        "/admin/postmortems/actionitem/?owner=a%00b",
        "/admin/incidents/incident/?status__exact=%00",
        "/admin/postmortems/postmortem/?status=%00",
        "/admin/postmortems/actionitem/?status=a%00",
        "/admin/incidents/incident/?q=%00",
        "/admin/autocomplete/?term=%00&app_label=postmortems&model_name=actionitem"
        "&field_name=owner",
        "/admin/autocomplete/?term=a%00&app_label=postmortems&model_name=postmortem"
        "&field_name=incident",
    ],
)
def test_a_nul_in_an_admin_query_is_a_400_not_a_server_error(manager_client, path):
    IncidentFactory()
    response = manager_client.get(path)
    assert response.status_code == 400
    assert "holds a NUL character" in response.content.decode()


def test_a_policy_in_force_in_the_project_zone_stays_for_a_manager_west_of_it(
    manager_client, manager, settings
):
    settings.TIME_ZONE = "UTC"
    ProfileFactory(user=manager, time_zone="America/Los_Angeles")
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        policy = services.compensation_policy_supersede(
            effective_from=date(2026, 3, 10),
            weekly_stipend=Decimal("600"),
            sev1_bonus=Decimal("200"),
            comp_hours_per_overnight_page=Decimal("4"),
            overnight_start=time(22),
            overnight_end=time(7),
        )
    # 04:00 UTC on the 10th: in force for four hours, though still the 9th in Los Angeles.
    with time_machine.travel(datetime(2026, 3, 10, 4, tzinfo=UTC), tick=False):
        delete = reverse("admin:oncall_compensationpolicy_delete", args=[policy.pk])
        manager_client.post(delete, {"post": "yes"})
        assert CompensationPolicy.objects.filter(pk=policy.pk).exists()
        assert services.compensation_policy_supersede_problem(date(2026, 3, 10)) is not None
