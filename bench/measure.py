"""Measure one dataset (run in its own process, against the database in DATABASE_URL).

    python -m bench.measure --incidents N --engineers M --months K --seed S --repeat R --out F

Migrates, generates the history, then times every target (median and 95th percentile over R
runs after two warm-up runs), counts its queries, and times its floors: the bare view and
the target's raw SQL. Writes JSON to F.
"""

import argparse
import json
import os
import statistics
import sys
import time


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def timed(run, repeat: int) -> tuple[float, float]:
    for _ in range(2):
        run()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, required=True)
    parser.add_argument("--engineers", type=int, required=True)
    parser.add_argument("--months", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench.targets import context, targets

    setup_test_environment()  # the test client, locmem email
    settings.ROOT_URLCONF = "bench.urls"
    settings.ALLOWED_HOSTS = ["testserver"]
    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command(
        "generate_history",
        incidents=args.incidents,
        engineers=args.engineers,
        months=args.months,
        seed=args.seed,
    )
    generated = time.perf_counter() - began
    with connection.cursor() as cursor:
        # The state a live database is in minutes after such writes, once autovacuum has
        # passed: statistics gathered, visibility map set, and the GIN (trigram) indexes'
        # pending lists merged. Bulk-inserted and never vacuumed, every search would scan a
        # pending list of 100,000 rows no real installation carries.
        cursor.execute("VACUUM ANALYZE")
    ctx = context()
    results = {"dataset": vars(args), "generate_seconds": round(generated, 1), "targets": []}
    floor_view = context_floor(ctx)
    results["bare_view"] = dict(
        zip(("median_ms", "p95_ms"), timed(floor_view, args.repeat), strict=True)
    )
    for target in targets(ctx):
        median, p95 = timed(target.run, args.repeat)
        # Counted on a steady-state run (after the warm-up runs): a sweep's first run also
        # records the backlog of reminders the generated history owes.
        queries = count_queries(target.run)
        row = {
            "name": target.name,
            "kind": target.kind,
            "median_ms": round(median, 2),
            "p95_ms": round(p95, 2),
            "queries": queries,
        }
        if target.rows is not None:
            row["rows"] = target.rows()
        if target.floor_sql:
            row["sql_floor_ms"] = round(timed(sql_runner(target), args.repeat)[0], 2)
        results["targets"].append(row)
        print(f"  {target.name}: {median:.1f} ms ({row['queries']} queries)", file=sys.stderr)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)
    return 0


def count_queries(run) -> int:
    """Every statement sent to the database while ``run`` runs (whatever DEBUG says)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        run()
    return count


def context_floor(ctx):
    def go():
        response = ctx.manager.get("/bench/floor/")
        if response.status_code != 200:
            raise RuntimeError("the floor view failed")

    return go


def sql_runner(target):
    from django.db import connection

    statements = [s for s in target.floor_sql.split(";\n") if s.strip()]

    def go():
        with connection.cursor() as cursor:
            params = target.floor_params
            if isinstance(params, dict):
                cursor.execute(statements[0], params)
                cursor.fetchall()
                return
            offset = 0
            for statement in statements:
                count = statement.count("%s")
                cursor.execute(statement, params[offset : offset + count])
                cursor.fetchall()
                offset += count

    return go


if __name__ == "__main__":
    sys.exit(main())
