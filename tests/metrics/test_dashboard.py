import csv
import io
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import charts
from incidents.models import RootCauseCategory, Severity
from postmortems.models import ActionItemStatus
from tests.incidents.factories import ServiceFactory, TeamFactory
from tests.metrics.fixtures import HOUR, MIN, first_quarter_2026, incident, utc
from tests.oncall.factories import PageFactory, engineer
from tests.postmortems.factories import ActionItemFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:metrics")
REVIEW = reverse("admin:metrics_review")
CSV = reverse("admin:metrics_csv")
Q1 = {"start": "2026-01-01", "end": "2026-04-01"}
NOW = utc(2026, 4, 10, 12)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def quarter():
    rows = first_quarter_2026()
    mallory = engineer("mallory")
    mallory.first_name = "=HYPERLINK(evil)"
    mallory.save()
    PageFactory(engineer=mallory, paged_at=utc(2026, 2, 3, 23))
    ActionItemFactory(
        created_at=utc(2026, 1, 10),
        due_date=date(2026, 1, 20),
        postmortem__incident__started_at=utc(2025, 6, 1),  # an older incident's item
    )
    return rows


class TestAccess:
    URLS = (DASHBOARD, REVIEW, CSV)

    @pytest.mark.parametrize("who", ["engineer", "finance_user"])
    def test_engineers_and_finance_are_refused_even_with_the_staff_flag(self, client, request, who):
        user = request.getfixturevalue(who)
        user.is_staff = True  # a mistake someone could make in the user admin
        user.save()
        client.force_login(user)
        for url in self.URLS:
            response = client.get(url, Q1)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login"))

    def test_anonymous_is_sent_to_the_admin_login(self, client):
        for url in self.URLS:
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))

    def test_the_admin_index_links_to_the_dashboard(self, manager_client):
        page = manager_client.get(reverse("admin:index")).content.decode()
        assert f'href="{DASHBOARD}"' in page

    def test_never_cached(self, manager_client):
        response = manager_client.get(DASHBOARD)
        assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


