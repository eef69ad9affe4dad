"""A PIVOT without an IN list runs with its values named first, each looked up by a query that
the engine's second wall checks, over the same governed source: same columns and rows as
DuckDB's own PIVOT, and nothing read that the guard did not allow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.errors import GuardError

SAME_AS_DUCKDB = [
    "PIVOT accounts ON plan USING count(*) GROUP BY region",
    "PIVOT accounts ON account_id % 12 USING count(*) GROUP BY region",  # values in text order
    "PIVOT accounts ON plan, is_internal USING count(*) GROUP BY region",
    "PIVOT support_tickets ON priority USING count(*) GROUP BY category",
    "SELECT * FROM (PIVOT (SELECT plan, region FROM accounts) ON plan USING count(*)) AS p",
    "PIVOT accounts ON plan IN ('free') USING count(*) GROUP BY region",  # already named
]


@pytest.fixture(scope="module")
def raw(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_database), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("sql", SAME_AS_DUCKDB)
def test_same_columns_and_rows_as_duckdb(skipper_on_demo: Skipper,
                                         raw: duckdb.DuckDBPyConnection, sql: str) -> None:
    answer = skipper_on_demo.sql(sql)
    expected = raw.sql(sql)
    assert answer.columns == expected.columns
    assert sorted(answer.rows, key=repr) == sorted(expected.fetchall(), key=repr)
    record = skipper_on_demo.audit.get(answer.audit_id)
    assert record.sql == answer.sql and " IN (" in answer.sql


def test_values_come_from_the_rows_the_user_may_read(skipper_on_demo: Skipper) -> None:
    answer = skipper_on_demo.sql("PIVOT accounts ON region USING count(*) GROUP BY plan",
                                 user="sue")
    assert answer.columns == ["plan", "EU"]
    assert not {"NA", "APAC", "LATAM", "MEA"} & set(answer.columns)


def test_masked_values_stay_masked(skipper_on_demo: Skipper) -> None:
    answer = skipper_on_demo.sql("PIVOT accounts ON email USING count(*)", user="ana")
    assert all("@" not in column for column in answer.columns)


def test_no_values_is_a_clear_refusal(skipper_on_demo: Skipper) -> None:
    with pytest.raises(GuardError) as refused:
        skipper_on_demo.sql("PIVOT (SELECT * FROM accounts WHERE false) ON plan USING count(*)")
    assert refused.value.code == "sql.uncheckable"
    assert "IN (" in refused.value.message
    assert skipper_on_demo.audit.tail(1)[0].outcome == "refused"
