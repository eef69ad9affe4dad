"""The catalog planner reads each word in its role, on a catalog it was not written for.

Every wrong-answer class of issue 12 is pinned here on ``tests/fixtures/desk``: each question
either gets the right rows (checked against hand-written gold SQL) or is declined — never a
confident answer to a different question.
"""

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

DESK = Path(__file__).parent / "fixtures" / "desk"
TODAY = date(2025, 9, 15)  # a Monday

BUILD = """
CREATE TABLE accounts AS
SELECT i AS account_id, 'Account ' || i AS account_name,
       ['free', 'pro', 'enterprise'][1 + i % 3] AS plan,
       ['FR', 'BR', 'US', 'DE', 'JP', 'CH'][1 + i % 6] AS country,
       ['Paris', 'São Paulo', 'New York', 'Berlin', 'Tokyo', 'Zürich'][1 + i % 6] AS city,
       i % 7 = 0 AS is_internal,
       TIMESTAMP '2024-01-01 09:00:00' + INTERVAL (i * 9) DAY AS created_at
FROM range(1, 61) t(i);
CREATE TABLE tickets AS
SELECT i AS ticket_id, 1 + (i * 7) % 60 AS account_id,
       TIMESTAMP '2025-09-15 08:00:00' - INTERVAL (i * 5) HOUR AS opened_at,
       ['open', 'pending', 'solved'][1 + (i * 5) % 3] AS status,
       ['low', 'normal', 'urgent'][1 + (i * 11) % 3] AS priority
FROM range(1, 401) t(i);
CREATE TABLE shipments AS
SELECT i AS shipment_id, 1 + (i * 13) % 60 AS account_id,
       TIMESTAMP '2025-09-14 18:00:00' - INTERVAL (i * 7) HOUR AS shipped_at,
       ['AIR', 'TRUCK', 'MAIL', 'SHIP'][1 + (i * 3) % 4] AS ship_mode,
       round(5 + (i * 17) % 90 + 0.5, 2) AS cost
FROM range(1, 501) t(i);
"""


@pytest.fixture(scope="module")
def desk_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("desk") / "desk.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(BUILD)
    return path


@pytest.fixture(scope="module")
def desk(desk_database: Path) -> Any:
    with duckdb.connect(str(desk_database), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def gold_database(desk_database: Path) -> Any:
    database = GoldDatabase(desk_database)
    yield database
    database.close()


@pytest.fixture(scope="module")
def planner() -> CatalogPlanner:
    return CatalogPlanner(Catalog.load(DESK), FixedClock(TODAY))


def _answer(planner: CatalogPlanner, desk: Any, gold: GoldDatabase, question: str,
            gold_sql: str, previous: Any = None) -> Any:
    plan = planner.plan(question, previous=previous)
    assert plan.status == "ok", plan.message
    assert plan.sql is not None
    cursor = desk.execute(plan.sql)
    columns = [c[0] for c in cursor.description]
    rows = cursor.fetchall()
    result = assert_matches_gold(gold, gold_sql, rows, columns=columns,
                                 context=f"{question}\n{plan.sql}")
    assert result.rows, "the gold SQL returns no rows, so it proves little"
    return plan


# ---- words in other scripts, and accents ------------------------------------------------------
@pytest.mark.parametrize("question", [
    "売上 by plan",           # a word in another script is a word: mapped or declined
    "tickets по plan",
    "shipments by plan ✓ überall",
])
def test_words_in_other_scripts_are_not_dropped(planner: CatalogPlanner, question: str) -> None:
    plan = planner.plan(question)
    assert plan.status == "cannot_answer", plan.sql
    assert plan.sql is None


@pytest.mark.parametrize("question", ["tickets from Sao Paulo", "tickets from São Paulo",
                                      "tickets from sao paulo accounts", "tickets from Zurich"])
def test_accents_are_optional(planner: CatalogPlanner, desk: Any, gold_database: GoldDatabase,
                              question: str) -> None:
    city = "Zürich" if "zurich" in question.lower() else "São Paulo"
    _answer(planner, desk, gold_database, question,
            "SELECT count(*) FROM tickets t JOIN accounts a USING (account_id) "
            f"WHERE a.city = '{city}'")


# ---- glossary rules apply, and the reading says so ---------------------------------------------
def test_glossary_term_applies_its_rule(planner: CatalogPlanner, desk: Any,
                                        gold_database: GoldDatabase) -> None:
    plan = _answer(planner, desk, gold_database, "how many customers do we have",
                   "SELECT count(*) FROM accounts WHERE NOT is_internal")
    assert "internal" in plan.message.lower()
    _answer(planner, desk, gold_database, "customers by plan",
            "SELECT plan, count(*) FROM accounts WHERE NOT is_internal GROUP BY plan")
    _answer(planner, desk, gold_database, "how many accounts",
            "SELECT count(*) FROM accounts")


def test_glossary_rule_must_name_a_segment(tmp_path: Path) -> None:
    from skipper.errors import SkipperError

    text = (DESK / "desk.yaml").read_text().replace("excluding: [internal_accounts]",
                                                     "excluding: [interns]")
    (tmp_path / "desk.yaml").write_text(text)
    with pytest.raises(SkipperError) as caught:
        Catalog.load(tmp_path)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "interns" in row)
    assert f"desk.yaml:{line}" in caught.value.message
    assert "excluding" in caught.value.message and "interns" in caught.value.message
