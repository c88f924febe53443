"""import_oncall_history and compensation_report as people run them, and closed pay periods."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from incidents import services as incident_services
from incidents.models import Incident, Team, TimelineEvent
from oncall import services
from oncall.models import (
    CompensationLine,
    Page,
    PayPeriodStatus,
    Rotation,
    Shift,
)
from oncall.selectors import CSV_COLUMNS, compensation_report
from tests.oncall.factories import PayPeriodFactory

pytestmark = pytest.mark.django_db

User = get_user_model()

HEADER = (
    "username,full_name,team,on_call_hours,stipend,sev1_incidents,sev1_bonus,"
    "overnight_pages,comp_time_hours,total_pay,currency"
)

ENGINEERS = """username,full_name,email,timezone,team
ada,Ada Lovelace,ada@example.com,Europe/London,Platform
ravi,Ravi Shankar,ravi@example.com,Asia/Kolkata,Platform
sam,Sam Stone,,America/New_York,Payments
"""
SHIFTS = """team,rotation,username,starts_at,ends_at
Platform,Primary,ada,2026-03-02T09:00:00Z,2026-03-09T09:00:00Z
Platform,Primary,ravi,2026-03-09T09:00:00Z,2026-03-16T09:00:00Z
Payments,Primary,sam,2026-03-02T09:00:00-05:00,2026-03-09T09:00:00-04:00
"""
INCIDENTS = (
    "reference,title,severity,started_at,detected_at,acknowledged_at,resolved_at\n"
    "INC-2025-0007,Checkout down,SEV-1,2026-03-03T22:55:00Z,2026-03-03T23:00:00Z,"
    "2026-03-03T23:03:00Z,2026-03-04T00:10:00Z\n"
    "INC-2025-0008,Slow search,SEV-3,2026-03-10T10:00:00Z,,,\n"
)
PAGES = """username,paged_at,acknowledged_at,incident_reference
ada,2026-03-03T23:00:00Z,2026-03-03T23:03:00Z,INC-2025-0007
ada,2026-03-03T23:20:00Z,2026-03-03T23:21:00Z,INC-2025-0007
ravi,2026-03-10T17:00:00Z,2026-03-10T17:02:00Z,INC-2025-0008
sam,2026-03-05T12:00:00Z,,
"""


def write(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.csv").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def history(tmp_path):
    return write(
        tmp_path / "history",
        engineers=ENGINEERS,
        shifts=SHIFTS,
        incidents=INCIDENTS,
        pages=PAGES,
    )


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def snapshot():
    return (
        sorted(User.objects.values_list("username", "first_name", "last_name", "email")),
        sorted(Team.objects.values_list("name", flat=True)),
        sorted(Rotation.objects.values_list("team__name", "name", "time_zone")),
        sorted(Incident.objects.values_list("reference", "status", "resolved_at")),
        sorted(TimelineEvent.objects.values_list("incident__reference", "kind", "occurred_at")),
        sorted(Shift.objects.values_list("engineer__username", "starts_at", "ends_at")),
        sorted(
            Page.objects.values_list(
                "engineer__username", "paged_at", "acknowledged_at", "incident__reference"
            ),
            key=str,
        ),
    )


class TestImport:
    def test_import_creates_everything_and_reports_it(self, history):
        out = run("import_oncall_history", str(history))
        assert out.strip() == (
            "Created 3 users, 2 teams, 2 rotations, 2 incidents, 3 shifts, 4 pages."
        )
        ada = User.objects.get(username="ada")
        assert (ada.get_full_name(), ada.email) == ("Ada Lovelace", "ada@example.com")
        assert ada.profile.time_zone == "Europe/London"
        assert ada.profile.team.name == "Platform"
        # A random password nobody knows, so a password reset is offered to them.
        assert ada.has_usable_password()
        assert not ada.check_password("")
        assert not ada.check_password("ada")
        incident = Incident.objects.get(reference="INC-2025-0007")
        assert incident.status == "resolved"
        assert incident.severity.name == "SEV-1"
        kinds = list(incident.timeline.values_list("kind", flat=True))
        assert kinds == ["imported", "page", "acknowledged", "page", "status_changed"]
        assert Incident.objects.get(reference="INC-2025-0008").status == "investigating"

    def test_a_second_import_changes_nothing(self, history):
        run("import_oncall_history", str(history))
        before = snapshot()
        out = run("import_oncall_history", str(history))
        assert out.strip() == (
            "Created 0 users, 0 teams, 0 rotations, 0 incidents, 0 shifts, 0 pages."
        )
        assert snapshot() == before

    def test_any_subset_of_the_files(self, tmp_path):
        directory = write(tmp_path / "only", engineers=ENGINEERS)
        run("import_oncall_history", str(directory))
        assert User.objects.count() == 3

    @pytest.mark.parametrize(
        ("file", "text", "line", "value", "message"),
        [
            (
                "engineers",
                "username,full_name,email,team\nzed,Zed,z@example.com,Platform\n",
                1,
                "",
                "missing column 'timezone'",
            ),
            (
                "engineers",
                ENGINEERS + "zed,Zed,z@example.com,Mars/Olympus,Platform\n",
                5,
                "Mars/Olympus",
                "not a known IANA time zone",
            ),
            (
                "engineers",
                ENGINEERS + "zed,Zed,z@example.com,CET,Platform\n",
                5,
                "CET",
                "fixed offset without summer time; use Europe/Brussels",
            ),
            (
                "shifts",
                SHIFTS + "Platform,Primary,nobody,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n",
                5,
                "nobody",
                "unknown user",
            ),
            (
                "shifts",
                SHIFTS + "Search,Primary,ada,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n",
                5,
                "Search",
                "unknown team",
            ),
            (
                "shifts",
                SHIFTS + "Platform,Primary,ada,2026-03-16T09:00:00,2026-03-23T09:00:00Z\n",
                5,
                "2026-03-16T09:00:00",
                "timestamp without an offset",
            ),
            (
                "shifts",
                SHIFTS + "Platform,Primary,ada,2026-03-23T09:00:00Z,2026-03-16T09:00:00Z\n",
                5,
                "2026-03-16T09:00:00Z",
                "the shift ends before it starts",
            ),
            (
                "incidents",
                INCIDENTS + "INC-2025-0009,Bad,SEV-9,2026-03-10T10:00:00Z,,,\n",
                4,
                "SEV-9",
                "unknown severity",
            ),
            (
                "incidents",
                INCIDENTS + "INC-2025-0009,Bad,SEV-2,2026-03-10T10:00:00Z,,,2026-03-10T09:00:00Z\n",
                4,
                "2026-03-10T09:00:00Z",
                "resolved_at cannot be before detected_at",
            ),
            (
                "incidents",
                INCIDENTS + "INC-2025-0009,Bad,SEV-2,2026-03-10T10:00:00Z,,"
                "2026-03-10T10:30:00Z,2026-03-10T10:20:00Z\n",
                4,
                "2026-03-10T10:20:00Z",
                "resolved_at cannot be before acknowledged_at",
            ),
            (
                "pages",
                PAGES + "ada,2026-03-20T10:00:00Z,,INC-1999-0001\n",
                6,
                "INC-1999-0001",
                "unknown incident",
            ),
            (
                "pages",
                PAGES + "ada,2026-03-20T10:00:00Z,2026-03-20T09:00:00Z,\n",
                6,
                "2026-03-20T09:00:00Z",
                "acknowledged before it was paged",
            ),
            (
                "pages",
                PAGES + "ada,2026-03-20T10:00:00Z\n",
                6,
                "",
                "fewer values than columns (nothing for 'acknowledged_at', 'incident_reference')",
            ),
            (
                "engineers",
                ENGINEERS + "zed,Zed Zed\n",
                5,
                "",
                "fewer values than columns",
            ),
            (
                # Paid for by comp time, but nobody can acknowledge a page a week later here.
                "pages",
                PAGES + "ada,2026-03-20T10:00:00Z,2026-03-27T10:00:01Z,\n",
                6,
                "2026-03-27T10:00:01Z",
                "acknowledged more than 7 days after the page",
            ),
            (
                # INC-2025-0007 was resolved at 00:10: nothing was left to handle.
                "pages",
                PAGES + "ada,2026-03-04T00:00:00Z,2026-03-04T00:10:01Z,INC-2025-0007\n",
                6,
                "2026-03-04T00:10:01Z",
                "acknowledged after INC-2025-0007 was resolved",
            ),
            (
                "engineers",
                ENGINEERS + 'zed,"Zed\nZed",z@example.com,UTC,Platform\n',
                5,  # the line the row starts on
                "Zed\nZed",
                "a line break or control character is not allowed here",
            ),
            (
                "shifts",
                SHIFTS + "Platform,Pri\tmary,ada,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n",
                5,
                "Pri\tmary",
                "a line break or control character is not allowed here",
            ),
            (
                "engineers",
                "username,full_name,email,timezone,team,timezone\n"
                "zed,Zed,z@example.com,Europe/London,Platform,America/New_York\n",
                1,
                "username,full_name,email,timezone,team,timezone",
                "column 'timezone' appears more than once",
            ),
            (
                "engineers",
                "username;full_name;email;timezone;team\nzed;Zed;;UTC;Platform\n",
                1,
                "username;full_name;email;timezone;team",
                "missing column 'username': columns are separated by commas",
            ),
        ],
    )
    def test_a_bad_row_aborts_everything_naming_file_line_and_value(
        self, history, file, text, line, value, message
    ):
        write(history, **{file: text})
        before = snapshot()
        with pytest.raises(CommandError) as error:
            run("import_oncall_history", str(history))
        text = str(error.value)
        assert f"{file}.csv, line {line}: " in text
        assert message in text
        if value:
            assert repr(value) in text
        assert "nothing was imported" in text
        assert snapshot() == before

    def test_the_database_is_left_as_it_was_after_a_late_error(self, history):
        run("import_oncall_history", str(history))
        before = snapshot()
        write(
            history,
            engineers=ENGINEERS + "newbie,New Bie,,UTC,NewTeam\n",
            pages=PAGES + "ghost,2026-03-20T10:00:00Z,,\n",
        )
        with pytest.raises(CommandError):
            run("import_oncall_history", str(history))
        assert snapshot() == before
        assert not Team.objects.filter(name="NewTeam").exists()

    def test_not_a_directory(self, tmp_path):
        with pytest.raises(CommandError, match=r"none of engineers\.csv"):
            run("import_oncall_history", str(tmp_path))


class TestReportCommand:
    def test_csv(self, history):
        run("import_oncall_history", str(history))
        out = run("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        lines = out.splitlines()
        assert lines[0] == HEADER
        rows = {r["username"]: r for r in csv.DictReader(io.StringIO(out))}
        assert list(rows) == ["ada", "ravi", "sam"]
        assert rows["ada"] == {
            "username": "ada",
            "full_name": "Ada Lovelace",
            "team": "Platform",
            "on_call_hours": "168.00",
            "stipend": "500.00",
            "sev1_incidents": "1",
            "sev1_bonus": "200.00",
            "overnight_pages": "2",  # 23:00 and 23:20 GMT in London
            "comp_time_hours": "8.00",
            "total_pay": "700.00",
            "currency": "USD",
        }
        # 17:00 UTC is 22:30 in Kolkata: overnight. The SEV-3 earns no bonus.
        assert (rows["ravi"]["overnight_pages"], rows["ravi"]["sev1_incidents"]) == ("1", "0")
        # Sam's shift crosses the New York DST change: 167 elapsed hours, one full stipend.
        assert (rows["sam"]["on_call_hours"], rows["sam"]["stipend"]) == ("167.00", "500.00")
        assert rows["sam"]["comp_time_hours"] == "0.00"  # unacknowledged page

    def test_json_and_team(self, history):
        run("import_oncall_history", str(history))
        out = run(
            "compensation_report",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-31",
            "--team",
            "Platform",
            "--format",
            "json",
        )
        data = json.loads(out)
        assert [r["username"] for r in data] == ["ada", "ravi"]
        assert list(data[0]) == list(CSV_COLUMNS)
        assert data[0]["stipend"] == "500.00"
        assert data[0]["sev1_incidents"] == 1
        assert isinstance(data[0]["overnight_pages"], int)

    def test_bad_dates(self):
        with pytest.raises(CommandError, match="not a date"):
            run("compensation_report", "--start", "2026-13-01", "--end", "2026-03-31")
        # Python reads these as dates too; the documented form is YYYY-MM-DD only.
        with pytest.raises(CommandError, match=r"not a date \(YYYY-MM-DD\): '20260301'"):
            run("compensation_report", "--start", "20260301", "--end", "2026-03-31")
        with pytest.raises(CommandError, match="not a date"):
            run("compensation_report", "--start", "2026-03-01", "--end", "2026-W14-2")
        with pytest.raises(CommandError, match="end date is before"):
            run("compensation_report", "--start", "2026-03-02", "--end", "2026-03-01")

    @pytest.mark.parametrize("team", ["", "  "])
    def test_an_empty_team_is_an_error_not_every_team(self, history, team):
        # "--team $TEAM" with the variable unset must not pay out every team.
        run("import_oncall_history", str(history))
        with pytest.raises(CommandError, match="--team is empty"):
            run(
                "compensation_report",
                "--start",
                "2026-03-01",
                "--end",
                "2026-03-31",
                "--team",
                team,
            )

    def test_spreadsheet_formulas_are_neutralised(self, tmp_path):
        directory = write(
            tmp_path / "evil",
            engineers='username,full_name,email,timezone,team\nmallory,"=HYPERLINK(""x"")",,UTC,'
            "@Team\n",
            shifts="team,rotation,username,starts_at,ends_at\n"
            "@Team,R,mallory,2026-03-02T09:00:00Z,2026-03-03T09:00:00Z\n",
        )
        run("import_oncall_history", str(directory))
        out = run("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        row = next(csv.DictReader(io.StringIO(out)))
        assert row["full_name"] == '\'=HYPERLINK("x")'
        assert row["team"] == "'@Team"


class TestClosedPeriods:
    def close(self, period):
        return services.pay_period_close(
            pay_period=period, by=None, at=datetime(2026, 11, 1, tzinfo=UTC)
        )

    def test_a_closed_periods_team_report_survives_the_teams_rename(self, history):
        run("import_oncall_history", str(history))
        march = PayPeriodFactory(start_date=date(2026, 3, 1), end_date=date(2026, 3, 31))
        args = ("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        paid = run(*args, "--team", "Platform")
        assert len(paid.splitlines()) > 1
        self.close(march)
        Team.objects.filter(name="Platform").update(name="Platform Infra")
        # Found under the name it was paid under, byte for byte, in any letter case.
        assert run(*args, "--team", "platform") == paid
        # The new name is a team with nothing paid under it in March.
        assert len(run(*args, "--team", "Platform Infra").splitlines()) == 1
        with pytest.raises(CommandError, match="Unknown team: Nowhere"):
            run(*args, "--team", "Nowhere")

    def test_a_closed_period_reproduces_exactly_after_a_later_import(self, history, tmp_path):
        run("import_oncall_history", str(history))
        march = PayPeriodFactory(start_date=date(2026, 3, 1), end_date=date(2026, 3, 31))
        april = PayPeriodFactory(start_date=date(2026, 4, 1), end_date=date(2026, 4, 30))
        args = ("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        before = run(*args)
        self.close(march)
        assert run(*args) == before

        late = write(
            tmp_path / "late",
            shifts="team,rotation,username,starts_at,ends_at\n"
            "Platform,Primary,ada,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n",
            incidents="reference,title,severity,started_at,detected_at,acknowledged_at,"
            "resolved_at\n"
            "INC-2025-0010,Payments down,SEV-1,2026-03-11T16:55:00Z,2026-03-11T16:58:00Z,"
            "2026-03-11T17:01:00Z,2026-03-11T17:40:00Z\n",
            pages="username,paged_at,acknowledged_at,incident_reference\n"
            "ravi,2026-03-11T17:00:00Z,2026-03-11T17:01:00Z,INC-2025-0010\n",
        )
        run("import_oncall_history", str(late))
        assert run(*args) == before  # byte for byte

        # The correction is paid in the next open period, merged into each engineer's row.
        report = compensation_report(start=april.start_date, end=april.end_date)
        rows = {r.username: r for r in report.rows}
        assert set(rows) == {"ada", "ravi"}
        assert rows["ada"].stipend == Decimal("500.00")
        assert rows["ada"].on_call_hours == Decimal("168.00")
        assert [a.adjusts_period for a in rows["ada"].adjustments] == ["2026-03-01..2026-03-31"]
        assert rows["ravi"].sev1_bonus == Decimal("200.00")
        assert rows["ravi"].overnight_pages == 1
        assert rows["ravi"].total_pay == Decimal("200.00")

        # Once April is closed, the correction is frozen with it and not owed again.
        self.close(april)
        may = PayPeriodFactory(start_date=date(2026, 5, 1), end_date=date(2026, 5, 31))
        assert compensation_report(start=may.start_date, end=may.end_date).rows == []
        lines = CompensationLine.objects.filter(pay_period=april)
        assert {(line.username, line.adjusts_id) for line in lines} == {
            ("ada", march.pk),
            ("ravi", march.pk),
        }
        april_csv = run("compensation_report", "--start", "2026-04-01", "--end", "2026-04-30")
        assert "ada,Ada Lovelace,Platform,168.00,500.00,0,0.00,0,0.00,500.00,USD" in april_csv

    def test_closing_is_refused_before_the_period_ends_and_twice(self):
        march = PayPeriodFactory()
        with pytest.raises(ValidationError, match="after it ends"):
            services.pay_period_close(
                pay_period=march, by=None, at=datetime(2026, 3, 31, 23, tzinfo=UTC)
            )
        self.close(march)
        march.refresh_from_db()
        assert march.status == PayPeriodStatus.CLOSED
        with pytest.raises(ValidationError, match="already closed"):
            self.close(march)

    def test_overlapping_periods_are_refused(self):
        services.pay_period_monthly(year=2026, month=2)
        assert services.pay_period_monthly(year=2026, month=2).end_date == date(2026, 2, 28)
        with pytest.raises(ValidationError, match="cannot overlap"):
            services.pay_period_create(start_date=date(2026, 2, 15), end_date=date(2026, 3, 14))
        december = services.pay_period_monthly(year=2026, month=12)
        assert december.end_date == date(2026, 12, 31)


class TestImportEdges:
    def test_an_existing_reference_with_a_bad_row_is_still_refused(self, history):
        run("import_oncall_history", str(history))
        write(history, incidents=INCIDENTS.replace(",SEV-1,", ",SEV-9,"))
        with pytest.raises(CommandError, match=r"incidents\.csv, line 2: unknown severity"):
            run("import_oncall_history", str(history))

    def test_a_reference_twice_in_one_file_is_refused(self, history):
        write(history, incidents=INCIDENTS + "INC-2025-0007,Other,SEV-2,2026-03-10T10:00:00Z,,,\n")
        with pytest.raises(CommandError, match="line 4: reference also on line 2"):
            run("import_oncall_history", str(history))

    @pytest.mark.parametrize(
        ("row", "message"),
        [
            ("u" * 151 + ",X,,UTC,Platform", "longer than 150 characters"),
            ("bad user/!,X,,UTC,Platform", "not a valid username"),
            ("zed,Zed,,UTC," + "T" * 101, "longer than 100 characters"),
            ("ada,Someone Else,,UTC,Platform", "username also on line 2 with other values"),
            # The same person in another letter case, saying something else about her.
            ("ADA,Ada Lovelace,,Asia/Tokyo,Other", "username also on line 2 with other values"),
        ],
    )
    def test_bad_engineer_rows(self, tmp_path, row, message):
        directory = write(tmp_path / "e", engineers=ENGINEERS + row + "\n")
        with pytest.raises(CommandError, match=re.escape(f"engineers.csv, line 5: {message}")):
            run("import_oncall_history", str(directory))
        assert not User.objects.exists()

    def test_identical_duplicate_rows_are_fine(self, tmp_path):
        directory = write(tmp_path / "e", engineers=ENGINEERS + ENGINEERS.splitlines()[1] + "\n")
        run("import_oncall_history", str(directory))
        assert User.objects.count() == 3

    def test_a_row_over_two_lines_is_named_by_the_line_it_starts_on(self, tmp_path):
        directory = write(
            tmp_path / "e", engineers=ENGINEERS + '"zed","Zed\nZedson",,Mars/Olympus,Platform\n'
        )
        with pytest.raises(CommandError, match=r"engineers\.csv, line 5: not a known IANA"):
            run("import_oncall_history", str(directory))

    def test_a_file_that_is_not_utf8_names_the_line(self, tmp_path):
        directory = tmp_path / "latin"
        directory.mkdir()
        (directory / "engineers.csv").write_bytes(
            ENGINEERS.encode() + "zoe,Zoë Ångström,,UTC,Platform\n".encode("latin-1")
        )
        with pytest.raises(CommandError, match=r"engineers\.csv, line 5: not UTF-8"):
            run("import_oncall_history", str(directory))

    def test_importing_again_after_an_override_does_not_bring_the_shift_back(self, history):
        run("import_oncall_history", str(history))
        ada_shift = Shift.objects.get(engineer__username="ada")
        ravi = User.objects.get(username="ravi")
        services.shift_override(
            shift=ada_shift,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 5, 9, tzinfo=UTC),
            engineer=ravi,
        )
        # And one shift covered entirely:
        sam_shift = Shift.objects.get(engineer__username="sam")
        services.shift_override(
            shift=sam_shift,
            starts_at=sam_shift.starts_at,
            ends_at=sam_shift.ends_at,
            engineer=ravi,
        )
        before = Shift.objects.count()
        out = run("import_oncall_history", str(history))
        assert "0 shifts" in out
        assert Shift.objects.count() == before

    def test_history_never_changes_an_existing_rotations_members(self, tmp_path, history):
        run("import_oncall_history", str(history))
        platform = Rotation.objects.get(name="Primary", team__name="Platform")
        # The rotation this import created has the people of its shifts, in order.
        assert list(
            platform.members.order_by("position").values_list("user__username", "position")
        ) == [("ada", 0), ("ravi", 1)]
        # A later file with an old shift of someone else: the shift is history, and it does
        # not put that person on call from next week.
        directory = write(
            tmp_path / "more",
            shifts=SHIFTS + "Platform,Primary,sam,2024-03-18T09:00:00Z,2024-03-25T09:00:00Z\n",
        )
        run("import_oncall_history", str(directory))
        assert Shift.objects.filter(engineer__username="sam", rotation=platform).count() == 1
        assert sorted(platform.members.values_list("user__username", flat=True)) == [
            "ada",
            "ravi",
        ]
        services.rotation_generate_shifts(
            rotation=platform, weeks=4, now=datetime(2026, 3, 30, 10, tzinfo=UTC)
        )
        future = Shift.objects.filter(
            rotation=platform, starts_at__gte=datetime(2026, 3, 30, tzinfo=UTC)
        )
        assert set(future.values_list("engineer__username", flat=True)) == {"ada", "ravi"}

    def test_long_names_keep_every_shift_apart(self, tmp_path):
        rotation, username = "R" * 100, "u" * 150
        directory = write(
            tmp_path / "long",
            engineers="username,full_name,email,timezone,team\n"
            f"{username},Long Name,,UTC,Platform\n",
            shifts="team,rotation,username,starts_at,ends_at\n"
            f"Platform,{rotation},{username},2026-03-02T09:00:00Z,2026-03-09T09:00:00Z\n"
            f"Platform,{rotation},{username},2026-03-09T09:00:00Z,2026-03-16T09:00:00Z\n",
        )
        run("import_oncall_history", str(directory))
        assert Shift.objects.count() == 2
        run("import_oncall_history", str(directory))  # and again: still idempotent
        assert Shift.objects.count() == 2

    def test_a_new_rotation_starts_with_its_earliest_shift(self, tmp_path, history):
        run("import_oncall_history", str(history))
        directory = write(
            tmp_path / "r",
            shifts="team,rotation,username,starts_at,ends_at\n"
            "Platform,Secondary,ravi,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n"
            "Platform,Secondary,ada,2026-03-09T10:00:00Z,2026-03-16T09:00:00Z\n",
        )
        run("import_oncall_history", str(directory))
        rotation = Rotation.objects.get(name="Secondary")
        assert rotation.starts_on == date(2026, 3, 9)
        assert rotation.handoff_time.hour == 10


def test_a_correction_in_the_old_currency_gets_its_own_row_and_reproduces(history, tmp_path):
    from datetime import time

    run("import_oncall_history", str(history))
    march = PayPeriodFactory(start_date=date(2026, 3, 1), end_date=date(2026, 3, 31))
    april = PayPeriodFactory(start_date=date(2026, 4, 1), end_date=date(2026, 4, 30))
    close = {"by": None, "at": datetime(2026, 11, 1, tzinfo=UTC)}
    services.pay_period_close(pay_period=march, **close)
    services.compensation_policy_supersede(
        effective_from=date(2026, 4, 1),
        currency="EUR",
        weekly_stipend=Decimal("450.00"),
        sev1_bonus=Decimal("180.00"),
        comp_hours_per_overnight_page=Decimal("4.00"),
        overnight_start=time(22),
        overnight_end=time(7),
    )
    late = write(
        tmp_path / "late",
        shifts="team,rotation,username,starts_at,ends_at\n"
        "Platform,Primary,ada,2026-03-16T09:00:00Z,2026-03-23T09:00:00Z\n"
        "Platform,Primary,ada,2026-04-06T09:00:00Z,2026-04-13T09:00:00Z\n",
    )
    run("import_oncall_history", str(late))
    rows = compensation_report(start=april.start_date, end=april.end_date).rows
    assert [(r.username, r.currency, r.total_pay) for r in rows] == [
        ("ada", "EUR", Decimal("450.00")),
        ("ada", "USD", Decimal("500.00")),
    ]
    args = ("compensation_report", "--start", "2026-04-01", "--end", "2026-04-30")
    before = run(*args)
    services.pay_period_close(pay_period=april, **close)
    assert run(*args) == before


class TestImportAgainWithMore:
    """A later export may complete what an earlier one lacked; it may not contradict it."""

    UNLINKED = "username,paged_at,acknowledged_at,incident_reference\nada,2026-03-03T23:00:00Z,,\n"
    LINKED = (
        "username,paged_at,acknowledged_at,incident_reference\n"
        "ada,2026-03-03T23:00:00Z,2026-03-03T23:03:00Z,INC-2025-0007\n"
    )

    def march_row(self) -> list[str]:
        text = run("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        return next(line for line in text.splitlines() if line.startswith("ada,")).split(",")

    def test_a_page_completed_later_is_one_page_paid_once(self, tmp_path):
        write(tmp_path / "a", engineers=ENGINEERS, incidents=INCIDENTS, pages=self.UNLINKED)
        run("import_oncall_history", str(tmp_path / "a"))
        write(tmp_path / "b", engineers=ENGINEERS, incidents=INCIDENTS, pages=self.LINKED)
        out = run("import_oncall_history", str(tmp_path / "b"))
        assert "0 pages; completed 1 pages recorded before" in out
        page = Page.objects.get()
        assert page.incident.reference == "INC-2025-0007"
        assert page.acknowledged_at == datetime(2026, 3, 3, 23, 3, tzinfo=UTC)
        # One overnight page, one SEV-1 incident: 4 comp hours and one bonus.
        assert self.march_row()[5:9] == ["1", "200.00", "1", "4.00"]
        # The same files again change nothing.
        assert "completed" not in run("import_oncall_history", str(tmp_path / "b"))

    def test_a_page_linked_later_is_on_its_incidents_timeline(self, tmp_path):
        write(tmp_path / "a", engineers=ENGINEERS, incidents=INCIDENTS, pages=self.UNLINKED)
        run("import_oncall_history", str(tmp_path / "a"))
        write(tmp_path / "b", pages=self.LINKED)
        run("import_oncall_history", str(tmp_path / "b"))
        incident = Incident.objects.get(reference="INC-2025-0007")
        assert incident.timeline.filter(kind="page").count() == 1

    def test_the_same_page_twice_in_one_file_is_one_page(self, tmp_path):
        pages = self.LINKED + "ada,2026-03-03T23:00:00Z,2026-03-03T23:03:00Z,\n"
        write(tmp_path / "a", engineers=ENGINEERS, incidents=INCIDENTS, pages=pages)
        run("import_oncall_history", str(tmp_path / "a"))
        assert Page.objects.count() == 1

    def test_a_contradicting_page_is_refused_naming_the_line(self, tmp_path):
        write(tmp_path / "a", engineers=ENGINEERS, incidents=INCIDENTS, pages=self.LINKED)
        run("import_oncall_history", str(tmp_path / "a"))
        other = self.LINKED.replace("23:03:00Z", "23:04:00Z")
        write(tmp_path / "b", pages=other)
        with pytest.raises(CommandError, match=r"pages.csv, line 2: this page is already"):
            run("import_oncall_history", str(tmp_path / "b"))
        assert Page.objects.get().acknowledged_at == datetime(2026, 3, 3, 23, 3, tzinfo=UTC)

    def test_an_incident_resolved_in_a_later_export_is_resolved_here(self, history, tmp_path):
        run("import_oncall_history", str(history))
        later = INCIDENTS.replace(
            "INC-2025-0008,Slow search,SEV-3,2026-03-10T10:00:00Z,,,",
            "INC-2025-0008,Slow search,SEV-3,2026-03-10T10:00:00Z,,"
            "2026-03-10T10:20:00Z,2026-03-10T12:00:00Z",
        )
        write(tmp_path / "later", incidents=later)
        out = run("import_oncall_history", str(tmp_path / "later"))
        assert "completed 1 incidents recorded before (acknowledged or resolved)" in out
        incident = Incident.objects.get(reference="INC-2025-0008")
        assert incident.status == "resolved"
        assert incident.acknowledged_at == datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
        assert incident.resolved_at == datetime(2026, 3, 10, 12, tzinfo=UTC)
        events = list(incident.timeline.values_list("kind", "message"))
        assert ("acknowledged", "Acknowledged (imported)") in events
        assert ("status_changed", "Status: Investigating → Resolved (imported)") in events
        # The same later export again changes nothing.
        before = snapshot()
        assert "completed" not in run("import_oncall_history", str(tmp_path / "later"))
        assert snapshot() == before

    @pytest.mark.parametrize("resolved_again", [False, True])
    def test_the_same_files_again_leave_an_incident_worked_here_as_it_is(
        self, history, manager, resolved_again
    ):
        run("import_oncall_history", str(history))
        incident = Incident.objects.get(reference="INC-2025-0007")
        reopened = incident.resolved_at + timedelta(days=30)
        incident_services.incident_change_status(
            incident=incident, to_status="investigating", by=manager, at=reopened
        )
        if resolved_again:
            incident_services.incident_resolve(
                incident=incident,
                by=manager,
                checklist=incident_services.ResolutionChecklist(
                    **dict.fromkeys(
                        incident_services.ResolutionChecklist.__dataclass_fields__, True
                    )
                ),
                at=reopened + timedelta(hours=1),
            )
        before = snapshot()
        incident.refresh_from_db()
        status, resolved_at = incident.status, incident.resolved_at
        run("import_oncall_history", str(history))
        assert snapshot() == before
        incident.refresh_from_db()
        assert (incident.status, incident.resolved_at) == (status, resolved_at)

    @pytest.mark.parametrize(
        ("row", "message"),
        [
            (
                "INC-2025-0007,Checkout down,SEV-1,2026-03-04T22:55:00Z,,,",
                "incidents.csv, line 2: INC-2025-0007 is already recorded with "
                "started_at 2026-03-03T22:55:00+00:00",
            ),
            (
                "INC-2025-0007,Checkout down,SEV-1,2026-03-03T22:55:00Z,,,2026-03-04T01:00:00Z",
                "incidents.csv, line 2: INC-2025-0007 is already recorded with "
                "resolved_at 2026-03-04T00:10:00+00:00",
            ),
        ],
    )
    def test_a_contradicting_incident_is_refused(self, history, tmp_path, row, message):
        run("import_oncall_history", str(history))
        before = snapshot()
        header = INCIDENTS.splitlines()[0]
        write(tmp_path / "later", incidents=f"{header}\n{row}\n")
        with pytest.raises(CommandError, match=re.escape(message)):
            run("import_oncall_history", str(tmp_path / "later"))
        assert snapshot() == before

    def test_imported_engineers_can_set_their_password_by_email(self, history, client, mailoutbox):
        run("import_oncall_history", str(history))
        ada = User.objects.get(username="ada")
        response = client.post("/accounts/password_reset/", {"email": ada.email})
        assert response.status_code == 302
        assert [message.to for message in mailoutbox] == [[ada.email]]

    def test_imported_engineers_can_work_here(self, history, client):
        run("import_oncall_history", str(history))
        ada = User.objects.get(username="ada")
        assert list(ada.groups.values_list("name", flat=True)) == ["Engineers"]
        client.force_login(ada)  # after the password reset the docs describe
        assert client.get("/oncall/me/").status_code == 200

    def test_a_shift_given_to_someone_else_is_refused_not_paid_twice(self, tmp_path):
        shift = (
            "team,rotation,username,starts_at,ends_at\n"
            "{},2026-03-02T09:00:00Z,2026-03-09T09:00:00Z\n"
        )
        write(tmp_path / "a", engineers=ENGINEERS, shifts=shift.format("Platform,Primary,ada"))
        run("import_oncall_history", str(tmp_path / "a"))
        write(tmp_path / "b", shifts=shift.format("Platform,Primary,ravi"))
        with pytest.raises(CommandError, match=r"shifts.csv, line 2: .*already primary"):
            run("import_oncall_history", str(tmp_path / "b"))
        assert list(Shift.objects.values_list("engineer__username", flat=True)) == ["ada"]

    def test_the_refused_shift_is_named_by_its_own_line(self, tmp_path):
        shifts = (
            "team,rotation,username,starts_at,ends_at\n"
            "Platform,Primary,ada,2026-03-02T09:00:00Z,2026-03-09T09:00:00Z\n"
            "Platform,Primary,ravi,2026-03-05T09:00:00Z,2026-03-12T09:00:00Z\n"
            "Platform,Primary,ada,2026-03-20T09:00:00Z,2026-03-27T09:00:00Z\n"
        )
        write(tmp_path / "a", engineers=ENGINEERS, shifts=shifts)
        with pytest.raises(CommandError) as error:
            run("import_oncall_history", str(tmp_path / "a"))
        assert "shifts.csv, line 3: " in str(error.value)
        assert "'2026-03-05T09:00:00Z'" in str(error.value)

    @pytest.mark.parametrize("spelling", ["PLATFORM,PRIMARY", "platform,primary"])
    def test_a_rotation_in_another_letter_case_is_the_same_rotation(self, tmp_path, spelling):
        shift = (
            "team,rotation,username,starts_at,ends_at\n"
            "{},2026-03-02T09:00:00Z,2026-03-09T09:00:00Z\n"
        )
        write(tmp_path / "a", engineers=ENGINEERS, shifts=shift.format("Platform,Primary,ada"))
        run("import_oncall_history", str(tmp_path / "a"))
        before = snapshot()
        # The same export in other letters changes nothing...
        write(tmp_path / "b", shifts=shift.format(f"{spelling},ada"))
        out = run("import_oncall_history", str(tmp_path / "b"))
        assert out.strip() == (
            "Created 0 users, 0 teams, 0 rotations, 0 incidents, 0 shifts, 0 pages."
        )
        assert snapshot() == before
        # ... and one giving the week to someone else is refused, not paid twice.
        write(tmp_path / "c", shifts=shift.format(f"{spelling},ravi"))
        with pytest.raises(CommandError, match=r"shifts.csv, line 2: .*already primary"):
            run("import_oncall_history", str(tmp_path / "c"))
        assert list(Rotation.objects.values_list("name", flat=True)) == ["Primary"]

    def test_one_engineers_overlapping_shifts_import_and_count_once(self, tmp_path):
        shifts = (
            "team,rotation,username,starts_at,ends_at\n"
            "Platform,Primary,ada,2026-03-02T09:00:00Z,2026-03-09T09:00:00Z\n"
            "Platform,Primary,ada,2026-03-08T09:00:00Z,2026-03-10T09:00:00Z\n"
        )
        write(tmp_path / "a", engineers=ENGINEERS, shifts=shifts)
        run("import_oncall_history", str(tmp_path / "a"))
        assert Shift.objects.filter(engineer__username="ada").count() == 2
        out = run("compensation_report", "--start", "2026-03-01", "--end", "2026-03-31")
        ada = next(line for line in out.splitlines() if line.startswith("ada,"))
        assert ada.split(",")[3] == "192.00"  # 8 days, the shared day once

    def test_a_spreadsheets_trailing_empty_columns_are_not_a_column_named_twice(self, tmp_path):
        engineers = "".join(
            line + ",,\n" for line in ENGINEERS.strip().splitlines()
        )  # "...,team,," as a spreadsheet saves it
        write(tmp_path / "a", engineers=engineers)
        out = run("import_oncall_history", str(tmp_path / "a"))
        assert out.startswith("Created 3 users")

    def test_a_user_in_another_letter_case_is_not_given_a_twin(self, tmp_path):
        User.objects.create(username="Ada", email="ada@example.com")
        write(tmp_path / "a", engineers=ENGINEERS, shifts=SHIFTS)
        run("import_oncall_history", str(tmp_path / "a"))
        assert not User.objects.filter(username="ada").exists()
        assert Shift.objects.filter(engineer__username="Ada").count() == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"engineers": ENGINEERS + "cy,C\x00Y,,UTC,Platform\n"}, "engineers.csv, line 5: a NUL"),
        (
            {"engineers": ENGINEERS + "cy,C Y," + "a" * 64 + "@" + "b" * 200 + ".com,UTC,\n"},
            "engineers.csv, line 5: longer than 254 characters",
        ),
        (
            {
                "shifts": SHIFTS
                + "Platform,Primary,ada,0001-01-01T00:30:00+01:00,2026-03-16T09:00Z\n"
            },
            "shifts.csv, line 5: a timestamp from 1900 to 9998",
        ),
        (
            {
                "pages": (
                    "username,paged_at,acknowledged_at,incident_reference\n"
                    "ada,9999-12-31T23:59Z,,\n"
                )
            },
            "pages.csv, line 2: a timestamp from 1900 to 9998",
        ),
        (
            {
                "pages": (
                    "username,paged_at,acknowledged_at,incident_reference\n"
                    "ada,1900-01-01T00:30:00+01:00,,\n"
                )
            },
            "pages.csv, line 2: a timestamp from 1900 to 9998",
        ),
        (
            {
                "pages": (
                    "username,paged_at,acknowledged_at,incident_reference\n"
                    "ada,2026-03-05T12:00:00Z,,\n"
                    "ada,2031-01-01T02:00:00Z,,\n"
                )
            },
            "pages.csv, line 3: in the future: history is what happened (column 'paged_at'",
        ),
        (
            {
                "pages": (
                    "username,paged_at,acknowledged_at,incident_reference\n"
                    "ada,1926-03-03T02:00:00Z,,\n"
                )
            },
            "pages.csv, line 2: no compensation policy is in force at 1926-03-03",
        ),
        (
            {
                "pages": (
                    "username,paged_at,acknowledged_at,incident_reference\n"
                    "ada,2026-03-03T20:00:00Z,,INC-2025-0007\n"
                )
            },
            "pages.csv, line 2: paged before the incident started",
        ),
        (
            {"incidents": INCIDENTS + "INC-2031-0001,Later,SEV-2,2031-03-10T10:00:00Z,,,\n"},
            "incidents.csv, line 4: started_at cannot be in the future",
        ),
        (
            {"incidents": INCIDENTS + "PD.123,Dotted,SEV-2,2026-03-10T10:00:00Z,,,\n"},
            "incidents.csv, line 4: only letters, digits",
        ),
        (
            {"incidents": INCIDENTS + "inc-2025-0007,Twin,SEV-2,2026-03-10T10:00:00Z,,,\n"},
            "incidents.csv, line 4: INC-2025-0007 exists",
        ),
    ],
)
def test_more_bad_rows_name_their_file_and_line_and_change_nothing(tmp_path, files, message):
    write(tmp_path / "before", engineers=ENGINEERS, shifts=SHIFTS, incidents=INCIDENTS)
    run("import_oncall_history", str(tmp_path / "before"))
    before = snapshot()
    write(tmp_path / "bad", **files)
    with pytest.raises(CommandError, match=re.escape(message)):
        run("import_oncall_history", str(tmp_path / "bad"))
    assert snapshot() == before
