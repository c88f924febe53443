import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from oncall import exports, selectors
from oncall.api.serializers import CompensationRowSerializer
from tests.api.conftest import assert_problem
from tests.incidents.factories import TeamFactory
from tests.oncall.factories import PageFactory, PayPeriodFactory, ShiftFactory, engineer

pytestmark = pytest.mark.django_db

URL = "/api/v1/compensation/"
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def data():
    platform = TeamFactory(name="Platform")
    ada = engineer("ada", team=platform)
    bob = engineer("bob", time_zone="Europe/London")
    ShiftFactory(engineer=ada)
    PageFactory(engineer=bob, paged_at=datetime(2026, 3, 4, 23, tzinfo=UTC))
    return ada, bob


def test_the_same_rows_and_columns_as_the_csv(finance_api, client, finance_user, data):
    response = finance_api.get(URL, MARCH)
    assert response.status_code == 200
    body = response.json()
    client.force_login(finance_user)
    download = client.get(reverse("oncall:compensation_download", args=["csv"]), MARCH)
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert body["columns"] == list(selectors.CSV_COLUMNS)
    assert [list(r) for r in body["rows"]] == [list(selectors.CSV_COLUMNS)] * 2
    assert [{k: str(v) for k, v in r.items()} for r in body["rows"]] == rows
    assert body["rows"][0]["stipend"] == "500.00"
    assert body["rows"][1]["overnight_pages"] == 1
    assert body["totals"] == [
        {
            "on_call_hours": "168.00",
            "stipend": "500.00",
            "sev1_bonus": "0.00",
            "comp_time_hours": "4.00",
            "total_pay": "500.00",
            "sev1_incidents": 0,
            "overnight_pages": 1,
            "currency": "USD",
        }
    ]
    assert body["frozen"] is False
    assert body["pay_period"] is None
    assert "no-store" in response["Cache-Control"]


def test_a_pay_period_and_a_team(manager_api, data):
    period = PayPeriodFactory()
    body = manager_api.get(URL, {**MARCH, "team": "PLATFORM"}).json()
    assert body["team"] == "Platform"
    assert [r["username"] for r in body["rows"]] == ["ada"]
    assert body["pay_period"] == {
        "id": period.pk,
        "start_date": "2026-03-01",
        "end_date": "2026-03-31",
        "status": "open",
    }


def test_text_is_never_altered_for_spreadsheets(finance_api, data):
    ada, _ = data
    ada.first_name = "=cmd"
    ada.save()
    row = finance_api.get(URL, MARCH).json()["rows"][0]
    assert row["full_name"] == "=cmd Oncall"
    assert exports.neutralise(row["full_name"]) == "'=cmd Oncall"


def test_validation(finance_api, db):
    assert set(finance_api.get(URL).json()) == {"start", "end"}
    response = finance_api.get(URL, {"start": "2026-03-31", "end": "2026-03-01"})
    assert response.json() == {"end": [selectors.END_BEFORE_START]}
    response = finance_api.get(URL, {**MARCH, "team": "Nope"})
    assert response.json() == {"team": [selectors.UNKNOWN_TEAM.format(name="Nope")]}
    assert list(finance_api.get(URL, {"start": "March", "end": "2026-03-31"}).json()) == ["start"]


def test_engineers_and_anonymous_are_refused(engineer_api, anon_api, db):
    assert_problem(engineer_api.get(URL, MARCH), 403)
    assert_problem(anon_api.get(URL, MARCH), 401)


def test_finance_sees_only_compensation(finance_api, db):
    assert finance_api.get(URL, MARCH).status_code == 200
    assert_problem(finance_api.get("/api/v1/incidents/"), 403)


def test_the_row_schema_has_exactly_the_csv_columns():
    assert tuple(CompensationRowSerializer().fields) == selectors.CSV_COLUMNS


def test_a_report_is_at_most_a_year_long(finance_api, db):
    from oncall.api.serializers import REPORT_TOO_LATE, REPORT_TOO_LONG

    response = finance_api.get(URL, {"start": "2026-01-01", "end": "2027-01-02"})
    assert response.json() == {"end": [REPORT_TOO_LONG]}
    response = finance_api.get(URL, {"start": "9999-12-31", "end": "9999-12-31"})
    assert response.json() == {"end": [REPORT_TOO_LATE]}
    assert finance_api.get(URL, {"start": "2026-01-01", "end": "2026-12-31"}).status_code == 200
