"""Plan + compile time per question against the time to execute the compiled SQL.

Usage: python benchmarks/bench_planner.py [--database LAKE.duckdb] [--repeat N]
Builds the scale-1 demo (as of evals/demo.yaml's as_of) in a temporary directory unless
--database is given. Prints, over the answerable questions of evals/demo.yaml, the median and
p95 of planning (understanding + compiling) and of executing, and their ratio.
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skipper.catalog import Catalog  # noqa: E402
from skipper.clock import FixedClock  # noqa: E402
from skipper.planner import CatalogPlanner  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, help="a Town Lake demo file (default: build one)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per question")
    args = parser.parse_args()
    spec = yaml.safe_load((ROOT / "evals" / "demo.yaml").read_text(encoding="utf-8"))
    as_of = spec["as_of"] if isinstance(spec["as_of"], date) else date.fromisoformat(spec["as_of"])
    questions = [c["question"] for c in spec["cases"] if c.get("expect", "answer") == "answer"]
    with tempfile.TemporaryDirectory() as scratch:
        database = args.database
        if database is None:
            from skipper.demo import build_demo

            database = Path(scratch) / "lake.duckdb"
            print(f"building the demo lake as of {as_of} ...", file=sys.stderr)
            build_demo(database, as_of=as_of)
        started = time.perf_counter()
        planner = CatalogPlanner(Catalog.load(ROOT / "catalog"), FixedClock(as_of))
        setup_ms = (time.perf_counter() - started) * 1000
        plan_ms: list[float] = []
        run_ms: list[float] = []
        ratios: list[float] = []
        with duckdb.connect(str(database), read_only=True) as connection:
            for question in questions:
                plan = planner.plan(question)
                if plan.status != "ok" or plan.sql is None:
                    continue
                connection.execute(plan.sql).fetchall()  # warm up
                planning, running = [], []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    plan = planner.plan(question)
                    t1 = time.perf_counter()
                    connection.execute(plan.sql or "").fetchall()
                    t2 = time.perf_counter()
                    planning.append((t1 - t0) * 1000)
                    running.append((t2 - t1) * 1000)
                plan_ms.append(statistics.median(planning))
                run_ms.append(statistics.median(running))
                ratios.append(plan_ms[-1] / run_ms[-1])
    print(f"planner set-up (catalog -> vocabulary, join graph): {setup_ms:.1f} ms")
    print(f"questions: {len(plan_ms)}, {args.repeat} timed runs each")
    print(f"{'':24}{'median':>10}{'p95':>10}")
    print(f"{'plan + compile (ms)':24}{statistics.median(plan_ms):>10.2f}"
          f"{percentile(plan_ms, 0.95):>10.2f}")
    print(f"{'execute (ms)':24}{statistics.median(run_ms):>10.2f}{percentile(run_ms, 0.95):>10.2f}")
    print(f"{'plan / execute ratio':24}{statistics.median(ratios):>10.3f}"
          f"{percentile(ratios, 0.95):>10.3f}")


if __name__ == "__main__":
    main()
