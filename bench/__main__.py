"""``python -m bench`` (what ``make bench`` runs): build a small and a large dataset in their own
PostgreSQL databases, measure both side by side, print one table, write it as JSON under
bench/results/.

    python -m bench [--small 1000,50,12] [--large 100000,500,12] [--repeat 15] [--seed 1]
                    [--reuse]

Needs DATABASE_URL to point at a PostgreSQL server it may create databases on (``make bench``
starts a throwaway one, as ``make test`` does).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.measure import summary

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


def _env(base: str, name: str) -> dict:
    return {
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


def _built(base: str, name: str, dataset: dict) -> float | None:
    """The seconds a database already holding ``dataset`` took to generate, else None."""
    try:
        with psycopg.connect(_database_url(base, name)) as conn:
            row = conn.execute("SELECT dataset, generate_seconds FROM bench_dataset").fetchone()
    except psycopg.Error:
        return None
    return row[1] if row and row[0] == dataset else None


def build(base: str, label: str, size, seed: int, reuse: bool) -> dict:
    """Generate the dataset in database ``bench_<label>`` (kept when ``reuse`` finds it
    already built with the same sizes and seed)."""
    incidents, engineers, months = size
    name = f"bench_{label}"
    dataset = {"incidents": incidents, "engineers": engineers, "months": months, "seed": seed}
    seconds = _built(base, name, dataset) if reuse else None
    if seconds is not None:
        print(f"== {label}: reusing {name} ({dataset}); migrating it to this code", flush=True)
        # Built by older code: its schema must be this code's (new columns, new indexes).
        manage = str(Path(__file__).resolve().parent.parent / "manage.py")
        migrate = [sys.executable, manage, "migrate", "--no-input", "-v", "0"]
        subprocess.run(migrate, check=True, env=_env(base, name))  # noqa: S603
        with psycopg.connect(_database_url(base, name), autocommit=True) as conn:
            conn.execute("ANALYZE")
        return {**dataset, "generate_seconds": seconds}
    with psycopg.connect(_database_url(base, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"== {label}: {incidents} incidents, {engineers} engineers, {months} months", flush=True)
    command = [sys.executable, "-m", "bench.measure", "generate"]
    command += [f"--{key}={value}" for key, value in dataset.items()]
    subprocess.run(command, check=True, env=_env(base, name))  # noqa: S603
    return {**dataset, "generate_seconds": _built(base, name, dataset)}


class Server:
    """A ``bench.measure serve`` process on one dataset."""

    def __init__(self, base: str, label: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.measure", "serve"],
            env=_env(base, f"bench_{label}"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, op: str, **fields):
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark server stopped (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask_quietly()
        self.process.wait(timeout=30)

    def ask_quietly(self) -> None:
        try:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass


WARM_UP = 2


def interleaved(small: Server, large: Server, index: int, repeat: int) -> tuple[list, list]:
    """``repeat`` timed runs of one target on each size, alternating small and large run by
    run (after warm-up runs on both), so whatever else the machine does meanwhile weighs on
    both sizes alike."""
    small.ask("time", index=index, runs=WARM_UP)
    large.ask("time", index=index, runs=WARM_UP)
    timings: tuple[list, list] = ([], [])
    for _ in range(repeat):
        timings[0].extend(small.ask("time", index=index, runs=1))
        timings[1].extend(large.ask("time", index=index, runs=1))
    return timings


def _stats(samples: list[float]) -> dict:
    median, p95 = summary(samples)
    return {"median_ms": round(median, 2), "p95_ms": round(p95, 2)}


def measure(small: Server, large: Server, repeat: int) -> tuple[dict, dict]:
    """Both sizes' results, in the shape ``table`` reads."""
    found = small.ask("targets")
    if [t["name"] for t in found] != [t["name"] for t in large.ask("targets")]:
        raise RuntimeError("the two datasets list different targets")
    results = ({"targets": []}, {"targets": []})
    bare = interleaved(small, large, -1, repeat)
    for result, samples in zip(results, bare, strict=True):
        result["bare_view"] = _stats(samples)
    for index, target in enumerate(found):
        timings = interleaved(small, large, index, repeat)
        for result, server, samples in zip(results, (small, large), timings, strict=True):
            # Counted on a steady-state run (after the warm-up runs): a sweep's first run
            # also records the backlog of reminders the generated history owes.
            row = {"name": target["name"], "kind": target["kind"], **_stats(samples)}
            row["queries"] = server.ask("queries", index=index)
            if target["rows"]:
                row["rows"] = server.ask("rows", index=index)
            if target["floor"]:
                server.ask("floor", index=index, runs=WARM_UP)
                floor = server.ask("floor", index=index, runs=repeat)
                row["sql_floor_ms"] = round(summary(floor)[0], 2)
            result["targets"].append(row)
        print(
            f"  {target['name']}: {results[0]['targets'][-1]['median_ms']:.1f} ms small, "
            f"{results[1]['targets'][-1]['median_ms']:.1f} ms large",
            file=sys.stderr,
            flush=True,
        )
    return results


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
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a dataset database already built with the same sizes and seed",
    )
    args = parser.parse_args(argv)
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must point at a PostgreSQL server (make bench starts one).")
        return 2
    began = time.monotonic()
    built = {
        label: build(base, label, size, args.seed, args.reuse)
        for label, size in (("small", args.small), ("large", args.large))
    }
    print("== measuring both sizes side by side", flush=True)
    servers = (Server(base, "small"), Server(base, "large"))
    try:
        small, large = measure(*servers, args.repeat)
    finally:
        for server in servers:
            server.close()
    for label, result in (("small", small), ("large", large)):
        result["dataset"] = {k: v for k, v in built[label].items() if k != "generate_seconds"}
        result["dataset"]["repeat"] = args.repeat
        result["generate_seconds"] = built[label]["generate_seconds"]
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
