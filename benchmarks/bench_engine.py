"""The DuckDB engine's overhead: `DuckDBEngine.execute` against raw DuckDB, same query, same run.

    python benchmarks/bench_engine.py [--scales 1 10] [--repeats 21] [--workdir DIR]

For each scale it builds (or reuses) the Town Lake demo, then runs every query, in rotating
order, through a plain read-only DuckDB connection (fetching Arrow: the baseline), through the
engine with ``isolation="process"`` (sandboxed worker process, Arrow IPC over a socket) and with
``isolation="thread"`` (same sandbox, in this process). It prints per-query medians, the median
ratio to raw and the absolute overhead per query. Machines here are noisy: read medians only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from demo_queries import ANALYTIC_QUERIES, demo_lake  # noqa: E402

from skipper.engine.duckdb import DuckDBEngine  # noqa: E402

MAX_ROWS = 1000

QUERIES = {
    "tiny_lookup": "SELECT plan, region FROM accounts WHERE account_id = 42",
    **ANALYTIC_QUERIES,
    "wide_rows_capped": """
        SELECT d.*, a.plan, a.region FROM domains d JOIN accounts a USING (account_id)
        ORDER BY d.domain_id""",
}


def timed(run: Callable[[str], object], sql: str) -> float:
    started = time.perf_counter()
    run(sql)
    return time.perf_counter() - started


def bench_scale(scale: int, repeats: int, workdir: Path) -> None:
    database = demo_lake(workdir, scale)
    raw = duckdb.connect(str(database), read_only=True, config={"threads": 2})
    started = time.perf_counter()
    process = DuckDBEngine(database, isolation="process")
    process.execute("SELECT 1")
    startup_ms = (time.perf_counter() - started) * 1000
    # DuckDB shares one instance per file within a process, and the baseline opened this one
    # with other settings: the in-process engine reads an identical copy.
    copy = workdir / f"town_lake_s{scale}.thread-copy.duckdb"
    shutil.copyfile(database, copy)
    thread = DuckDBEngine(copy, isolation="thread")
    runners: dict[str, Callable[[str], object]] = {
        "raw": lambda sql: raw.sql(sql).to_arrow_table(),
        "process": lambda sql: process.execute(sql, max_rows=MAX_ROWS, timeout_s=30),
        "thread": lambda sql: thread.execute(sql, max_rows=MAX_ROWS, timeout_s=30),
    }
    names = list(runners)
    samples: dict[tuple[str, str], list[float]] = {}
    for sql in QUERIES.values():
        for name in names:
            runners[name](sql)  # warm caches on every side once
    for repeat in range(repeats):
        for query, sql in QUERIES.items():
            order = names[repeat % 3:] + names[:repeat % 3]
            for name in order:
                samples.setdefault((query, name), []).append(timed(runners[name], sql))
    process.close()
    thread.close()
    raw.close()
    copy.unlink()

    print(f"\nscale {scale} ({database.stat().st_size / 1e6:.0f} MB), {repeats} repeats, "
          f"max_rows={MAX_ROWS}; worker start-up {startup_ms:.0f} ms")
    print(f"{'query':<22}{'raw ms':>9}{'process ms':>12}{'ratio':>7}{'+ms':>7}"
          f"{'thread ms':>11}{'ratio':>7}")
    ratios: dict[str, list[float]] = {"process": [], "thread": []}
    overheads: list[float] = []
    for query in QUERIES:
        raw_ms = statistics.median(samples[(query, "raw")]) * 1000
        proc_ms = statistics.median(samples[(query, "process")]) * 1000
        thr_ms = statistics.median(samples[(query, "thread")]) * 1000
        ratios["process"].append(proc_ms / raw_ms)
        ratios["thread"].append(thr_ms / raw_ms)
        overheads.append(proc_ms - raw_ms)
        print(f"{query:<22}{raw_ms:>9.2f}{proc_ms:>12.2f}{proc_ms / raw_ms:>7.2f}"
              f"{proc_ms - raw_ms:>7.2f}{thr_ms:>11.2f}{thr_ms / raw_ms:>7.2f}")
    print(f"median ratio to raw: process {statistics.median(ratios['process']):.2f}, "
          f"thread {statistics.median(ratios['thread']):.2f}; "
          f"median process overhead {statistics.median(overheads):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where demo lakes are built and kept (default: a temp dir)")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        for scale in args.scales:
            bench_scale(scale, args.repeats, args.workdir)
        return
    with tempfile.TemporaryDirectory(prefix="skipper-bench-") as workdir:
        for scale in args.scales:
            bench_scale(scale, args.repeats, Path(workdir))


if __name__ == "__main__":
    main()