class TestDashboard:
    def test_defaults_to_the_current_quarter(self, manager_client):
        response = manager_client.get(DASHBOARD)
        assert response.status_code == 200
        assert response.context["review"].period.quarter_label == "2026-Q2"
        assert '<option value="2026-Q2" selected>' in response.content.decode()

    def test_tiles_charts_and_tables(self, manager_client, quarter):
        response = manager_client.get(DASHBOARD, Q1)
        assert response.status_code == 200
        page = response.content.decode()
        tiles = {t.label: t for t in response.context["tiles"]}
        assert (tiles["MTTD under 5 min"].value, tiles["MTTD under 5 min"].status) == (
            "4 min 00 s",
            "good",
        )
        assert (tiles["MTTR SEV-1 under 1 h"].value, tiles["MTTR SEV-1 under 1 h"].status) == (
            "1 h 20 min",
            "bad",
        )
        assert tiles["MTTR SEV-2 under 4 h"].status == "good"
        assert tiles["Repeat incidents (goal 0)"].status == "good"
        assert tiles["Incidents"].value == "7"
        assert 'data-status="bad"' in page
        assert 'data-status="good"' in page
        assert page.count('<svg class="chart"') == 4
        for title in (
            "Incidents per week by severity",
            "Mean time to resolve per week",
            "Response target met, by severity",
            "Open action items (burn-down)",
        ):
            assert title in page
        assert "2026-Q1 (2026-01-01 to 2026-03-31)" in page
        assert "=HYPERLINK(evil) Oncall" in page  # the on-call burden table

    def test_quarter_team_and_service_pickers(self, manager_client, quarter):
        team = quarter["A"].team
        service = ServiceFactory(name="checkout")
        quarter["B"].services.add(service)
        response = manager_client.get(DASHBOARD, {"quarter": "2026-Q1", "team": team.pk})
        assert response.context["review"].incidents.total.incidents == 1
        assert f"{team.name}" in response.content.decode()
        response = manager_client.get(DASHBOARD, {"quarter": "2026-Q1", "service": service.pk})
        assert response.context["review"].incidents.total.incidents == 1
        # By name too, in any letter case, as the compensation report takes a team.
        for params in ({"team": team.name.upper()}, {"service": "Checkout"}):
            response = manager_client.get(DASHBOARD, {"quarter": "2026-Q1", **params})
            assert response.context["review"].incidents.total.incidents == 1
        response = manager_client.get(DASHBOARD, {"quarter": "2026-Q1", "team": "Nobody"})
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()

    def test_dates_typed_in_both_boxes_win_over_the_selected_quarter(self, manager_client, quarter):
        # The picker always shows a quarter selected; the dates typed are what was meant.
        february = {"quarter": "2026-Q1", "start": "2026-02-01", "end": "2026-03-01"}
        response = manager_client.get(DASHBOARD, february)
        period = response.context["review"].period
        assert (period.start, period.end) == (date(2026, 2, 1), date(2026, 3, 1))
        whole = manager_client.get(DASHBOARD, {"quarter": "2026-Q1"}).context["review"]
        assert (
            response.context["review"].incidents.total.incidents < whole.incidents.total.incidents
        )
        # One date alone is not a period: the quarter stays.
        response = manager_client.get(DASHBOARD, {"quarter": "2026-Q1", "start": "2026-02-01"})
        assert response.context["review"].period.quarter_label == "2026-Q1"

    def test_the_repeat_tile_is_grey_without_incidents(self, manager_client):
        response = manager_client.get(DASHBOARD, Q1)
        tiles = {t.label: t for t in response.context["tiles"]}
        assert tiles["Repeat incidents (goal 0)"].status == "none"

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"start": "2026-04-01", "end": "2026-01-01"}, "must be after the start date"),
            ({"start": "2026-01-01"}, "Give both a start and an end date"),
            ({"start": "2020-01-01", "end": "2026-01-01"}, "at most two years"),
            ({"quarter": "1999-Q1"}, "Select a valid choice"),
        ],
    )
    def test_bad_periods_are_explained(self, manager_client, params, message):
        response = manager_client.get(DASHBOARD, params)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert manager_client.get(CSV, params).status_code == 400

    def test_repeat_incidents_are_listed_with_links(self, manager_client):
        first = incident(
            "SEV-2", utc(2026, 1, 5), ttd=MIN, root_cause_category=RootCauseCategory.CAPACITY
        )
        second = incident(
            "SEV-2", utc(2026, 2, 5), ttd=MIN, root_cause_category=RootCauseCategory.CAPACITY
        )
        page = manager_client.get(DASHBOARD, Q1).content.decode()
        assert reverse("admin:incidents_incident_change", args=[second.pk]) in page
        assert first.reference in page
        assert "goal missed" in page

    def test_the_page_lists_the_latest_repeats_and_the_most_loaded_the_review_all(
        self, manager_client
    ):
        from config.dashboard import DASHBOARD_ROWS

        extra = 3
        repeats = [
            incident(
                "SEV-3",
                utc(2026, 1, 5) + timedelta(days=2 * n),
                ttd=MIN,
                root_cause_category=RootCauseCategory.CAPACITY,
            )
            for n in range(DASHBOARD_ROWS + extra + 1)  # the first one repeats nothing
        ]
        for n in range(DASHBOARD_ROWS + extra):
            person = engineer(f"load{n:02d}", team=TeamFactory(name=f"Team {n:02d}"))
            for k in range(n + 1):  # load12 has the most pages
                PageFactory(engineer=person, paged_at=utc(2026, 2, 1 + k, 12))

        page = manager_client.get(DASHBOARD, Q1).content.decode()
        review = manager_client.get(REVIEW, Q1).content.decode()

        count = DASHBOARD_ROWS + extra
        assert f"The latest {DASHBOARD_ROWS} of {count}" in page
        listed = [r for r in repeats[1:] if f">{r.reference}</a>" in page]
        assert listed == repeats[-DASHBOARD_ROWS:]  # the latest ones
        assert all(r.reference in review for r in repeats[1:])
        assert f"The {DASHBOARD_ROWS} with the most load of {count}" in page
        assert "<td>Load12 Oncall</td>" in page
        assert "<td>Load00 Oncall</td>" not in page  # the least loaded
        assert "<td>Load00 Oncall</td>" in review
        team_row = '<td>Team {:02d}</td><td class="num">'
        assert f"The {DASHBOARD_ROWS} teams with the most pages of {count}" in page
        assert team_row.format(12) in page
        assert team_row.format(0) not in page
        assert team_row.format(0) in review

    def test_constant_queries(self, manager_client):
        def run():
            with CaptureQueriesContext(connection) as ctx:
                assert manager_client.get(DASHBOARD, Q1).status_code == 200
            run.sql = [q["sql"] for q in ctx.captured_queries]
            return len(ctx.captured_queries)

        rows = first_quarter_2026()
        PageFactory(engineer=engineer("few"), paged_at=utc(2026, 1, 5), incident=rows["A"])
        ActionItemFactory(postmortem__incident=rows["A"], created_at=utc(2026, 1, 6))
        few = run()
        services = [ServiceFactory(), ServiceFactory()]
        for n in range(40):
            row = incident(
                ("SEV-1", "SEV-2", "SEV-3")[n % 3],
                utc(2026, 1, 3) + timedelta(hours=40 * n),
                ttd=(n % 6 + 1) * MIN,
                tta=MIN,
                ttr=(n % 5 + 1) * HOUR,
                root_cause_category=RootCauseCategory.DEPLOYMENT,
            )
            row.services.add(services[n % 2])
            ActionItemFactory(
                created_at=row.started_at,
                status=ActionItemStatus.DONE if n % 2 else ActionItemStatus.OPEN,
                completed_at=row.started_at + HOUR if n % 2 else None,
            )
            PageFactory(
                engineer=engineer(f"e{n}", team=TeamFactory(name=f"T{n % 4}")),
                paged_at=row.started_at,
                incident=row,
            )
        small = run.sql
        assert run() == few, "\n\n".join(q for q in run.sql if q not in small)


