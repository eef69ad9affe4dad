"""The value index: distinct values of text columns read at load, within its bounds."""

from __future__ import annotations

from pathlib import Path

from skipper.catalog import Catalog
from skipper.planner.values import MAX_VALUES, eligible, read_values

DESK = Path(__file__).parent / "fixtures" / "desk"


def test_only_plain_text_columns_without_declared_values_are_read() -> None:
    catalog = Catalog.load(DESK)
    assert [(t.name, c.name) for t, c in eligible(catalog)] == [("accounts", "account_name")]


def test_values_are_read_and_bounded() -> None:
    catalog = Catalog.load(DESK)
    asked: list[str] = []

    def run(sql: str) -> list[tuple[object]]:
        asked.append(sql)
        return [("Acme",), (None,), ("x" * 200,)]

    assert read_values(catalog, run) == {("accounts", "account_name"): ["Acme"]}
    assert "DISTINCT" in asked[0] and f"LIMIT {MAX_VALUES + 1}" in asked[0]

    def too_many(sql: str) -> list[tuple[object]]:
        return [(str(i),) for i in range(MAX_VALUES + 1)]

    assert read_values(catalog, too_many) == {}

    def failing(sql: str) -> list[tuple[object]]:
        raise RuntimeError("unreadable")

    assert read_values(catalog, failing) == {}
    assert read_values(catalog, run, budget_s=-1) == {}  # the budget is spent: nothing read
