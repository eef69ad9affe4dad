"""What the engine's second wall costs: the same guarded TPC-H query through the same engine,
with the binder check (``allowed=``) and without it, alternating in one run.

    python benchmarks/bench_wall.py [--scale 0.1] [--repeats 15] [--isolation process]

"cached": the same text each time (the worker keeps each text's bound relations: the database
is read-only, so a text binds the same way for the worker's life). "first": a new text each time
(a trailing comment), so every run binds; the run without the wall gets the same new texts, so
both sides parse alike. Printed per query: medians and the ratio with/without; then geometric
means over the 22 queries. The data is bench_tpch.py's (tpchgen-cli, generated once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tpch import CATALOG, TODAY, geometric_mean, load_queries, tpch_database  # noqa: E402

from skipper import Skipper  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--isolation", choices=("process", "thread"), default="process")
    parser.add_argument("--queries", nargs="+", metavar="QNN")
    args = parser.parse_args()
    database = tpch_database(args.scale)
    queries = load_queries(args.queries)
    with tempfile.TemporaryDirectory() as scratch, Skipper(
            CATALOG, database, today=TODAY, audit_log=Path(scratch) / "audit.jsonl",
            isolation=args.isolation) as sk:
        engine = sk.engine
        print(f"{'query':6} {'cached: off':>11} {'on':>8} {'ratio':>6}   "
              f"{'first: off':>10} {'on':>8} {'ratio':>6}")
        cached_ratios, first_ratios = [], []
        serial = 0
        for name, text in queries.items():
            guarded = sk.guard.check(text)
            sql, allowed = guarded.sql, guarded.allowed
            for _ in range(2):  # warm both paths
                engine.execute(sql, max_rows=sk.max_rows, allowed=allowed)
                engine.execute(sql, max_rows=sk.max_rows)
            on, off, first_on, first_off = [], [], [], []
            for _ in range(args.repeats):
                for runs, kwargs in ((off, {}), (on, {"allowed": allowed})):
                    started = time.perf_counter()
                    engine.execute(sql, max_rows=sk.max_rows, **kwargs)
                    runs.append(time.perf_counter() - started)
                for runs, kwargs in ((first_off, {}), (first_on, {"allowed": allowed})):
                    serial += 1
                    fresh = f"{sql}\n-- {serial}"
                    started = time.perf_counter()
                    engine.execute(fresh, max_rows=sk.max_rows, **kwargs)
                    runs.append(time.perf_counter() - started)
            medians = [statistics.median(r) * 1000 for r in (off, on, first_off, first_on)]
            cached_ratios.append(medians[1] / medians[0])
            first_ratios.append(medians[3] / medians[2])
            print(f"{name:6} {medians[0]:11.2f} {medians[1]:8.2f} {cached_ratios[-1]:6.3f}   "
                  f"{medians[2]:10.2f} {medians[3]:8.2f} {first_ratios[-1]:6.3f}")
        print(f"geometric mean of with/without the wall over {len(queries)} queries: "
              f"cached {geometric_mean(cached_ratios):.3f}, "
              f"first bind {geometric_mean(first_ratios):.3f}")


if __name__ == "__main__":
    main()
