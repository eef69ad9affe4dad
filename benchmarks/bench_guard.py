"""The guard's latency on the read-query corpus, against raw DuckDB running the same query.

    python benchmarks/bench_guard.py [--scale 1] [--repeats 15] [--workdir DIR]

For each query of tests/corpus/*.sql it measures, on the Town Lake demo at the given scale:
``guard``  one full check (parse, every rule, SQL out) with the cache off;
``cached`` a check the LRU cache answers;
``duckdb`` the query on a plain read-only DuckDB connection, fetched as Arrow.
It prints per-query medians and the median of the per-query ratios guard / duckdb. Machines
here are shared and noisy: read medians, not single runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from demo_queries import demo_lake  # noqa: E402
from timing import median_ms  # noqa: E402

from skipper.catalog import Catalog  # noqa: E402
from skipper.guard import Guard  # noqa: E402


def corpus() -> list[tuple[str, str]]:
    """(title, sql) of every case in tests/corpus/*.sql (paragraphs opened by ``-- title:``)."""
    cases: list[tuple[str, str]] = []
    for path in sorted((ROOT / "tests" / "corpus").glob("*.sql")):
        title, lines = "", list[str]()
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            if line.startswith("-- title:"):
                title, lines = line.removeprefix("-- title:").strip(), []
            elif title and not line.strip():
                if lines:
                    cases.append((title, "\n".join(lines)))
                title, lines = "", []
            elif title and not line.startswith("-- "):
                lines.append(line)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    database = demo_lake(args.workdir or Path(tempfile.gettempdir()) / "skipper-bench",
                         args.scale)

    catalog = Catalog.load(ROOT / "catalog")
    uncached = Guard(catalog, database=database.stem, cache_size=0)
    cached = Guard(catalog, database=database.stem)
    raw = duckdb.connect(str(database), read_only=True)
    uncached.check("SELECT 1")  # learn the function allowlist once, outside the timings

    rows = []
    for title, sql in corpus():
        guarded_sql = cached.check(sql).sql
        raw.sql(sql).to_arrow_table()  # warm DuckDB once
        guard_ms = median_ms(lambda sql=sql: uncached.check(sql), args.repeats)
        cached_ms = median_ms(lambda sql=sql: cached.check(sql).sql, args.repeats)
        duckdb_ms = median_ms(
            lambda sql=guarded_sql: raw.sql(sql).to_arrow_table(), max(3, args.repeats // 3)
        )
        rows.append((title, guard_ms, cached_ms, duckdb_ms))

    width = max(len(title) for title, *_ in rows)
    print(f"scale {args.scale}, {len(rows)} corpus queries, median of {args.repeats} runs each")
    print(f"{'query':<{width}}  {'guard ms':>8}  {'cached':>7}  {'duckdb ms':>9}  {'ratio':>6}")
    for title, guard_ms, cached_ms, duckdb_ms in rows:
        print(f"{title:<{width}}  {guard_ms:8.2f}  {cached_ms:7.3f}  {duckdb_ms:9.2f}  "
              f"{guard_ms / duckdb_ms:6.3f}")
    guard_all = [r[1] for r in rows]
    print()
    print(f"guard median {statistics.median(guard_all):.2f} ms "
          f"(p90 {statistics.quantiles(guard_all, n=10)[-1]:.2f} ms, max {max(guard_all):.2f} ms); "
          f"cached median {statistics.median(r[2] for r in rows):.3f} ms")
    print(f"duckdb median {statistics.median(r[3] for r in rows):.2f} ms")
    print(f"median ratio guard / duckdb: {statistics.median(r[1] / r[3] for r in rows):.3f}")


if __name__ == "__main__":
    main()
