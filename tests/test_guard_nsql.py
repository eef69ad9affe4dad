"""DuckDB-NSQL (third-party, read-only): through ``catalog init`` and the guard, every plain read
returns exactly raw DuckDB's result, every other statement is refused, and no file changes.

The expected outcome of each case is reviewed by hand in tests/fixtures/guard/nsql_expected.txt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_guard import assert_same_result

from skipper.catalog import Catalog
from skipper.catalog.introspect import init_catalog
from skipper.errors import GuardError
from skipper.guard import Guard

NSQL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "duckdb-nsql"
EXPECTED = Path(__file__).parent / "fixtures" / "guard" / "nsql_expected.txt"

pytestmark = pytest.mark.skipif(
    not (NSQL / "dev.json").is_file(), reason="duckdb-nsql dataset not present"
)


def _expected() -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            index, db_id, outcome = line.split()
            out[int(index)] = (db_id, outcome)
    return out


EXPECT = _expected()


def _cases() -> list[dict[str, str]]:
    if not (NSQL / "dev.json").is_file():
        return []
    return list(json.loads((NSQL / "dev.json").read_text(encoding="utf-8")))


CASES = _cases()


def _database(db_id: str) -> Path:
    return NSQL / "databases" / db_id / f"{db_id}.duckdb"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def digests_before() -> dict[str, str]:
    return {p.name: _digest(p) for p in sorted((NSQL / "databases").glob("*/*.duckdb"))}


@pytest.fixture(scope="module")
def guards(tmp_path_factory: pytest.TempPathFactory, digests_before: dict[str, str]) -> dict:
    """A guard per database, on the catalog `skipper catalog init` writes for it."""
    out = tmp_path_factory.mktemp("nsql_catalogs")
    built: dict[str, Guard] = {}
    for db_id in sorted({case["db_id"] for case in CASES}):
        init_catalog(_database(db_id), out / db_id)
        built[db_id] = Guard(Catalog.load(out / db_id), dialect="duckdb", database=db_id)
    return built


@pytest.fixture(scope="module")
def connections() -> Iterator[dict]:
    opened: dict[str, duckdb.DuckDBPyConnection] = {}
    yield opened
    for con in opened.values():
        con.close()


def _raw(connections: dict, db_id: str) -> duckdb.DuckDBPyConnection:
    if db_id not in connections:
        connections[db_id] = duckdb.connect(
            str(_database(db_id)), read_only=True, config={"threads": 1}
        )
    return connections[db_id]


def test_every_case_is_classified() -> None:
    assert len(CASES) == 75
    assert sorted(EXPECT) == list(range(len(CASES)))
    for index, case in enumerate(CASES):
        assert EXPECT[index][0] == case["db_id"], index


@pytest.mark.parametrize("index", range(len(CASES)), ids=[str(i) for i in range(len(CASES))])
def test_nsql_case(index: int, guards: dict, connections: dict) -> None:
    case = CASES[index]
    db_id, outcome = EXPECT[index]
    guard: Guard = guards[db_id]
    sql = case["query"]
    if outcome.startswith("sql."):
        with pytest.raises(GuardError) as refused:
            guard.check(sql)
        assert refused.value.code == outcome, refused.value.message
        return
    guarded = guard.check(sql)
    con = _raw(connections, db_id)
    if outcome == "sampled":
        expected = con.execute(sql)
        expected_shape = [(d[0], str(d[1])) for d in expected.description or []]
        actual = con.execute(guarded.sql)
        assert [(d[0], str(d[1])) for d in actual.description or []] == expected_shape
        return
    assert outcome == "ok"
    assert_same_result(con, sql, guarded.sql)


def test_databases_unchanged(guards: dict, digests_before: dict[str, str]) -> None:
    for case in CASES:
        with contextlib.suppress(GuardError):
            guards[case["db_id"]].check(case["query"])
    after = {p.name: _digest(p) for p in sorted((NSQL / "databases").glob("*/*.duckdb"))}
    assert after == digests_before
