"""Skipper's SQL path (`sk.sql`) against raw DuckDB on the same analytic queries, same run.

    python benchmarks/bench_sql.py [--scales 1 10] [--repeats 15] [--workdir DIR]

For each scale it builds (or reuses) the demo lake, then runs every query alternately through a
plain read-only DuckDB connection (fetching Arrow, the baseline) and through `Skipper.sql`
(guard + sandboxed worker process + annotation + audit append). It prints per-query medians and
the median of the per-query ratios. Machines here are noisy: read medians and ratios only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from demo_queries import ANALYTIC_QUERIES as QUERIES  # noqa: E402

from skipper import Skipper  # noqa: E402
from skipper.demo import build_demo  # noqa: E402

AS_OF = date(2026, 6, 30)

def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_scale(scale: int, repeats: int, workdir: Path) -> list[tuple[str, float, float]]:
    database = workdir / f"town_lake_s{scale}.duckdb"
    if not database.exists():
        started = time.perf_counter()
        build_demo(database, as_of=AS_OF, scale=scale)
        print(f"built scale {scale} in {time.perf_counter() - started:.1f}s", flush=True)
    rows = []
    raw = duckdb.connect(str(database), read_only=True)
    with Skipper(ROOT / "catalog", database, today=AS_OF,
                 audit_log=workdir / f"bench_s{scale}.audit.jsonl") as skipper:
        for name, sql in QUERIES.items():
            raw.execute(sql).to_arrow_table()  # warm both sides once
            skipper.sql(sql)
            raw_times, skipper_times = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                raw.execute(sql).to_arrow_table()
                raw_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                skipper.sql(sql)
                skipper_times.append(time.perf_counter() - started)
            rows.append((name, median_ms(raw_times), median_ms(skipper_times)))
    raw.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="skipper-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for scale in args.scales:
        rows = bench_scale(scale, args.repeats, workdir)
        print(f"\nscale {scale}: median of {args.repeats} runs per query")
        print(f"{'query':28} {'raw ms':>9} {'skipper ms':>11} {'ratio':>7}")
        ratios = []
        for name, raw_ms, skipper_ms in rows:
            ratios.append(skipper_ms / raw_ms)
            print(f"{name:28} {raw_ms:9.2f} {skipper_ms:11.2f} {skipper_ms / raw_ms:7.2f}")
        print(f"{'median ratio':28} {'':9} {'':11} {statistics.median(ratios):7.2f}")


if __name__ == "__main__":
    main()
