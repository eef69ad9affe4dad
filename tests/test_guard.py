"""Guard fixture cases (tests/fixtures/guard/*.sql): each accepted case runs with the same result
as the original SQL on raw DuckDB; each refused case raises the GuardError with its code."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.errors import GuardError
from skipper.guard import Guard

FIXTURES = Path(__file__).parent / "fixtures" / "guard"
HEADER_KEYS = ("title", "expect", "tables", "columns")


@dataclass
class Case:
    file: str
    line: int
    title: str = ""
    expect: str = ""
    tables: list[str] | None = None
    columns: list[str] | None = None
    sql_lines: list[str] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return "\n".join(self.sql_lines)


def read_cases(path: Path) -> list[Case]:
    """Paragraphs that start with ``-- title:``; leading ``-- key: value`` lines are the header."""
    cases: list[Case] = []
    current: Case | None = None
    in_header = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        key, value = _header(line)
        if key == "title":
            current = Case(file=path.name, line=number, title=value)
            cases.append(current)
            in_header = True
            continue
        if current is None:
            continue
        if in_header and key is not None:
            if key == "expect":
                current.expect = value
            else:
                items = [item.strip() for item in value.split(",") if item.strip()]
                setattr(current, key, items)
            continue
        in_header = False
        if not line.strip():
            if current.sql_lines:
                current = None
            continue
        current.sql_lines.append(line)
    return cases


def _header(line: str) -> tuple[str | None, str]:
    stripped = line.strip()
    if not stripped.startswith("--"):
        return None, ""
    body = stripped[2:].strip()
    key, sep, value = body.partition(":")
    if sep and key in HEADER_KEYS:
        return key, value.strip()
    return None, ""


ALL_CASES = [case for path in sorted(FIXTURES.glob("*.sql")) for case in read_cases(path)]


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("guard") / "lake.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute((FIXTURES / "lake.sql").read_text(encoding="utf-8"))
    return path


@pytest.fixture(scope="session")
def lake_catalog() -> Catalog:
    return Catalog.load(FIXTURES / "catalog")


@pytest.fixture(scope="session")
def guard(lake_catalog: Catalog) -> Guard:
    return Guard(lake_catalog, dialect="duckdb", database="lake")


@pytest.fixture(scope="session")
def raw(lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(lake), read_only=True, config={"threads": 1})
    yield con
    con.close()


def test_fixture_files_are_well_formed() -> None:
    assert len(ALL_CASES) >= 100
    seen: set[tuple[str, str]] = set()
    for case in ALL_CASES:
        where = f"{case.file}:{case.line}"
        assert case.expect, f"{where}: missing '-- expect:'"
        assert case.expect == "ok" or case.expect.startswith("sql."), where
        assert (case.file, case.title) not in seen, f"{where}: duplicate title"
        seen.add((case.file, case.title))


@pytest.mark.parametrize(
    "case", ALL_CASES, ids=[f"{c.file}:{c.line}:{c.title}" for c in ALL_CASES]
)
def test_guard_case(case: Case, guard: Guard, raw: duckdb.DuckDBPyConnection) -> None:
    if case.expect != "ok":
        with pytest.raises(GuardError) as refused:
            guard.check(case.sql)
        assert refused.value.code == case.expect, refused.value.message
        assert refused.value.message
        return
    guarded = guard.check(case.sql)
    assert guarded.sql == guarded.tree.sql(dialect="duckdb")
    if case.tables is not None:
        assert guarded.tables == sorted(case.tables)
    if case.columns is not None:
        read = sorted(f"{t}.{c}" for t, cols in guarded.columns.items() for c in cols)
        assert read == sorted(case.columns)
    assert_same_result(raw, case.sql, guarded.sql)


def assert_same_result(con: duckdb.DuckDBPyConnection, original: str, guarded: str) -> None:
    """Both texts give the same columns and rows (in order when the query orders them)."""
    expected = con.execute(original)
    expected_columns = [d[0] for d in expected.description or []]
    expected_rows = expected.fetchall()
    actual = con.execute(guarded)
    actual_columns = [d[0] for d in actual.description or []]
    actual_rows = actual.fetchall()
    assert actual_columns == expected_columns
    assert len(actual_rows) == len(expected_rows)
    if not _ordered(con, original):
        actual_rows = sorted(_normal(actual_rows), key=repr)
        expected_rows = sorted(_normal(expected_rows), key=repr)
    for got, want in zip(_normal(actual_rows), _normal(expected_rows), strict=True):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (got, want)  # summation order varies
            else:
                assert a == b, (got, want)


def _ordered(con: duckdb.DuckDBPyConnection | None, sql: str) -> bool:
    """Whether the query orders its rows (``con`` is unused; test_nsql_skipper still passes it)."""
    del con
    tree = sqlglot.parse(sql, read="duckdb")[0]
    return isinstance(tree, exp.Query) and tree.args.get("order") is not None


def _normal(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """NaN equals NaN for comparison purposes."""
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in rows]


OK_CASES = [case for case in ALL_CASES if case.expect == "ok"]


@pytest.mark.parametrize("case", OK_CASES, ids=[f"{c.file}:{c.line}:{c.title}" for c in OK_CASES])
def test_guarded_sql_is_a_fixed_point(case: Case, guard: Guard) -> None:
    """The SQL the guard emits passes the guard again, unchanged: nothing it writes back out
    (a function name, a rewritten operator) would be refused or rewritten on a second look."""
    once = guard.check(case.sql)
    twice = guard.check(once.sql)
    assert twice.sql == once.sql
    assert twice.tables == once.tables
