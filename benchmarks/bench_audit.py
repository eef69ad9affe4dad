"""Audit log append throughput and latency: fsync on and off, one or several writers, warm and cold.

    python benchmarks/bench_audit.py [--runs 5] [--records 2000] [--writers 1 4] [--samples 300]
                                     [--no-throughput]

Throughput: each run starts the writer processes, lets them all begin at once, and times from
the start signal until the last one finishes; throughput is records per second over that span.
The records look like the ones `sk.sql` writes (tables, columns, freshness, hashes). The table
shows the median of the runs (and the spread); the log is verified after every run.

Latency: in one process, with the group commit `sk.sql` uses, the median time of one
``append``, ``prepare`` and ``commit``, warm (calls back to back) and cold (after a 4 ms sleep
before each timed call: the state the process is in when a query's result arrives from the
engine worker, its caches gone cold while it waited).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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
#: What ``sk.sql`` knows before the result arrives, and what only the result tells.
OUTCOME: dict[str, Any] = {key: FIELDS[key]
                           for key in ("row_count", "truncated", "result_hash", "duration_ms")}
PREPARED = {key: value for key, value in FIELDS.items() if key not in OUTCOME}
#: The group-commit window `Skipper` opens its log with (skipper.app.AUDIT_FSYNC_WINDOW_S).
GROUP_COMMIT_WINDOW_S = 0.05
#: Long enough for an idle vCPU to halt and the caches to go cold, as while waiting on DuckDB.
COLD_SLEEP_S = 0.004


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


def latency(directory: Path, samples: int) -> dict[str, tuple[float, float]]:
    """Median microseconds of each step, warm and cold; the log must verify afterwards.

    Warm: each step called back to back. Cold: the steps take turns, each after a sleep, so
    all of them meet the machine in the same state. A commit's draft is prepared before the
    sleep, as ``sk.sql`` prepares it before it waits for the engine."""
    log = AuditLog(directory / "latency.jsonl", fsync_window_s=GROUP_COMMIT_WINDOW_S)
    drafts: list[Any] = []
    steps: dict[str, Callable[[], object]] = {
        "append": lambda: log.append(**FIELDS),
        "prepare": lambda: log.prepare(**PREPARED),
        "commit": lambda: log.commit(drafts.pop(), **OUTCOME),
    }
    warm: dict[str, list[float]] = {name: [] for name in steps}
    cold: dict[str, list[float]] = {name: [] for name in steps}
    for name, step in steps.items():
        if name == "commit":
            drafts.extend(log.prepare(**PREPARED) for _ in range(samples + 20))
        for n in range(samples + 20):  # the first calls warm the code and the file up
            began = time.perf_counter()
            step()
            if n >= 20:
                warm[name].append((time.perf_counter() - began) * 1e6)
    for _ in range(samples):
        for name, step in steps.items():
            if name == "commit":
                drafts.append(log.prepare(**PREPARED))
            time.sleep(COLD_SLEEP_S)
            began = time.perf_counter()
            step()
            cold[name].append((time.perf_counter() - began) * 1e6)
    log.close()
    report = log.verify()
    if not report.ok:
        raise SystemExit(f"verify failed after the latency run: {report.problems[:3]}")
    return {name: (statistics.median(warm[name]), statistics.median(cold[name]))
            for name in steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=2000, help="records per run, all writers")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--samples", type=int, default=300,
                        help="latency samples per step, warm and cold each")
    parser.add_argument("--no-throughput", action="store_true", help="measure latency only")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="skipper-audit-bench-") as workdir:
        medians = latency(Path(workdir), args.samples)
        for fsync in () if args.no_throughput else (True, False):
            for writers in args.writers:
                rates = [one_run(Path(workdir), args.records, writers, fsync)
                         for _ in range(args.runs)]
                rows.append((fsync, writers, rates))
                print(f"fsync={'on ' if fsync else 'off'} writers={writers}: "
                      f"{statistics.median(rates):,.0f} records/s", flush=True)
    print(f"\naudit latency in one process (group commit {GROUP_COMMIT_WINDOW_S * 1000:g} ms), "
          f"median of {args.samples} calls each, cold = after a "
          f"{COLD_SLEEP_S * 1000:g} ms sleep")
    print(f"{'step':<9}{'warm us':>9}{'cold us':>9}")
    for name, (warm, cold) in medians.items():
        print(f"{name:<9}{warm:>9,.0f}{cold:>9,.0f}")
    if not rows:
        return
    print(f"\naudit append throughput, {args.records} records per run, median of {args.runs} "
          "runs")
    print(f"{'fsync':<7}{'writers':>8}{'records/s':>12}{'min':>10}{'max':>10}{'us/record':>11}")
    for fsync, writers, rates in rows:
        median = statistics.median(rates)
        print(f"{'on' if fsync else 'off':<7}{writers:>8}{median:>12,.0f}{min(rates):>10,.0f}"
              f"{max(rates):>10,.0f}{1e6 / median:>11,.0f}")


if __name__ == "__main__":
    main()