class TestExports:
    def test_the_review_is_one_self_contained_html_file(self, manager_client, quarter):
        response = manager_client.get(REVIEW, Q1)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert response["Content-Disposition"] == (
            'attachment; filename="incidentdesk-review-2026-Q1.html"'
        )
        html = response.content.decode()
        assert html.startswith("<!DOCTYPE html>")
        assert html.count('<svg class="chart"') == 4
        assert "MTTR SEV-1 under 1 h" in html
        # Nothing is fetched when the file is opened: no scripts, stylesheets, images, fonts
        # or links to anywhere.
        for forbidden in (
            "<script",
            "<link",
            "<img",
            "<iframe",
            "src=",
            "href=",
            "url(",
            "@import",
        ):
            assert forbidden not in html, forbidden
        assert not re.search(r"https?://", html)

    def test_the_file_name_says_period_team_and_service(self, manager_client, quarter):
        team = TeamFactory(name="Core Platform")
        response = manager_client.get(REVIEW, {**Q1, "team": team.pk})
        assert response["Content-Disposition"] == (
            'attachment; filename="incidentdesk-review-2026-Q1-Core_Platform.html"'
        )
        service = ServiceFactory(name="checkout/web")
        response = manager_client.get(
            CSV, {"start": "2026-02-01", "end": "2026-03-01", "service": service.pk}
        )
        assert response["Content-Disposition"] == (
            'attachment; filename="incidentdesk-review-2026-02-01-to-2026-02-28-checkout_web.csv"'
        )
        # A team named in another script: an ASCII fallback and the UTF-8 name (RFC 6266).
        team = TeamFactory(name="Платформа")
        response = manager_client.get(REVIEW, {**Q1, "team": team.pk})
        assert response["Content-Disposition"] == (
            "attachment; filename*=utf-8''incidentdesk-review-2026-Q1-"
            "%D0%9F%D0%BB%D0%B0%D1%82%D1%84%D0%BE%D1%80%D0%BC%D0%B0.html"
        )

    def test_a_period_still_to_come_is_shown_empty(self, manager_client):
        for url in (DASHBOARD, REVIEW, CSV):
            response = manager_client.get(url, {"start": "2099-01-01", "end": "2099-02-01"})
            assert response.status_code == 200

    def test_a_nul_in_a_picker_is_an_unknown_choice(self, manager_client):
        for url in (DASHBOARD, REVIEW, CSV):
            for params in ({"team": "Pay\x00ments"}, {"service": "\x00"}, {"team": "1\x00"}):
                assert manager_client.get(url, params).status_code == 400

    def test_the_csv_holds_the_figures_and_neutralises_formulas(self, manager_client, quarter):
        response = manager_client.get(CSV, Q1)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == (
            'attachment; filename="incidentdesk-review-2026-Q1.csv"'
        )
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        figures = {(r["section"], r["subject"], r["measure"]): r["value"] for r in rows}
        assert figures[("incidents", "All", "count")] == "7"
        assert figures[("time to resolve", "SEV-1", "p90")] == "6720"  # 112 min
        assert figures[("time to acknowledge", "All", "median")] == "690"
        assert figures[("response target", "All", "share met")] == "0.5714"
        assert figures[("goals", "MTTR SEV-1 under 1 h", "met")] == "false"
        assert figures[("incidents per week", "2026-01-05", "SEV-1")] == "1"
        assert figures[("action items", "created in period", "count")] == "1"
        # A name that a spreadsheet would run as a formula is made text.
        assert ("on-call burden (engineer)", "'=HYPERLINK(evil) Oncall", "pages") in figures
        assert not any(
            cell.startswith(("=", "+", "@")) for r in rows for cell in r.values() if cell
        )

    def test_the_csv_burn_down_moments_are_in_the_periods_zone(self, manager_client, settings):
        settings.TIME_ZONE = "America/New_York"
        response = manager_client.get(CSV, {"quarter": "2026-Q2"})  # still running on NOW
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        moments = [r["subject"] for r in rows if r["section"] == "burn-down"]
        assert moments
        assert all(m.endswith("-04:00") for m in moments), moments  # summer time in New York
        assert moments[-1] == "2026-04-10T08:00:00-04:00"  # "now", not 12:00+00:00


