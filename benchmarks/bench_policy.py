"""What governance costs: the policy rewrite's time as a ratio to execution, and the rewritten
query's execution against the raw one.

    python benchmarks/bench_policy.py [--scale 1] [--repeats 15] [--workdir DIR]

For each (user, query) on the Town Lake demo it measures medians of:
``guard``    one full check as that user, cache off (parse, every rule, the policy rewrite);
``open``     the same check as ``ada`` (admin: nothing to rewrite), so guard - open is the
             policy's own cost (catalog view, predicate check, subquery splice);
``exec``     the guarded (rewritten) SQL on a read-only DuckDB connection, fetched as Arrow;
``raw``      the hand-written equivalent on raw DuckDB (the mask or filter written by hand).
It prints per-query medians, the median of (guard - open) / exec and of exec / raw.
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

EU = "account_id IN (SELECT account_id FROM accounts WHERE region = 'EU')"

CASES: list[tuple[str, str, str]] = [
    ("ana", "SELECT plan, count(*) AS n FROM accounts GROUP BY plan",
     "SELECT plan, count(*) AS n FROM accounts GROUP BY plan"),
    ("ana", "SELECT * FROM accounts",
     "SELECT * REPLACE ('[redacted]' AS email) FROM accounts"),
    ("ana", "SELECT a.plan, sum(h.requests * h.sample_interval) AS r FROM http_requests_sampled h "
            "JOIN domains d USING (domain_id) JOIN accounts a USING (account_id) GROUP BY a.plan",
     "SELECT a.plan, sum(h.requests * h.sample_interval) AS r FROM http_requests_sampled h "
     "JOIN domains d USING (domain_id) JOIN accounts a USING (account_id) GROUP BY a.plan"),
    ("finn", "SELECT a.plan, sum(b.amount_usd) AS usd FROM billing_usage b JOIN accounts a "
             "USING (account_id) GROUP BY a.plan",
     "SELECT a.plan, sum(b.amount_usd) AS usd FROM billing_usage b JOIN accounts a "
     "USING (account_id) GROUP BY a.plan"),
    ("sue", "SELECT count(*) AS n FROM accounts", "SELECT count(*) AS n FROM accounts "
                                                 "WHERE region = 'EU'"),
    ("sue", "SELECT priority, count(*) AS n FROM support_tickets GROUP BY priority",
     f"SELECT priority, count(*) AS n FROM support_tickets WHERE {EU} GROUP BY priority"),
    ("sue", "SELECT d.status, count(*) AS n FROM domains d JOIN support_tickets t "
            "USING (account_id) GROUP BY d.status",
     f"SELECT d.status, count(*) AS n FROM (FROM domains WHERE {EU}) d JOIN "
     f"(FROM support_tickets WHERE {EU}) t USING (account_id) GROUP BY d.status"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    database = demo_lake(args.workdir or Path(tempfile.mkdtemp(prefix="skipper-bench-policy-")),
                         args.scale)
    catalog = Catalog.load(ROOT / "catalog")
    guard = Guard(catalog, database=database.stem, cache_size=0)
    raw = duckdb.connect(str(database), read_only=True)
    policy_ratios, exec_ratios = [], []
    print(f"scale {args.scale}, {args.repeats} repeats, medians in ms")
    print(f"{'user':5} {'guard':>7} {'open':>7} {'policy':>7} {'exec':>8} {'raw':>8} "
          f"{'pol/exec':>8} {'exec/raw':>8}  query")
    for user, sql, by_hand in CASES:
        rewritten = guard.check(sql, user=user).sql
        guarded_ms = median_ms(lambda s=sql, u=user: guard.check(s, user=u), args.repeats)
        open_ms = median_ms(lambda s=sql: guard.check(s, user="ada"), args.repeats)
        exec_ms = median_ms(lambda s=rewritten: raw.sql(s).to_arrow_table(), args.repeats)
        raw_ms = median_ms(lambda s=by_hand: raw.sql(s).to_arrow_table(), args.repeats)
        policy_ms = max(guarded_ms - open_ms, 0.0)
        policy_ratios.append(policy_ms / exec_ms)
        exec_ratios.append(exec_ms / raw_ms)
        print(f"{user:5} {guarded_ms:7.2f} {open_ms:7.2f} {policy_ms:7.2f} {exec_ms:8.2f} "
              f"{raw_ms:8.2f} {policy_ratios[-1]:8.2f} {exec_ratios[-1]:8.2f}  {sql[:60]}")
    print(f"median policy rewrite / execution: {statistics.median(policy_ratios):.2f}")
    print(f"median rewritten execution / hand-written: {statistics.median(exec_ratios):.2f}")


if __name__ == "__main__":
    main()
