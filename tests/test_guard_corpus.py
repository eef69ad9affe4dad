"""The read-query corpus (tests/corpus/*.sql) over the Town Lake demo: every query is accepted,
and the SQL the guard hands the engine returns exactly what the original returns on raw DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_guard import Case, assert_same_result, read_cases

from skipper.catalog import Catalog
from skipper.guard import Guard

CORPUS = Path(__file__).parent / "corpus"
CASES = [case for path in sorted(CORPUS.glob("*.sql")) for case in read_cases(path)]


@pytest.fixture(scope="module")
def demo_guard(demo_catalog: Path, demo_database: Path) -> Guard:
    return Guard(Catalog.load(demo_catalog), dialect="duckdb", database=demo_database.stem)


@pytest.fixture(scope="module")
def demo_raw(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_database), read_only=True, config={"threads": 1})
    yield con
    con.close()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert all(case.expect == "ok" for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}:{c.line}:{c.title}" for c in CASES])
def test_corpus_query(case: Case, demo_guard: Guard, demo_raw: duckdb.DuckDBPyConnection) -> None:
    guarded = demo_guard.check(case.sql)
    if case.tables is not None:
        assert guarded.tables == sorted(case.tables)
    assert set(guarded.columns) <= set(guarded.tables)
    assert_same_result(demo_raw, case.sql, guarded.sql)
