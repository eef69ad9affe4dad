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

from skipper import Skipper  # noqa: E402
from skipper.demo import build_demo  # noqa: E402

AS_OF = date(2026, 6, 30)

QUERIES = {
    "spend_by_plan_region": """
        SELECT a.plan, a.region, sum(b.amount_usd) AS spend
        FROM billing_usage b JOIN accounts a USING (account_id)
        WHERE b.usage_date >= DATE '2026-06-01'
        GROUP BY ALL ORDER BY spend DESC""",
    "requests_by_country_30d": """
        SELECT client_country, sum(requests * sample_interval) AS est_requests
        FROM http_requests_sampled
        WHERE day > DATE '2026-05-31'
        GROUP BY client_country ORDER BY est_requests DESC LIMIT 20""",
    "top_domains_by_traffic": """
        SELECT d.domain_name, t.traffic_rank, t.est_requests
        FROM traffic_rank_daily t JOIN domains d USING (domain_id)
        WHERE t.day = (SELECT max(day) FROM traffic_rank_daily) AND t.traffic_rank <= 100
        ORDER BY t.traffic_rank""",
    "daily_cache_ratio": """
        SELECT day, sum(cached_requests)::DOUBLE / sum(requests) AS cache_ratio
        FROM http_requests_sampled GROUP BY day ORDER BY day""",
    "open_tickets_by_plan": """
        SELECT a.plan, s.priority, count(*) AS tickets
        FROM support_tickets s JOIN accounts a USING (account_id)
        WHERE s.status <> 'solved' GROUP BY ALL ORDER BY ALL""",
    "weekly_spend_window": """
        WITH weekly AS (
          SELECT account_id, date_trunc('week', usage_date) AS week, sum(amount_usd) AS spend
          FROM billing_usage GROUP BY ALL)
        SELECT week, account_id, spend,
               spend - lag(spend) OVER (PARTITION BY account_id ORDER BY week) AS change
        FROM weekly QUALIFY row_number() OVER (PARTITION BY week ORDER BY spend DESC) <= 5
        ORDER BY week, spend DESC""",
}


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
