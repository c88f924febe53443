"""``python -m bench`` (what ``make bench`` runs): build a small and a large dataset in their own
PostgreSQL databases, measure both, print one table, write it as JSON under bench/results/.

    python -m bench [--small 1000,50,12] [--large 100000,500,12] [--repeat 15] [--seed 1]

Needs DATABASE_URL to point at a PostgreSQL server it may create databases on (``make bench``
starts a throwaway one, as ``make test`` does).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

RESULTS = Path(__file__).resolve().parent / "results"

# The targets.
MAX_GROWTH = 1.3  # each page's large / small median (a report's: per row it shows)
MAX_COMPENSATION_OVER_SQL = 2.0  # twelve-month compensation report / its raw-SQL floor
MAX_API_LIST_OVER_BARE_VIEW = 3.0  # API incident list (100 rows) / the bare Django view
TWELVE_MONTH_REPORT = "compensation report, twelve months (command)"


def _size(text: str) -> tuple[int, int, int]:
    incidents, engineers, months = (int(part) for part in text.split(","))
    return incidents, engineers, months


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate(base: str, name: str) -> None:
    with psycopg.connect(_database_url(base, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def measure(base: str, label: str, size, seed: int, repeat: int) -> dict:
    incidents, engineers, months = size
    name = f"bench_{label}"
    _recreate(base, name)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    print(f"== {label}: {incidents} incidents, {engineers} engineers, {months} months", flush=True)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(base, name),
        # Reminders are recorded and queued, not sent: sending is the workers' job.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-key"),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
        "CONN_MAX_AGE": "0",
    }
    command = [
        sys.executable,
        "-m",
        "bench.measure",
        f"--incidents={incidents}",
        f"--engineers={engineers}",
        f"--months={months}",
        f"--seed={seed}",
        f"--repeat={repeat}",
        f"--out={out}",
    ]
    subprocess.run(command, check=True, env=env)  # noqa: S603
    return json.loads(Path(out).read_text())


def table(small: dict, large: dict) -> tuple[list[dict], list[str]]:
    rows, failures = [], []
    by_name = {row["name"]: row for row in large["targets"]}
    bare = large["bare_view"]["median_ms"]
    for row in small["targets"]:
        big = by_name[row["name"]]
        growth = big["median_ms"] / row["median_ms"] if row["median_ms"] else None
        over_floor = big["median_ms"] / big["sql_floor_ms"] if big.get("sql_floor_ms") else None
        over_bare = big["median_ms"] / bare if bare else None
        # A report shows one row per engineer: ten times the engineers is ten times the rows
        # (and ten times its SQL floor's work). Its flatness is the cost per row.
        per_row = None
        if growth and row.get("rows") and big.get("rows"):
            per_row = growth / (big["rows"] / row["rows"])
        line = {
            "name": row["name"],
            "kind": row["kind"],
            "small_median_ms": row["median_ms"],
            "small_p95_ms": row["p95_ms"],
            "large_median_ms": big["median_ms"],
            "large_p95_ms": big["p95_ms"],
            "large_over_small": round(growth, 2) if growth else None,
            "rows_small": row.get("rows"),
            "rows_large": big.get("rows"),
            "large_over_small_per_row": round(per_row, 2) if per_row else None,
            "sql_floor_ms": big.get("sql_floor_ms"),
            "page_over_sql_floor": round(over_floor, 2) if over_floor else None,
            "page_over_bare_view": round(over_bare, 2) if over_bare else None,
            "queries_small": row["queries"],
            "queries_large": big["queries"],
        }
        rows.append(line)
        if row["queries"] != big["queries"]:
            failures.append(
                f"{row['name']}: {row['queries']} queries small, {big['queries']} large"
            )
        if row["kind"] == "page" and growth and growth > MAX_GROWTH:
            failures.append(f"{row['name']}: large / small = {growth:.2f} > {MAX_GROWTH}")
        if row["kind"] == "report" and per_row and per_row > MAX_GROWTH:
            failures.append(f"{row['name']}: large / small per row = {per_row:.2f} > {MAX_GROWTH}")
        if (
            row["name"] == TWELVE_MONTH_REPORT
            and over_floor
            and (over_floor > MAX_COMPENSATION_OVER_SQL)
        ):
            failures.append(f"{row['name']}: {over_floor:.2f}x its raw-SQL floor")
        if (
            row["name"] == "API incident list (100 rows)"
            and over_bare
            and (over_bare > MAX_API_LIST_OVER_BARE_VIEW)
        ):
            failures.append(f"{row['name']}: {over_bare:.2f}x the bare view")
    return rows, failures


def render(rows: list[dict], small: dict, large: dict) -> str:
    header = (
        f"{'target':52} {'small ms':>9} {'large ms':>9} {'p95 L':>8} {'L/S':>5} {'/row':>5} "
        f"{'SQL ms':>8} {'/SQL':>6} {'/bare':>7} {'queries':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:

        def fmt(value, width, spec=".1f"):
            return f"{value:{width}{spec}}" if value is not None else " " * (width - 1) + "-"

        lines.append(
            f"{r['name'][:52]:52} {fmt(r['small_median_ms'], 9)} {fmt(r['large_median_ms'], 9)} "
            f"{fmt(r['large_p95_ms'], 8)} {fmt(r['large_over_small'], 5, '.2f')} "
            f"{fmt(r['large_over_small_per_row'], 5, '.2f')} "
            f"{fmt(r['sql_floor_ms'], 8)} {fmt(r['page_over_sql_floor'], 6, '.2f')} "
            f"{fmt(r['page_over_bare_view'], 7, '.1f')} "
            f"{r['queries_small']:>4}/{r['queries_large']:<4}"
        )
    lines.append(
        "L/S: large median / small median. /row: the same per row shown, for the reports "
        "(one row per engineer). /SQL: large / the raw SQL fetching the same rows. /bare: "
        "large / a bare Django view."
    )
    lines.append(
        f"bare Django view: {small['bare_view']['median_ms']:.2f} ms small, "
        f"{large['bare_view']['median_ms']:.2f} ms large. Data generated in "
        f"{small['generate_seconds']} s and {large['generate_seconds']} s."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=_size, default=(1000, 50, 12))
    parser.add_argument("--large", type=_size, default=(100000, 500, 12))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must point at a PostgreSQL server (make bench starts one).")
        return 2
    began = time.monotonic()
    small = measure(base, "small", args.small, args.seed, args.repeat)
    large = measure(base, "large", args.large, args.seed, args.repeat)
    rows, failures = table(small, large)
    print()
    print(render(rows, small, large))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "when": stamp,
        "small": small["dataset"],
        "large": large["dataset"],
        "bare_view_ms": {"small": small["bare_view"], "large": large["bare_view"]},
        "generate_seconds": {
            "small": small["generate_seconds"],
            "large": large["generate_seconds"],
        },
        "rows": rows,
        "failures": failures,
        "minutes": round((time.monotonic() - began) / 60, 1),
    }
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    print()
    if failures:
        print("Targets missed:\n  " + "\n  ".join(failures))
        return 1
    print("Every target met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
