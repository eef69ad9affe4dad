"""Skipper's SQL path (`sk.sql`) against raw DuckDB on the same analytic queries, same run.

    python benchmarks/bench_sql.py [--scales 1 10] [--repeats 15] [--workdir DIR]

For each scale it builds (or reuses) the demo lake, then runs every query alternately through a
plain read-only DuckDB connection (fetching Arrow, the baseline) and through `Skipper.sql`
(guard + sandboxed worker process + annotation + audit append). It prints per-query medians and
the median of the per-query ratios: "ratio" is the median Skipper time over the median raw time,
"paired" the median of each Skipper run over the raw run just before it (steadier when the
machine's speed drifts). Machines here are noisy: read medians and ratios only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from demo_queries import ANALYTIC_QUERIES as QUERIES  # noqa: E402
from demo_queries import AS_OF, demo_lake  # noqa: E402

from skipper import Skipper  # noqa: E402
from skipper.app import AUDIT_FSYNC_WINDOW_S  # noqa: E402
from skipper.audit import AuditLog  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_scale(scale: int, args: argparse.Namespace, workdir: Path) -> list[dict[str, float]]:
    database = demo_lake(workdir, scale)
    rows = []
    baseline = database
    if args.isolation == "thread":
        # DuckDB opens a file once per process: the in-process sandbox and a plain connection
        # with other settings cannot share it, so the baseline reads an identical copy.
        baseline = workdir / f"town_lake_s{scale}.baseline.duckdb"
        if not baseline.exists():
            shutil.copyfile(database, baseline)
    raw = duckdb.connect(str(baseline), read_only=True)
    audit = AuditLog(workdir / f"bench_s{scale}.audit.jsonl", fsync=args.fsync != "off",
                     fsync_window_s=AUDIT_FSYNC_WINDOW_S if args.fsync == "group" else 0.0)
    with Skipper(ROOT / "catalog", database, today=AS_OF, audit_log=audit,
                 isolation=args.isolation) as skipper:
        for name, sql in QUERIES.items():
            raw.sql(sql).to_arrow_table()  # warm both sides once
            skipper.sql(sql)
            raw_times, skipper_times = [], []
            parts: dict[str, list[float]] = {}
            for _ in range(args.repeats):
                started = time.perf_counter()
                raw.sql(sql).to_arrow_table()
                raw_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                answer = skipper.sql(sql)
                skipper_times.append(time.perf_counter() - started)
                for part in ("guard_ms", "execute_ms", "annotate_ms", "audit_ms"):
                    parts.setdefault(part, []).append(answer.timings[part])
            row = {"raw": median_ms(raw_times), "skipper": median_ms(skipper_times),
                   # Each Skipper run against the raw run just before it: drifts in the
                   # machine's speed during the 2 x repeats runs cancel out.
                   "paired": statistics.median(s / r for s, r in zip(skipper_times, raw_times,
                                                                        strict=True))}
            row.update({part: statistics.median(values) for part, values in parts.items()})
            rows.append((name, row))
    raw.close()
    return rows  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--isolation", choices=["process", "thread"], default="process",
                        help="engine isolation (default: the worker process Skipper uses)")
    parser.add_argument("--fsync", choices=["group", "each", "off"], default="group",
                        help="audit durability: Skipper's default group commit, an fsync per "
                             "record, or none (to show what durability costs)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="skipper-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"isolation={args.isolation} audit fsync={args.fsync}")
    for scale in args.scales:
        rows = bench_scale(scale, args, workdir)
        print(f"\nscale {scale}: median of {args.repeats} runs per query (ms)")
        print(f"{'query':26} {'raw':>8} {'skipper':>8} {'ratio':>6} {'paired':>6}   "
              f"{'guard':>6} {'execute':>8} {'annotate':>8} {'audit':>6}")
        ratios, paired = [], []
        for name, row in rows:  # type: ignore[misc]
            ratio = row["skipper"] / row["raw"]
            ratios.append(ratio)
            paired.append(row["paired"])
            print(f"{name:26} {row['raw']:8.2f} {row['skipper']:8.2f} {ratio:6.2f} "
                  f"{row['paired']:6.2f}   {row['guard_ms']:6.2f} {row['execute_ms']:8.2f} "
                  f"{row['annotate_ms']:8.2f} {row['audit_ms']:6.2f}")
        print(f"{'median ratio':26} {'':8} {'':8} {statistics.median(ratios):6.2f} "
              f"{statistics.median(paired):6.2f}")


if __name__ == "__main__":
    main()