class TestCharts:
    def test_data_is_escaped_and_colours_checked(self):
        svg = charts.stacked_bars(
            title="<b>t</b>",
            labels=["<x>"],
            series=[
                charts.Series(name="<script>", colour=charts.colour('red" onload="x'), values=[1])
            ],
        )
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg
        assert "onload" not in svg
        assert charts.colour("#B91C1C") == "#B91C1C"

    def test_axis_scale(self):
        assert charts.axis_scale(4, whole=True) == (4, 1)
        assert charts.axis_scale(0.3, whole=True) == (1, 1)
        assert charts.axis_scale(3862) == (4000, 1000)
        assert charts.axis_scale(0) == (1, 1)

    def test_lines_leave_gaps_for_missing_values(self):
        svg = charts.lines(
            title="t",
            labels=["a", "b", "c", "d"],
            series=[charts.Series(name="s", colour="#000000", values=[1, None, 2, 3])],
        )
        assert svg.count("<polyline") == 1  # only c-d is a segment; a stands alone
        assert svg.count("<circle") == 3

    def test_severity_colours_come_from_data(self, manager_client):
        Severity.objects.filter(name="SEV-1").update(color="#123456")
        page = manager_client.get(DASHBOARD, Q1).content.decode()
        assert 'fill="#123456"' in page


class TestPickers:
    def test_the_page_shows_what_it_reports_and_a_quarter_picked_later_wins(
        self, manager_client, quarter
    ):
        # Dates typed over the preselected quarter: the page reports them, with "Custom
        # dates" selected.
        response = manager_client.get(
            DASHBOARD,
            {
                "quarter": "2026-Q2",
                "shown_quarter": "2026-Q2",
                "start": "2026-02-01",
                "end": "2026-03-01",
            },
        )
        page = response.content.decode()
        assert response.context["review"].period.start == date(2026, 2, 1)
        assert '<option value="" selected>Custom dates</option>' in page
        assert "start=2026-02-01" in response.context["query"]
        # Then a quarter is picked, the dates still in their boxes: the quarter wins, and the
        # boxes empty.
        response = manager_client.get(
            DASHBOARD,
            {"quarter": "2026-Q1", "shown_quarter": "", "start": "2026-02-01", "end": "2026-03-01"},
        )
        review = response.context["review"]
        assert review.period.quarter_label == "2026-Q1"
        page = response.content.decode()
        assert '<option value="2026-Q1" selected>' in page
        assert 'name="start" value=' not in page or 'name="start" value=""' in page
        query = response.context["query"]
        assert "quarter=2026-Q1" in query
        assert "start=2026-02-01" not in query
        # The download link means the same period.
        csv_response = manager_client.get(CSV + "?" + query)
        assert 'filename="incidentdesk-review-2026-Q1.csv"' in csv_response["Content-Disposition"]
