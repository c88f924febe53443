"""The metrics dashboard and the quarterly review in a real Chromium: a manager reads the
dashboard and opens the downloaded review with the network cut off; others are refused."""

from datetime import date

import pytest
from playwright.sync_api import expect

from tests.metrics.fixtures import first_quarter_2026, utc
from tests.oncall.factories import PageFactory, engineer
from tests.postmortems.factories import ActionItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def quarter():
    rows = first_quarter_2026()
    PageFactory(engineer=engineer("ada", "Europe/London"), paged_at=utc(2026, 2, 10, 22, 2))
    ActionItemFactory(
        postmortem__incident=rows["B"], created_at=utc(2026, 2, 12), due_date=date(2026, 2, 20)
    )
    return rows


def test_manager_reads_the_dashboard_and_opens_the_review_offline(
    page, live_server, manager, quarter, log_in, shot, tmp_path
):
    log_in(page, manager)
    page.get_by_role("link", name="Incident metrics and quarterly review").click()
    expect(page.get_by_role("heading", name="Incident metrics")).to_be_visible()

    page.get_by_label("Quarter").select_option("")
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("Until (excluded)").fill("2026-04-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()

    expect(page.get_by_text("2026-Q1 (2026-01-01 to 2026-03-31)")).to_be_visible()
    bad = page.locator(".tile-bad", has_text="MTTR SEV-1 under 1 h")
    expect(bad).to_contain_text("1 h 20 min")
    expect(bad).to_contain_text("goal missed")
    expect(page.locator(".tile-good", has_text="MTTD under 5 min")).to_contain_text("4 min 00 s")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(4)
    for index in range(4):
        box = charts.nth(index).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 100
    expect(page.get_by_role("cell", name="Ada Oncall")).to_be_visible()
    shot(page, "metrics-dashboard")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the quarterly review (HTML)").click()
    download = download_info.value
    assert download.suggested_filename == "incidentdesk-review-2026-Q1.html"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    review = page.context.new_page()
    requested: list[str] = []
    review.on("request", lambda request: requested.append(request.url))
    review.context.route("http*://**/*", lambda route: route.abort())
    review.goto(saved.as_uri())
    expect(review.get_by_role("heading", name="Incident review: 2026-Q1")).to_be_visible()
    expect(review.locator("svg.chart")).to_have_count(4)
    expect(review.locator(".tile-bad", has_text="MTTR SEV-1 under 1 h")).to_be_visible()
    assert requested == [saved.as_uri()]  # the file itself, nothing else
    shot(review, "quarterly-review")


def test_an_engineer_is_refused(page, live_server, engineer, log_in, shot):
    log_in(page, engineer)
    page.goto(f"{live_server.url}/admin/metrics/")
    expect(page.get_by_text("not authorized to access this page")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(0)
    shot(page, "metrics-refused")
