"""Skipper's SQL path (`sk.sql`) against raw DuckDB on the 22 TPC-H queries, same run.

    python benchmarks/bench_tpch.py [--scale 0.1] [--repeats 11] [--queries q01 q17]

The data comes from tpchgen-cli (`pip install tpchgen-cli`; not a Skipper dependency), loaded
once into $SKIPPER_HOME/bench/tpch-sf<scale>.duckdb and reused. The catalog and the query texts
(the spec's validation parameters, DuckDB's dialect) are in benchmarks/tpch/.

Each query runs alternately on a plain read-only DuckDB connection with the engine's thread and
memory settings (fetching Arrow, the baseline) and through `Skipper.sql` with its defaults
(guard + sandboxed worker process + annotation + audit record). Printed per query: the medians,
"ratio" (median Skipper over median raw), "paired" (the median of each Skipper run over the raw
run just before it, steadier when the machine's speed drifts), and the first run's ratio. The
guard caches checked SQL by its text, so the repeats measure the cached guard; the first run is
the one with an uncached guard (both sides' DuckDB is warmed before it). Then the geometric
means of the ratios over the queries and the ratio of the total times. Machines here are noisy:
read medians and ratios only.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_ms  # noqa: E402

from skipper import Skipper, SkipperError  # noqa: E402
from skipper.app import skipper_home  # noqa: E402

TPCH = ROOT / "benchmarks" / "tpch"
CATALOG = TPCH / "catalog"
QUERIES = TPCH / "queries"
TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
#: The data ends in 1998; no table declares freshness, so the day only has to be fixed.
TODAY = date(1998, 12, 31)


def tpchgen() -> str:
    """The tpchgen-cli executable: on PATH, or beside this Python (an unactivated venv)."""
    found = shutil.which("tpchgen-cli") or shutil.which("tpchgen-cli", path=str(
        Path(sys.executable).parent))
    if found is None:
        sys.exit("bench_tpch: tpchgen-cli is not installed. It generates the TPC-H data and is "
                 "not a Skipper dependency; install it into this environment with\n"
                 f"    {sys.executable} -m pip install tpchgen-cli")
    return found


def tpch_database(scale: float) -> Path:
    """The TPC-H DuckDB file at ``scale``, generated and loaded now if it is missing."""
    database = skipper_home() / "bench" / f"tpch-sf{scale:g}.duckdb"
    if database.exists():
        return database
    database.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tpch-", dir=database.parent) as scratch:
        subprocess.run([tpchgen(), "parquet", "--scale-factor", f"{scale:g}", "--output-dir",
                        scratch, "--quiet"], check=True)
        # Built under another name and renamed: an interrupted load is never reused.
        partial = Path(scratch) / database.name
        with duckdb.connect(str(partial)) as con:
            for table in TABLES:
                parquet = Path(scratch) / f"{table}.parquet"
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)",
                            [str(parquet)])
        partial.replace(database)
    print(f"built {database} in {time.perf_counter() - started:.1f}s", flush=True)
    return database


def load_queries(names: list[str] | None) -> dict[str, str]:
    available = {path.stem: path.read_text() for path in sorted(QUERIES.glob("q*.sql"))}
    if not names:
        return available
    unknown = [name for name in names if name not in available]
    if unknown:
        sys.exit(f"bench_tpch: no such query {', '.join(unknown)}; "
                 f"choose among {', '.join(available)}")
    return {name: available[name] for name in names}


def timed_ms(action: Callable[[], Any]) -> float:
    """The wall time of one call of ``action``, in milliseconds (the shared helper, once)."""
    return median_ms(action, 1)


def geometric_mean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(value) for value in values))


def bench_query(sql: str, raw: duckdb.DuckDBPyConnection, skipper: Skipper,
                repeats: int) -> dict[str, float]:
    raw_rows = raw.sql(sql).to_arrow_table().num_rows
    # Warm the worker's DuckDB on a text the guard has not seen (a trailing newline), so the
    # first timed run below differs from the repeats only by its uncached guard.
    answer = skipper.sql(sql + "\n")
    if answer.row_count != raw_rows:
        print(f"  warning: Skipper counted {answer.row_count} rows, raw DuckDB {raw_rows}")
    first_raw = timed_ms(lambda: raw.sql(sql).to_arrow_table())
    first: list[Any] = []
    first_skipper = timed_ms(lambda: first.append(skipper.sql(sql)))
    raw_times, skipper_times, guard_times = [], [], []
    answers: list[Any] = []
    for _ in range(repeats):
        raw_times.append(timed_ms(lambda: raw.sql(sql).to_arrow_table()))
        skipper_times.append(timed_ms(lambda: answers.append(skipper.sql(sql))))
        guard_times.append(answers[-1].timings["guard_ms"])
    return {
        "rows": raw_rows,
        "raw": statistics.median(raw_times),
        "skipper": statistics.median(skipper_times),
        # Each Skipper run against the raw run just before it: drifts in the machine's speed
        # during the 2 x repeats runs cancel out.
        "paired": statistics.median(s / r for s, r in zip(skipper_times, raw_times,
                                                             strict=True)),
        "first_raw": first_raw,
        "first_skipper": first_skipper,
        "first_guard": first[0].timings["guard_ms"],
        "guard": statistics.median(guard_times),
    }


def report(results: dict[str, dict[str, float]], refused: dict[str, SkipperError],
           args: argparse.Namespace) -> None:
    print(f"\nTPC-H sf{args.scale:g}: median of {args.repeats} runs per query (ms); the repeats "
          "hit the guard's cache of checked SQL, 'first' is the run with an uncached guard")
    print(f"{'query':5} {'rows':>5} {'raw':>8} {'skipper':>8} {'ratio':>6} {'paired':>6} "
          f"{'guard':>6}   {'first raw':>9} {'skipper':>8} {'ratio':>6} {'guard':>6}")
    for name, row in results.items():
        print(f"{name:5} {row['rows']:5.0f} {row['raw']:8.2f} {row['skipper']:8.2f} "
              f"{row['skipper'] / row['raw']:6.3f} {row['paired']:6.3f} {row['guard']:6.3f}   "
              f"{row['first_raw']:9.2f} {row['first_skipper']:8.2f} "
              f"{row['first_skipper'] / row['first_raw']:6.3f} {row['first_guard']:6.2f}")
    for name, error in refused.items():
        print(f"{name:5} refused by Skipper: {error.code}: {error}")
    if not results:
        return
    rows = results.values()
    ratios = [row["skipper"] / row["raw"] for row in rows]
    paired = [row["paired"] for row in rows]
    firsts = [row["first_skipper"] / row["first_raw"] for row in rows]
    total_raw, total_skipper = sum(r["raw"] for r in rows), sum(r["skipper"] for r in rows)
    total_first = sum(r["first_skipper"] for r in rows) / sum(r["first_raw"] for r in rows)
    print(f"geometric mean over {len(ratios)} queries: ratio {geometric_mean(ratios):.3f}, "
          f"paired {geometric_mean(paired):.3f}, first (uncached guard) "
          f"{geometric_mean(firsts):.3f}")
    print(f"total of the medians: raw {total_raw:.1f} ms, skipper {total_skipper:.1f} ms, "
          f"ratio {total_skipper / total_raw:.3f}; first runs' total ratio {total_first:.3f}")
    capped = [name for name, row in results.items() if row["rows"] > args.max_rows]
    if capped:
        print(f"Skipper keeps {args.max_rows} rows (counting all) where raw fetches all: "
              f"{', '.join(capped)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="TPC-H scale factor")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--queries", nargs="+", default=None, metavar="QNN",
                        help="a subset, e.g. q01 q17 (default: all 22)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    queries = load_queries(args.queries)
    database = tpch_database(args.scale)
    results: dict[str, dict[str, float]] = {}
    refused: dict[str, SkipperError] = {}
    with tempfile.TemporaryDirectory(prefix="skipper-bench-tpch-") as workdir, \
            Skipper(CATALOG, database, today=TODAY,
                    audit_log=Path(workdir) / "audit.jsonl") as skipper:
        args.max_rows = skipper.max_rows
        engine: Any = skipper.engine
        # The baseline gets the settings the engine gives its own DuckDB connection.
        config = {"threads": engine.threads, "memory_limit": engine.memory_limit}
        print(f"database {database}; raw DuckDB {duckdb.__version__} with {config}; "
              f"Skipper isolation={engine.isolation}", flush=True)
        with duckdb.connect(str(database), read_only=True, config=config) as raw:
            for name, sql in queries.items():
                try:
                    results[name] = bench_query(sql, raw, skipper, args.repeats)
                except SkipperError as error:
                    refused[name] = error
    report(results, refused, args)


if __name__ == "__main__":
    main()
