"""The catalog planner on a catalog it was not written for: a small online shop."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.clock import FixedClock
from skipper.evals.gold import GoldDatabase
from skipper.planner import CatalogPlanner
from tests.gold_results import assert_matches_gold

SHOP = Path(__file__).parent / "fixtures" / "shop"
TODAY = date(2025, 3, 15)  # a Saturday

BUILD = """
CREATE TABLE customers AS
SELECT i AS customer_id, 'Customer ' || i AS full_name,
       ['Lyon', 'Leeds', 'Lagos', 'Lima'][1 + i % 4] AS city,
       CASE WHEN i % 3 = 0 THEN 'business' ELSE 'consumer' END AS kind,
       TIMESTAMP '2024-01-01 09:00:00' + INTERVAL (i * 7) DAY AS joined_at
FROM range(1, 41) t(i);
CREATE TABLE products AS
SELECT i AS product_id, 'Product ' || i AS title,
       ['books', 'games', 'garden'][1 + i % 3] AS category, 5.0 + i * 2.5 AS price
FROM range(1, 13) t(i);
CREATE TABLE orders AS
SELECT i AS order_id, 1 + (i * 7) % 40 AS customer_id,
       TIMESTAMP '2025-03-15 18:00:00' - INTERVAL (i * 11) HOUR AS ordered_at,
       CASE WHEN i % 13 = 0 THEN 'refunded' WHEN i % 4 = 0 THEN 'paid' ELSE 'shipped' END AS status,
       ['web', 'app', 'store'][1 + (i * 5) % 3] AS channel,
       round(10 + (i * 37) % 190 + 0.99, 2) AS total_amount
FROM range(1, 301) t(i);
CREATE TABLE order_items AS
SELECT o.order_id, 1 + (o.order_id * k) % 12 AS product_id,
       CAST(o.ordered_at AS DATE) AS ordered_on, 1 + (o.order_id + k) % 3 AS quantity
FROM orders o, range(1, 3) t(k);
"""


@pytest.fixture(scope="module")
def shop_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(BUILD)
    return path


@pytest.fixture(scope="module")
def shop(shop_database: Path) -> Any:
    with duckdb.connect(str(shop_database), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def gold_database(shop_database: Path) -> Any:
    database = GoldDatabase(shop_database)
    yield database
    database.close()


@pytest.fixture(scope="module")
def planner() -> CatalogPlanner:
    return CatalogPlanner(Catalog.load(SHOP), FixedClock(TODAY))


@pytest.mark.parametrize(("question", "gold_sql"), [
    ("how many orders last week?",
     "SELECT count(*) FROM orders WHERE ordered_at >= DATE '2025-03-03' "
     "AND ordered_at < DATE '2025-03-10'"),
    ("number of purchases in the last 7 days",
     "SELECT count(*) FROM orders WHERE ordered_at >= DATE '2025-03-09'"),
    ("sales by channel this month",
     "SELECT channel, sum(total_amount) FROM orders WHERE status <> 'refunded' "
     "AND ordered_at >= DATE '2025-03-01' GROUP BY channel"),
    ("top 3 buyers by revenue",
     "SELECT c.full_name, sum(o.total_amount) AS r FROM orders o JOIN customers c "
     "USING (customer_id) WHERE o.status <> 'refunded' GROUP BY c.full_name "
     "ORDER BY r DESC, c.full_name LIMIT 3"),
    ("units sold by department in the last 30 days",
     "SELECT p.category, sum(i.quantity) FROM order_items i JOIN products p USING (product_id) "
     "WHERE i.ordered_on BETWEEN DATE '2025-02-14' AND DATE '2025-03-15' GROUP BY p.category"),
    ("refunded orders by town",
     "SELECT c.city, count(*) FROM orders o JOIN customers c USING (customer_id) "
     "WHERE o.status = 'refunded' GROUP BY c.city"),
    ("orders from business customers yesterday",
     "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
     "WHERE c.kind = 'business' AND CAST(o.ordered_at AS DATE) = DATE '2025-03-14'"),
    ("revenue from big spenders per week this month",
     "SELECT CAST(date_trunc('week', o.ordered_at) AS DATE) AS w, sum(o.total_amount) "
     "FROM orders o WHERE o.status <> 'refunded' AND o.ordered_at >= DATE '2025-03-01' "
     "AND o.customer_id IN (SELECT customer_id FROM orders WHERE status <> 'refunded' "
     "GROUP BY customer_id HAVING sum(total_amount) >= 400) GROUP BY w ORDER BY w"),
    ("orders by channel excluding the app, in the last 30 days",
     "SELECT channel, count(*) FROM orders WHERE channel <> 'app' "
     "AND ordered_at >= DATE '2025-02-14' GROUP BY channel"),
    ("games units sold yesterday",
     "SELECT sum(i.quantity) FROM order_items i JOIN products p USING (product_id) "
     "WHERE p.category = 'games' AND i.ordered_on = DATE '2025-03-14'"),
    ("which city has the most customers?",
     "SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY n DESC, city LIMIT 1"),
])
def test_shop_questions(planner: CatalogPlanner, shop: Any, gold_database: GoldDatabase,
                        question: str, gold_sql: str) -> None:
    plan = planner.plan(question)
    assert plan.status == "ok", plan.message
    assert plan.sql is not None
    cursor = shop.execute(plan.sql)
    columns = [c[0] for c in cursor.description]
    planned = cursor.fetchall()
    gold = assert_matches_gold(gold_database, gold_sql, planned, columns=columns,
                               context=f"{question}\n{plan.sql}")
    assert gold.rows, "the gold SQL returns no rows, so it proves little"
    assert planner.summarize(plan, columns, planned, len(planned)).endswith(".")


@pytest.mark.parametrize("question", [
    "average salary of employees",
    "revenue by warehouse",
    "delete all orders",
    "how many requests yesterday",  # the demo's vocabulary means nothing here
])
def test_shop_refuses_what_it_cannot_map(planner: CatalogPlanner, question: str) -> None:
    plan = planner.plan(question)
    assert plan.status == "cannot_answer", plan.sql
    assert plan.sql is None


def test_shop_follow_up_that_would_fan_out_is_refused(planner: CatalogPlanner) -> None:
    first = planner.plan("revenue by channel last month")
    assert first.status == "ok"
    by_city = planner.plan("by city instead", previous=first.semantic_query)
    assert by_city.status == "ok"
    assert by_city.semantic_query is not None
    assert [b.dimension for b in by_city.semantic_query.breakdowns] == ["city"]
    by_category = planner.plan("by category instead", previous=first.semantic_query)
    assert by_category.status == "cannot_answer"
    assert "more than once" in by_category.message
