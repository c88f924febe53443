"""The benchmark's verdict: which measured rows miss the issue's targets."""

from bench.__main__ import table


def run(name, kind, median, queries=5):
    return {"name": name, "kind": kind, "median_ms": median, "p95_ms": median, "queries": queries}


def dataset(*targets, bare=2.0):
    return {"targets": list(targets), "bare_view": {"median_ms": bare}, "generate_seconds": 1}


def with_(row, **extra):
    return {**row, **extra}


def test_a_page_that_grows_more_than_thirty_percent_misses():
    small = dataset(run("changelist", "page", 100), run("flat page", "page", 100))
    large = dataset(run("changelist", "page", 131), run("flat page", "page", 130))
    _, failures = table(small, large)
    assert failures == ["changelist: large / small = 1.31 > 1.3"]


def test_query_counts_must_match_for_pages_and_sweeps():
    small = dataset(run("sweep", "sweep", 10, queries=4))
    large = dataset(run("sweep", "sweep", 500, queries=5))
    _, failures = table(small, large)
    assert failures == ["sweep: 4 queries small, 5 large"]  # a sweep's time is not a target


def test_a_report_is_held_to_its_cost_per_row_and_the_year_to_its_sql_floor():
    name = "compensation report, twelve months (command)"
    small = dataset(with_(run(name, "report", 20), rows=50, sql_floor_ms=10))
    fine = dataset(with_(run(name, "report", 190), rows=500, sql_floor_ms=100))
    rows, failures = table(small, fine)
    assert rows[0]["large_over_small_per_row"] == 0.95
    assert failures == []
    slow = dataset(with_(run(name, "report", 300), rows=500, sql_floor_ms=100))
    _, failures = table(small, slow)
    assert failures == [
        f"{name}: large / small per row = 1.50 > 1.3",
        f"{name}: 3.00x its raw-SQL floor",
    ]


def test_the_api_list_is_held_to_three_times_the_bare_view():
    name = "API incident list (100 rows)"
    small = dataset(run(name, "page", 7))
    _, failures = table(small, dataset(run(name, "page", 7), bare=2.0))
    assert failures == ["API incident list (100 rows): 3.50x the bare view"]
