"""Execution-accuracy semantics, pinned on tricky gold / predicted pairs over a real DuckDB."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from skipper.evals.gold import GoldDatabase, reference_for
from skipper.evals.matching import normalize_value, values_close
from skipper.evals.scoring import Reference, compare

FIXTURES = Path(__file__).parent / "fixtures" / "evals"
PAIRS = yaml.safe_load((FIXTURES / "scoring_pairs.yaml").read_text())


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute((FIXTURES / "shop.sql").read_text())
    return path


@pytest.fixture(scope="session")
def gold_db(shop: Path) -> Any:
    database = GoldDatabase(shop, timeout_s=10)
    yield database
    database.close()


def _run(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        table = con.sql(sql).to_arrow_table()
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return table.column_names, list(zip(*columns, strict=True))


@pytest.mark.parametrize("pair", PAIRS, ids=[pair["title"] for pair in PAIRS])
def test_scoring_pair(pair: dict[str, Any], shop: Path, gold_db: GoldDatabase) -> None:
    reference = reference_for(gold_db, pair["gold"])
    columns, rows = _run(shop, pair["predicted"])
    for semantics in ("spider", "bird"):
        if semantics not in pair:
            continue
        verdict = compare(reference, rows, predicted_columns=columns, semantics=semantics)
        assert verdict.correct is pair[semantics], f"{semantics}: {verdict.reason}"
    if "reason" in pair:
        assert pair["reason"] in compare(reference, rows, predicted_columns=columns).reason


def test_ties_under_limit_are_recorded_in_the_reference(gold_db: GoldDatabase) -> None:
    reference = reference_for(gold_db, "SELECT name FROM customers ORDER BY score DESC LIMIT 3")
    assert reference.ordered
    assert reference.blocks == [(0, 2), (2, 3)]
    assert sorted(row[0] for row in reference.tail_pool or []) == ["Bo", "Ed"]


def test_sampled_gold_carries_its_population(gold_db: GoldDatabase) -> None:
    reference = reference_for(gold_db, "SELECT name FROM customers USING SAMPLE 10%")
    assert reference.population is not None and len(reference.population) == 6


def test_ordered_can_be_forced_off(gold_db: GoldDatabase, shop: Path) -> None:
    reference = reference_for(gold_db, "SELECT name FROM customers ORDER BY name", ordered=False)
    assert not reference.ordered
    _, rows = _run(shop, "SELECT name FROM customers ORDER BY name DESC")
    assert compare(reference, rows).correct


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (decimal.Decimal("1.50"), 1.5, True),
        (3, 3.0, True),
        (decimal.Decimal("3"), 3, True),
        (True, 1, False),
        (None, None, True),
        (float("nan"), float("nan"), True),
        (dt.datetime(2026, 1, 1), dt.date(2026, 1, 1), True),
        (dt.datetime(2026, 1, 1, 0, 0, 1), dt.date(2026, 1, 1), False),
        (dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
         dt.date(2026, 1, 1), True),
        ("a", "A", False),
        ([1, 2], (1, 2), True),
        ({"x": 1}, {"x": 1.0}, True),
    ],
)
def test_value_normalisation(a: Any, b: Any, equal: bool) -> None:
    assert (normalize_value(a) == normalize_value(b)) is equal


def test_tolerance_is_relative_above_one_and_absolute_below() -> None:
    assert values_close(1_000_000.0, 1_000_000.9, 1e-6)
    assert not values_close(1_000_000.0, 1_000_002.1, 1e-6)
    assert values_close(0.0, 5.5e-17, 1e-6)
    assert not values_close(0.0001, 0.00011, 1e-6)
    assert not values_close(1.0, 1.0 + 1e-9, 0)
    assert not values_close(10, 11, 0.5)  # two integers: exact


def test_expected_rows_without_sql() -> None:
    reference = Reference(columns=["plan", "n"], rows=[("pro", 2), ("free", 3)])
    assert compare(reference, [(3, "free"), (2, "pro")]).correct
    verdict = compare(reference, [("pro", 2)])
    assert not verdict.correct
    assert verdict.only_in_gold == [("free", 3)] and verdict.only_in_predicted == []


def test_diff_names_rows_on_each_side() -> None:
    reference = Reference(columns=["a"], rows=[(1,), (2,), (2,)])
    verdict = compare(reference, [(1,), (2,), (3,)])
    assert not verdict.correct
    assert verdict.only_in_gold == [(2,)] and verdict.only_in_predicted == [(3,)]


def test_wide_results_with_identical_columns_stay_cheap() -> None:
    row = tuple(range(30))
    reference = Reference(columns=[f"c{i}" for i in range(30)], rows=[row, row])
    predicted = [tuple(reversed(row))] * 2
    verdict = compare(reference, predicted)
    assert verdict.correct and verdict.permutation == tuple(reversed(range(30)))
    same = Reference(columns=["a", "b", "c"], rows=[(1, 1, 1)] * 3)
    assert compare(same, [(1, 1, 1)] * 3).correct


def test_unknown_semantics_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown semantics"):
        compare(Reference(columns=[], rows=[]), [], semantics="exact")  # type: ignore[arg-type]
