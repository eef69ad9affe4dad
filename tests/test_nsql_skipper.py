"""DuckDB-NSQL (third-party, read-only) through the front door: `catalog init` + `Skipper.sql`.

Every plain read returns exactly DuckDB's own result (rows, column names, order when ordered);
every SET/PRAGMA/CALL, DDL, DML and file/URL statement is refused with the reviewed code; the
database files are byte-identical afterwards. Case outcomes are reviewed in
tests/fixtures/guard/nsql_expected.txt (shared with the guard-level test).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import duckdb
import pytest
from test_guard import _normal, _ordered
from test_guard_nsql import CASES, EXPECT, NSQL, _database, _digest

from skipper import Skipper
from skipper.catalog.introspect import init_catalog
from skipper.errors import GuardError

pytestmark = pytest.mark.skipif(
    not (NSQL / "dev.json").is_file(), reason="duckdb-nsql dataset not present"
)


@pytest.fixture(scope="module")
def skippers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Skipper]]:
    work = tmp_path_factory.mktemp("nsql_skipper")
    opened: dict[str, Skipper] = {}
    for db_id in sorted({case["db_id"] for case in CASES}):
        init_catalog(_database(db_id), work / db_id)
        opened[db_id] = Skipper(work / db_id, _database(db_id), max_rows=1_000_000,
                                audit_log=work / f"{db_id}.audit.jsonl")
    yield opened
    for skipper in opened.values():
        skipper.close()


@pytest.fixture(scope="module")
def digests_before() -> dict[str, str]:
    return {p.name: _digest(p) for p in sorted((NSQL / "databases").glob("*/*.duckdb"))}


def _raw(db_id: str, sql: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(_database(db_id)), read_only=True) as con:
        result = con.execute(sql)
        return [d[0] for d in result.description or []], result.fetchall()


def test_nsql_through_skipper(skippers: dict[str, Skipper], digests_before: dict[str, str]):
    checked = {"ok": 0, "sampled": 0, "refused": 0}
    for index, case in enumerate(CASES):
        db_id, outcome = EXPECT[index]
        skipper, sql = skippers[db_id], case["query"]
        if outcome.startswith("sql."):
            with pytest.raises(GuardError) as refused:
                skipper.sql(sql)
            assert refused.value.code == outcome, (index, refused.value.message)
            checked["refused"] += 1
            continue
        answer = skipper.sql(sql)
        columns, rows = _raw(db_id, sql)
        assert answer.columns == columns, index
        if outcome == "sampled":  # USING SAMPLE: random rows, same shape
            checked["sampled"] += 1
            continue
        assert answer.row_count == len(rows) and not answer.truncated, index
        got, want = _normal(answer.rows), _normal(rows)
        if not _ordered(None, sql):  # type: ignore[arg-type]
            got, want = sorted(got, key=repr), sorted(want, key=repr)
        for a_row, b_row in zip(got, want, strict=True):
            for a, b in zip(a_row, b_row, strict=True):
                if isinstance(a, float) and isinstance(b, float):
                    assert math.isclose(a, b, rel_tol=1e-9), (index, a_row, b_row)
                else:
                    assert a == b, (index, a_row, b_row)
        checked["ok"] += 1
    assert checked == {"ok": 44, "sampled": 2, "refused": 29}
    after = {p.name: _digest(p) for p in sorted((NSQL / "databases").glob("*/*.duckdb"))}
    assert after == digests_before
    for skipper in skippers.values():
        assert skipper.audit.verify().ok
