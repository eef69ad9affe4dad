"""The catalog planner on the demo: the issue's questions against hand-written SQL, and honesty."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.clock import FixedClock
from skipper.evals.gold import GoldDatabase
from skipper.guard import Guard
from skipper.planner import CatalogPlanner, Plan, SemanticQuery
from tests.gold_results import assert_matches_gold

AS_OF = date(2026, 6, 30)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def planner() -> CatalogPlanner:
    return CatalogPlanner(Catalog.load(ROOT / "catalog"), FixedClock(AS_OF))


@pytest.fixture(scope="module")
def lake(demo_database: Path) -> Any:
    with duckdb.connect(str(demo_database), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def gold_database(demo_database: Path) -> Any:
    """The demo lake for gold SQL, scored the way `skipper eval` scores it."""
    database = GoldDatabase(demo_database)
    yield database
    database.close()


def answer(planner: CatalogPlanner, lake: Any, question: str,
           previous: SemanticQuery | None = None) -> tuple[Plan, list[str], list[tuple[Any, ...]]]:
    plan = planner.plan(question, previous=previous)
    assert plan.status == "ok", plan.message
    assert plan.sql is not None
    Guard(planner.catalog).check(plan.sql)
    cursor = lake.execute(plan.sql)
    columns = [d[0] for d in cursor.description]
    return plan, columns, cursor.fetchall()


# ---- the "done when" questions ------------------------------------------------------

def test_domains_signed_up_today_in_top_100(planner: CatalogPlanner, lake: Any,
                                            gold_database: GoldDatabase) -> None:
    plan, columns, rows = answer(
        planner, lake, "How many domains that signed up today are in the Top 100 by traffic?")
    assert_matches_gold(gold_database, """
        SELECT count(*) FROM domains
        WHERE CAST(signed_up_at AS DATE) = DATE '2026-06-30'
          AND domain_id IN (SELECT domain_id FROM traffic_rank_daily WHERE traffic_rank <= 100
                            AND day = (SELECT max(day) FROM traffic_rank_daily))""", rows)
    summary = planner.summarize(plan, columns, rows, len(rows))
    assert summary == f"{rows[0][0]} domains that signed up today are in the Top 100 by traffic."


def test_top_customers_r2_with_change_then_follow_up(planner: CatalogPlanner, lake: Any,
                                                     gold_database: GoldDatabase) -> None:
    gold = """
        WITH cur AS (SELECT account_id, sum(amount_usd) AS c FROM billing_usage
                     WHERE product = 'r2_storage' AND usage_date > DATE '2026-05-31'
                     GROUP BY account_id),
             prev AS (SELECT account_id, sum(amount_usd) AS c FROM billing_usage
                      WHERE product = 'r2_storage'
                        AND usage_date BETWEEN DATE '2026-05-02' AND DATE '2026-05-31'
                      GROUP BY account_id)
        SELECT a.account_name, {extra} cur.c, prev.c, cur.c - prev.c,
               100.0 * (cur.c - prev.c) / prev.c
        FROM cur JOIN accounts a USING (account_id) LEFT JOIN prev USING (account_id)
        {where}
        ORDER BY cur.c DESC, a.account_name LIMIT 10"""
    plan, columns, rows = answer(
        planner, lake, "Show me the top 10 customers by R2 storage cost in the last 30 days, "
        "and the change versus the previous 30 days")
    assert len(rows) == 10
    assert_matches_gold(gold_database, gold.format(extra="", where=""), rows)
    assert "r2_storage_cost_change" in columns
    summary = planner.summarize(plan, columns, rows, len(rows))
    assert summary.startswith(f"{rows[0][0]} has the highest R2 storage cost in the last 30 days")
    assert "previous period" in summary

    follow, columns, rows = answer(
        planner, lake, "now break it down by region, and ignore internal accounts",
        previous=plan.semantic_query)
    assert "region" in columns
    assert_matches_gold(gold_database,
                        gold.format(extra="a.region,", where="WHERE NOT a.is_internal"), rows)
    assert follow.semantic_query is not None and follow.semantic_query.limit == 10


def test_requests_by_client_country_yesterday(planner: CatalogPlanner, lake: Any,
                                              gold_database: GoldDatabase) -> None:
    plan, _, rows = answer(planner, lake, "requests by client country yesterday")
    assert_matches_gold(gold_database, """
        SELECT client_country, sum(requests * sample_interval) FROM http_requests_sampled
        WHERE day = DATE '2026-06-29' GROUP BY client_country""", rows)
    assert "sample_interval" in (plan.sql or "")


def test_open_p1_tickets_by_plan(planner: CatalogPlanner, lake: Any,
                                 gold_database: GoldDatabase) -> None:
    _, _, rows = answer(planner, lake, "open P1 tickets by plan")
    assert_matches_gold(gold_database, """
        SELECT a.plan, count(*) FROM support_tickets t JOIN accounts a USING (account_id)
        WHERE t.status = 'open' AND t.priority = 'P1' GROUP BY a.plan""", rows)


def test_dns_queries_per_day_last_week(planner: CatalogPlanner, lake: Any,
                                       gold_database: GoldDatabase) -> None:
    _, _, rows = answer(planner, lake, "DNS queries per day last week")
    assert_matches_gold(gold_database, """
        SELECT day, sum(queries) FROM dns_queries_daily
        WHERE day BETWEEN DATE '2026-06-22' AND DATE '2026-06-28' GROUP BY day ORDER BY day""",
                        rows)


def test_enterprise_accounts_in_the_eu(planner: CatalogPlanner, lake: Any,
                                       gold_database: GoldDatabase) -> None:
    plan, columns, rows = answer(planner, lake, "how many enterprise accounts are in the EU?")
    assert_matches_gold(
        gold_database, "SELECT count(*) FROM accounts WHERE plan = 'enterprise' AND region = 'EU' "
                       "AND NOT is_internal", rows)
    summary = planner.summarize(plan, columns, rows, len(rows))
    assert summary.startswith(f"{rows[0][0]} accounts with plan enterprise and region EU")


# ---- honesty ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("question", "unknown"), [
    ("what is the average salary of our employees?", {"salary", "employees"}),
    ("profit by region", {"profit"}),
    ("requests by browser", {"browser"}),
    ("tell me a joke", {"joke"}),
])
def test_unknown_words_are_named_with_suggestions(planner: CatalogPlanner, question: str,
                                                  unknown: set[str]) -> None:
    plan = planner.plan(question)
    assert plan.status == "cannot_answer"
    assert plan.sql is None and plan.semantic_query is None
    assert unknown <= set(plan.unknown_words)
    assert plan.suggestions
    for word in unknown:
        assert word in plan.message


@pytest.mark.parametrize("question", [
    "drop the accounts table", "delete all tickets from yesterday",
    "update the plan of Acme to enterprise", "truncate billing usage",
    "insert a new domain called example.com", "remove the rows of domains",
])
def test_requests_to_change_data_are_refused(planner: CatalogPlanner, question: str) -> None:
    plan = planner.plan(question)
    assert plan.status == "cannot_answer"
    assert plan.sql is None
    assert "only reads data" in plan.message


def test_ambiguous_word_is_not_guessed(planner: CatalogPlanner) -> None:
    plan = planner.plan("accounts by status")  # domain status and ticket status: both one-to-many
    assert plan.status == "cannot_answer"
    plan = planner.plan("spend yesterday last week")
    assert plan.status == "cannot_answer"
    assert "two periods" in plan.message


def test_nearest_meaning_settles_a_shared_word(planner: CatalogPlanner) -> None:
    traffic = planner.plan("requests by country yesterday").semantic_query
    billing = planner.plan("spend by country yesterday").semantic_query
    assert traffic is not None and billing is not None
    assert traffic.breakdowns[0].dimension == "client_country"
    assert billing.breakdowns[0].dimension == "country"


def test_typos_are_corrected_and_reported(planner: CatalogPlanner) -> None:
    plan = planner.plan("reqests by regoin last month")
    assert plan.status == "ok"
    assert plan.semantic_query is not None
    assert plan.semantic_query.metrics == ["requests"]
    assert any("regoin" in c for c in plan.corrections)
    assert "regoin" in plan.message


def test_case_and_plurals(planner: CatalogPlanner) -> None:
    one = planner.plan("TICKETS BY PRIORITY").semantic_query
    two = planner.plan("ticket by priorities").semantic_query
    assert one == two and one is not None


# ---- time grammar ------------------------------------------------------------------------------

@pytest.mark.parametrize(("phrase", "start", "end"), [
    ("today", "2026-06-30", "2026-06-30"),
    ("yesterday", "2026-06-29", "2026-06-29"),
    ("in the last 7 days", "2026-06-24", "2026-06-30"),
    ("over the past 2 weeks", "2026-06-17", "2026-06-30"),
    ("in the last 3 months", "2026-03-31", "2026-06-30"),
    ("this week", "2026-06-29", "2026-06-30"),
    ("this month", "2026-06-01", "2026-06-30"),
    ("this quarter", "2026-04-01", "2026-06-30"),
    ("this year", "2026-01-01", "2026-06-30"),
    ("year to date", "2026-01-01", "2026-06-30"),
    ("last week", "2026-06-22", "2026-06-28"),
    ("last month", "2026-05-01", "2026-05-31"),
    ("last quarter", "2026-01-01", "2026-03-31"),
    ("last year", "2025-01-01", "2025-12-31"),
    ("since 2026-06-01", "2026-06-01", "2026-06-30"),
    ("since May 3", "2026-05-03", "2026-06-30"),
    ("between 2026-05-01 and 2026-05-15", "2026-05-01", "2026-05-15"),
    ("from 1 May 2026 to 2026-05-10", "2026-05-01", "2026-05-10"),
    ("in 2025", "2025-01-01", "2025-12-31"),
    ("in May", "2026-05-01", "2026-05-31"),
    ("on 2026-05-01", "2026-05-01", "2026-05-01"),
])
def test_time_grammar(planner: CatalogPlanner, phrase: str, start: str, end: str) -> None:
    plan = planner.plan(f"spend {phrase}")
    assert plan.status == "ok", plan.message
    query = plan.semantic_query
    assert query is not None and query.time_range is not None
    assert query.time_range.resolve(AS_OF) == (date.fromisoformat(start), date.fromisoformat(end))


def test_today_comes_from_the_clock() -> None:
    catalog = Catalog.load(ROOT / "catalog")
    late = CatalogPlanner(catalog, FixedClock(date(2027, 1, 15))).plan("spend yesterday")
    assert late.sql is not None and "2027-01-14" in late.sql


# ---- follow-ups ------------------------------------------------------------------------------

def test_follow_ups_refine_the_previous_query(planner: CatalogPlanner) -> None:
    first = planner.plan("spend by region last month").semantic_query
    assert first is not None
    by_plan = planner.plan("by plan instead", previous=first).semantic_query
    assert by_plan is not None
    assert [b.dimension for b in by_plan.breakdowns] == ["plan"]
    narrowed = planner.plan("only enterprise and business", previous=by_plan).semantic_query
    assert narrowed is not None
    assert narrowed.filters[0].values == ["enterprise", "business"]
    shorter = planner.plan("what about the last 7 days?", previous=narrowed).semantic_query
    assert shorter is not None and shorter.time_range is not None
    assert shorter.time_range.resolve(AS_OF) == (date(2026, 6, 24), date(2026, 6, 30))
    assert shorter.filters == narrowed.filters
    fewer = planner.plan("remove the plan breakdown", previous=shorter).semantic_query
    assert fewer is not None and fewer.breakdowns == []
    top = planner.plan("top 3", previous=by_plan).semantic_query
    assert top is not None and top.limit == 3


def test_a_new_question_does_not_inherit(planner: CatalogPlanner) -> None:
    first = planner.plan("spend by region last month").semantic_query
    second = planner.plan("tickets by priority", previous=first).semantic_query
    assert second is not None and second.time_range is None
    assert [b.dimension for b in second.breakdowns] == ["priority"]


def test_verified_query_answers_an_exact_match(planner: CatalogPlanner) -> None:
    plan = planner.plan("which products bring the most revenue?")
    assert plan.status == "ok" and plan.verified_query
    assert plan.sql == planner.catalog.verified_queries[1].sql
