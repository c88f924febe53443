"""The benchmark's query-count target, guarded in CI on small data: every page, report and
sweep that ``make bench`` measures sends the same number of queries over a small generated
history and over one three times its size. A per-row query anywhere (an N+1) makes the
larger count differ and fails here, long before anyone runs the benchmark.

The targets are the benchmark's own (``bench.targets``), so the two never drift apart.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from bench.generator import Generator, Plan
from bench.measure import count_queries
from bench.targets import context, targets
from incidents.events import timeline_event_record
from incidents.models import Incident, TimelineEventKind

pytestmark = pytest.mark.django_db
User = get_user_model()

# A fixed moment, so what each sweep finds to do does not depend on the day the suite runs.
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
UNTIL = date(2026, 11, 23)
# The larger one has more of everything a per-row query could hide in: incidents, teams (so
# rotations, handoffs and runbooks), open incidents (the sweeps' work), and its measured
# incident many more timeline events, by more people, some correcting others.
SMALL = Plan(incidents=40, engineers=6, months=2, seed=3, until=UNTIL, open_incidents=3)
LARGE = Plan(incidents=150, engineers=40, months=2, seed=4, until=UNTIL, open_incidents=9)
MORE_EVENTS = 40


def _more_events(incident_id: int) -> None:
    people = list(User.objects.order_by("pk")[:10])
    previous = None
    for n in range(MORE_EVENTS):
        previous = timeline_event_record(
            incident=Incident.objects.get(pk=incident_id),
            kind=TimelineEventKind.NOTE,
            message=f"Note {n}",
            at=NOW,
            author=people[n % len(people)],
            corrects=previous if n % 4 == 0 else None,
        )


def counts_for(plan: Plan, *, richer: bool = False) -> dict[str, int]:
    """Generate ``plan``'s history, count each target's queries on a warm run, as the
    benchmark does, and roll the history back."""
    counts = {}
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        Generator(plan, progress=lambda _: None).run()
        ctx = context()
        if richer:
            _more_events(ctx.incident_id)
        for target in targets(ctx):
            result = target.run()
            if target.kind == "sweep":
                # Each sweep finds work at both sizes: equal counts of two idle runs prove
                # nothing.
                assert result, f"{target.name} had nothing to do over {plan}"
            counts[target.name] = count_queries(target.run)
        transaction.set_rollback(True)
    return counts


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the benchmark's database: SQLite splits a bulk insert by its 999-parameter limit",
)
def test_every_benchmarked_page_and_sweep_sends_the_same_queries_at_any_size():
    small = counts_for(SMALL)
    large = counts_for(LARGE, richer=True)
    assert small.keys() == large.keys()
    grown = {name: (small[name], large[name]) for name in small if small[name] != large[name]}
    assert grown == {}, f"query counts grew with the data (small, large): {grown}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_incident_search_is_served_by_the_trigram_indexes():
    """The admin's and the engineers' incident search (``icontains`` on reference, title and
    dedup key) can use an index, so a search costs the same at a million incidents."""
    search = "UPPER({column}::text) LIKE UPPER(%s)"
    where = " OR ".join(search.format(column=c) for c in ("reference", "title", "dedup_key"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM incidents_incident WHERE {where}",  # noqa: S608 - fixed text
            ["%INC-2026%"] * 3,
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for column in ("reference", "title", "dedup_key"):
        assert f"incidents_incident_{column}_trgm" in plan
