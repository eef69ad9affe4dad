"""Compiler cases from tests/fixtures/compiler/*.yaml: a semantic query in, gold results out."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from skipper.catalog import Catalog
from skipper.clock import FixedClock
from skipper.errors import SkipperError
from skipper.evals.gold import GoldDatabase
from skipper.guard import Guard
from skipper.planner import SemanticQuery, compile_query
from tests.gold_results import assert_matches_gold

FIXTURES = Path(__file__).parent / "fixtures" / "compiler"
ROOT = Path(__file__).resolve().parents[1]
CATALOGS = {"demo": ROOT / "catalog", "diamond": FIXTURES / "diamond"}


def _cases() -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for number, case in enumerate(spec["cases"]):
            out.append(pytest.param(spec, case, id=f"{path.stem}-{number}"))
    return out


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {name: Catalog.load(path) for name, path in CATALOGS.items()}


@pytest.fixture(scope="module")
def gold_database(demo_database: Path) -> Any:
    database = GoldDatabase(demo_database)
    yield database
    database.close()


@pytest.fixture(scope="module")
def lake(demo_database: Path) -> Any:
    with duckdb.connect(str(demo_database), read_only=True) as connection:
        yield connection


@pytest.mark.parametrize(("spec", "case"), _cases())
def test_compiler_case(spec: dict[str, Any], case: dict[str, Any], catalogs: dict[str, Catalog],
                       lake: Any, gold_database: GoldDatabase) -> None:
    catalog = catalogs[case.get("catalog", spec["catalog"])]
    as_of = spec.get("as_of", date(2026, 6, 30))
    query = SemanticQuery.model_validate(case["query"])
    clock = FixedClock(as_of)
    if "error" in case:
        with pytest.raises(SkipperError) as raised:
            compile_query(query, catalog, clock)
        assert raised.value.code == case["error"], raised.value.message
        return
    sql = compile_query(query, catalog, clock).sql(dialect=catalog.dialect)
    Guard(catalog).check(sql)
    planned = lake.execute(sql).fetchall()
    gold = assert_matches_gold(gold_database, case["gold_sql"], planned,
                               context=f"{case['title']}\ncompiled: {sql}")
    assert gold.rows, f"{case['title']}: the gold SQL returns no rows, so it proves little"


def test_semantic_query_is_json_and_back() -> None:
    query = SemanticQuery.model_validate({
        "metrics": ["spend"], "breakdowns": ["plan", {"grain": "month"}],
        "filters": [{"dimension": "region", "op": "in", "values": ["EU"]}],
        "segments": ["internal_accounts"],
        "time_range": {"relative": {"kind": "last_n", "n": 30}}, "compare": {},
        "order": ["spend"], "limit": 5,
    })
    text = query.model_dump_json()
    assert SemanticQuery.model_validate_json(text) == query
    assert query.segments[0].segment == "internal_accounts"
    assert query.breakdowns[1].key == "month"


@pytest.mark.parametrize("bad", [
    {},
    {"metrics": ["spend"], "compare": {}},
    {"metrics": ["spend"], "filters": [{"dimension": "plan", "op": "in", "values": []}]},
    {"metrics": ["spend"], "time_range": {"start": "2026-06-02", "end": "2026-06-01"}},
    {"metrics": ["spend"], "surprise": 1},
])
def test_semantic_query_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SemanticQuery.model_validate(bad)
