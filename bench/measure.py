"""One dataset's side of the benchmark, run in its own process against the database in
DATABASE_URL. Two modes:

    python -m bench.measure generate --incidents N --engineers M --months K --seed S
    python -m bench.measure serve

``generate`` migrates, generates the history, vacuums and analyses, and records what it built
in a ``bench_dataset`` table (so ``python -m bench --reuse`` can skip building it again).

``serve`` loads the targets (``bench.targets``) and answers requests, one JSON object per line
on stdin, with one JSON object per line on stdout: ``{"op": "targets"}`` lists them,
``{"op": "time", "index": i, "runs": n}`` times ``n`` runs of target ``i`` (index -1 is the bare
view), ``{"op": "floor", ...}`` the same for its raw SQL, ``{"op": "queries", "index": i}``
counts its statements, ``{"op": "rows", "index": i}`` the rows a report shows. The parent
drives a small and a large server in turn, so both sizes are measured side by side in time
(drift on a shared machine then falls on both alike).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 0.95)


def samples_of(run, runs: int) -> list[float]:
    found = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        found.append((time.perf_counter() - began) * 1000)
    return found


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


def floor_view(ctx):
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


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client, locmem email
    settings.ROOT_URLCONF = "bench.urls"
    settings.ALLOWED_HOSTS = ["testserver"]


def generate(args) -> int:
    _setup()
    from django.core.management import call_command
    from django.db import connection

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command(
        "generate_history",
        incidents=args.incidents,
        engineers=args.engineers,
        months=args.months,
        seed=args.seed,
    )
    generated = round(time.perf_counter() - began, 1)
    with connection.cursor() as cursor:
        # The state a live database is in minutes after such writes, once autovacuum has
        # passed: statistics gathered, visibility map set, and the GIN (trigram) indexes'
        # pending lists merged. Bulk-inserted and never vacuumed, every search would scan a
        # pending list of 100,000 rows no real installation carries.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CREATE TABLE bench_dataset (dataset jsonb, generate_seconds real)")
        cursor.execute(
            "INSERT INTO bench_dataset VALUES (%s, %s)",
            [json.dumps(dataset_of(args)), generated],
        )
    return 0


def dataset_of(args) -> dict:
    keys = ("incidents", "engineers", "months", "seed")
    return {key: getattr(args, key) for key in keys}


def serve() -> int:
    # The protocol owns stdout; anything else printed goes to stderr.
    channel = sys.stdout
    sys.stdout = sys.stderr
    _setup()
    from bench.targets import context, targets

    ctx = context()
    found = targets(ctx)
    bare = floor_view(ctx)

    def run_of(index: int):
        return bare if index < 0 else found[index].run

    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "targets":
            answer = [
                {"name": t.name, "kind": t.kind, "floor": bool(t.floor_sql), "rows": bool(t.rows)}
                for t in found
            ]
        elif op == "time":
            answer = samples_of(run_of(request["index"]), request["runs"])
        elif op == "floor":
            answer = samples_of(sql_runner(found[request["index"]]), request["runs"])
        elif op == "queries":
            answer = count_queries(run_of(request["index"]))
        elif op == "rows":
            answer = found[request["index"]].rows()
        elif op == "quit":
            break
        else:
            raise ValueError(f"unknown op {op!r}")
        channel.write(json.dumps(answer) + "\n")
        channel.flush()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    build = modes.add_parser("generate")
    build.add_argument("--incidents", type=int, required=True)
    build.add_argument("--engineers", type=int, required=True)
    build.add_argument("--months", type=int, required=True)
    build.add_argument("--seed", type=int, default=1)
    modes.add_parser("serve")
    args = parser.parse_args(argv)
    return generate(args) if args.mode == "generate" else serve()


if __name__ == "__main__":
    sys.exit(main())
