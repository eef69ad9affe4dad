"""The Town Lake demo as the benchmarks use it: one lake per scale, built on first use, and the
analytic queries they time against raw DuckDB."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from skipper.demo import build_demo

AS_OF = date(2026, 6, 30)


def demo_lake(workdir: Path, scale: int) -> Path:
    """The demo lake at ``scale`` in ``workdir`` (every benchmark finds the same file there),
    built now if it is missing."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / f"town_lake_s{scale}.duckdb"
    if not database.exists():
        started = time.perf_counter()
        build_demo(database, as_of=AS_OF, scale=scale)
        print(f"built scale {scale} in {time.perf_counter() - started:.1f}s", flush=True)
    return database


ANALYTIC_QUERIES = {
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
