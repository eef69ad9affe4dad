"""Table.column looks names up as DuckDB folds them, and a policy's copy of a table without a
hidden column never finds it; tables that are equal stay equal after lookups."""

from __future__ import annotations

from skipper import Catalog
from tests.conftest import ROOT


def test_column_lookup_folds_ascii_only() -> None:
    table = Catalog.load(ROOT / "catalog").table("accounts")
    assert table.column("EMAIL") is table.column("email") is not None
    assert table.column("emai\u212a") is None  # KELVIN SIGN is not k to DuckDB


def test_a_copy_without_a_column_does_not_find_it() -> None:
    table = Catalog.load(ROOT / "catalog").table("accounts")
    assert table.column("email") is not None  # the index is built on the original
    hidden = table.model_copy(update={"columns": [c for c in table.columns if c.name != "email"]})
    assert hidden.column("email") is None
    assert table.column("email") is not None


def test_lookups_leave_equal_tables_equal() -> None:
    first = Catalog.load(ROOT / "catalog").table("accounts")
    second = Catalog.load(ROOT / "catalog").table("accounts")
    assert first.column("plan") is not None
    assert first == second
