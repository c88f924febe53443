"""Cursor pagination over orderings that many rows share: every row once, in order, both ways,
however many rows tie."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from oncall.models import Page
from tests.api.conftest import assert_problem
from tests.incidents.factories import IncidentFactory, severity

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"
PAGES = "/api/v1/pages/"


def walk(api, url, params, *, back_from_last=False):
    """Every page's rows by following ``next`` links (then ``previous`` links back)."""
    pages, response = [], api.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body["results"])
        if not body["next"]:
            break
        response = api.get(body["next"])
        assert len(pages) < 50, "the next links never end"
    if back_from_last:
        backwards = [pages[-1]]
        while body["previous"]:
            body = api.get(body["previous"]).json()
            backwards.append(body["results"])
        return pages, backwards
    return pages, None


@pytest.fixture
def ranked(platform):
    """24 incidents over three severities: eight share each rank."""
    levels = [severity("SEV-1"), severity("SEV-2"), severity("SEV-3")]
    return [IncidentFactory(team=platform, severity=levels[n % 3]) for n in range(24)]


@pytest.mark.parametrize("ordering", ["severity_rank", "-severity_rank"])
def test_ordering_by_a_shared_value_lists_every_incident_once(engineer_api, ranked, ordering):
    pages, backwards = walk(
        engineer_api, INCIDENTS, {"ordering": ordering, "page_size": 5}, back_from_last=True
    )
    refs = [row["reference"] for page in pages for row in page]
    assert sorted(refs) == sorted(i.reference for i in ranked)
    assert len(refs) == len(set(refs)) == 24
    # In rank order, ties by id in the same direction.
    by_ref = {i.reference: i for i in ranked}
    keys = [(by_ref[r].severity.rank, by_ref[r].pk) for r in refs]
    assert keys == sorted(keys, reverse=ordering.startswith("-"))
    # The previous links walk back through the very same pages.
    assert list(reversed(backwards)) == pages
    assert [len(p) for p in pages] == [5, 5, 5, 5, 4]


def test_more_ties_than_an_offset_could_skip(engineer_api, engineer):
    """1,100 pages sent at the same moment (one alert paging a crowd): the walk ends, each once."""
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    Page.objects.bulk_create(
        Page(engineer=engineer, paged_at=at, ack_due_at=at + timedelta(minutes=5))
        for _ in range(1100)
    )
    pages, _ = walk(engineer_api, PAGES, {"ordering": "paged_at", "page_size": 200})
    ids = [row["id"] for page in pages for row in page]
    assert len(ids) == len(set(ids)) == 1100
    assert ids == sorted(ids)
    assert len(pages) == 6


def test_rows_added_while_walking_do_not_shift_the_pages(engineer_api, ranked, platform):
    first = engineer_api.get(INCIDENTS, {"ordering": "severity_rank", "page_size": 5}).json()
    IncidentFactory(team=platform, severity=severity("SEV-1"))  # sorts before the cursor
    second = engineer_api.get(first["next"]).json()
    seen = {r["reference"] for r in first["results"]}
    assert not seen & {r["reference"] for r in second["results"]}
    assert len(second["results"]) == 5


def cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "made_up",
    [
        ["n", ["not a moment", 5]],  # a value that does not fit its field
        ["n", [1]],  # keys for another ordering
        ["x", ["2026-03-03T12:00:00+00:00", 5]],
        ["n", [{"a": 1}, 5]],
        "just text",
    ],
)
def test_a_made_up_cursor_is_a_404_problem(engineer_api, made_up):
    assert_problem(engineer_api.get(INCIDENTS, {"cursor": cursor(made_up)}), 404, "not_found")
