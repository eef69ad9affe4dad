"""Audit log append throughput: fsync on and off, one writer and several concurrent processes.

    python benchmarks/bench_audit.py [--runs 5] [--records 2000] [--writers 1 4]

Each run starts the writer processes, lets them all begin at once, and times from the start
signal until the last one finishes; throughput is records per second over that span. The
records look like the ones `sk.sql` writes (tables, columns, freshness, hashes). The table
shows the median of the runs (and the spread); the log is verified after every run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skipper.audit import AuditLog, hash_sql  # noqa: E402

SQL = ("SELECT a.plan, sum(b.amount_usd) AS spend FROM billing_usage b JOIN accounts a "
       "USING (account_id) WHERE b.usage_date >= DATE '2026-06-01' GROUP BY ALL "
       "ORDER BY spend DESC")
FIELDS: dict[str, Any] = {
    "user": "ana", "groups": ["analysts"], "question": "Spend by plan this month?",
    "planner": "sql", "sql": SQL, "sql_hash": hash_sql(SQL), "catalog_version": "c" * 64,
    "tables": ["billing_usage", "accounts"],
    "columns": {"billing_usage": ["usage_date", "account_id", "amount_usd"],
                "accounts": ["account_id", "plan"]},
    "freshness": {"billing_usage": {"table": "billing_usage", "method": "column",
                                    "last": "2026-06-29", "lag_seconds": 172799, "age": "1 day",
                                    "sla": "1d", "stale": False,
                                    "measured_at": "2026-06-30T23:59:59"}},
    "row_count": 4, "truncated": False, "result_hash": "r" * 64, "duration_ms": 12.345,
    "outcome": "ok",
}


def writer(path: str, count: int, fsync: bool, start: Any, done: Any) -> None:
    log = AuditLog(path, fsync=fsync)
    start.wait()
    for _ in range(count):
        log.append(**FIELDS)
    done.put(time.perf_counter())


def one_run(directory: Path, records: int, writers: int, fsync: bool) -> float:
    """Records per second for one run; the log must verify afterwards."""
    context = multiprocessing.get_context("spawn")
    path = directory / f"audit-{writers}-{fsync}-{time.monotonic_ns()}.jsonl"
    start, done = context.Event(), context.Queue()
    share = records // writers
    processes = [context.Process(target=writer, args=(str(path), share, fsync, start, done))
                 for _ in range(writers)]
    for process in processes:
        process.start()
    time.sleep(0.5)  # let every writer import and reach the start line
    began = time.perf_counter()
    start.set()
    finished = max(done.get(timeout=600) for _ in processes)
    for process in processes:
        process.join()
    report = AuditLog(path).verify()
    if not report.ok or report.count != share * writers:
        raise SystemExit(f"verify failed after the run: {report.problems[:3]}")
    return share * writers / (finished - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=2000, help="records per run, all writers")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="skipper-audit-bench-") as workdir:
        for fsync in (True, False):
            for writers in args.writers:
                rates = [one_run(Path(workdir), args.records, writers, fsync)
                         for _ in range(args.runs)]
                rows.append((fsync, writers, rates))
                print(f"fsync={'on ' if fsync else 'off'} writers={writers}: "
                      f"{statistics.median(rates):,.0f} records/s", flush=True)
    print(f"\naudit append throughput, {args.records} records per run, median of {args.runs} "
          "runs")
    print(f"{'fsync':<7}{'writers':>8}{'records/s':>12}{'min':>10}{'max':>10}{'us/record':>11}")
    for fsync, writers, rates in rows:
        median = statistics.median(rates)
        print(f"{'on' if fsync else 'off':<7}{writers:>8}{median:>12,.0f}{min(rates):>10,.0f}"
              f"{max(rates):>10,.0f}{1e6 / median:>11,.0f}")


if __name__ == "__main__":
    main()
