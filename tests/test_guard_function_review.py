"""The function allowlist, reviewed for reads past a row filter (issue 11, point 4).

A function whose value can depend on anything but its arguments' values in the rows the query sees
(storage statistics, the catalog, settings, the session) leaks what a row filter hides, as
``stats(email)`` did. The review lives here as data, and two tests hold it: no reviewed metadata
reader is allowlisted, and every allowlisted one-argument function DuckDB knows gives a filtered
user the same answer as it gives over a table holding only the rows that user may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.errors import GuardError
from skipper.guard import Guard
from skipper.guard.functions import function_allowlist

CATALOG = Path(__file__).resolve().parents[1] / "catalog"

METADATA_READERS = {
    "stats": "a column's storage statistics (min, max, distinct count of the whole table)",
    "bitstring_agg": "the column's storage statistics (min, max) when no range is given",
    "vector_type": "the physical vector of a scan (dictionaries are built from every row)",
    "enum_code": "the position of a value in its ENUM type's definition",
    "enum_first": "the ENUM type's definition",
    "enum_last": "the ENUM type's definition",
    "enum_range": "the ENUM type's definition",
    "enum_range_boundary": "the ENUM type's definition",
    "current_setting": "a setting", "getenv": "the environment", "getvariable": "a variable",
    "current_database": "the session", "current_catalog": "the session",
    "current_schema": "the session", "current_schemas": "the session",
    "current_user": "the session", "current_role": "the session", "session_user": "the session",
    "user": "the session", "current_query": "the session", "current_query_id": "the session",
    "current_connection_id": "the session", "current_transaction_id": "the session",
    "txid_current": "the session", "in_search_path": "the catalog", "version": "the build",
    "nextval": "a sequence", "currval": "a sequence", "setval": "a sequence",
    "get_block_size": "storage", "index_key": "an index", "json_serialize_plan": "the plan",
}
"""Every DuckDB function reviewed as reading state beyond its arguments' rows."""

CLOCK_AND_RANDOM = {
    "current_date", "current_localtime", "current_localtimestamp", "get_current_time",
    "get_current_timestamp", "now", "today", "transaction_timestamp", "age", "random",
    "gen_random_uuid", "uuid", "uuidv4", "uuidv7", "reservoir_quantile", "timezone",
}
"""Allowlisted on purpose though not a function of their arguments: the clock (questions need
today) and random state; neither says anything about rows the user may not see."""


def test_no_metadata_reader_is_allowlisted() -> None:
    allowed = function_allowlist().names
    assert not allowed & set(METADATA_READERS), sorted(allowed & set(METADATA_READERS))


def test_every_metadata_reader_duckdb_has_is_refused() -> None:
    guard = Guard(Catalog.load(CATALOG), database="town_lake")
    for name in sorted(set(METADATA_READERS) & _duckdb_names()):
        with pytest.raises(GuardError) as refused:
            guard.check(f"SELECT {name}(email) FROM accounts", user="sue")
        assert refused.value.code in ("sql.function_not_allowed", "sql.parse_error"), name


def _duckdb_names() -> set[str]:
    with duckdb.connect() as con:
        rows = con.execute("SELECT function_name FROM duckdb_functions()").fetchall()
    return {row[0] for row in rows}


# ---- the engine's truth: a filtered user's answer is the answer over the rows it may see --------
COLUMN_FOR_TYPE = {
    "VARCHAR": "email", "ANY": "email", "BIGINT": "account_id", "INTEGER": "account_id",
    "DOUBLE": "account_id", "TIMESTAMP": "created_at", "DATE": "created_at",
    "BOOLEAN": "is_internal", "TIMESTAMP WITH TIME ZONE": "created_at",
}


def _one_argument_calls() -> list[tuple[str, str]]:
    allowed = function_allowlist().names
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT function_name, parameter_types[1] FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate') AND len(parameter_types) = 1"
        ).fetchall()
    calls = {
        (name, COLUMN_FOR_TYPE[kind]) for name, kind in rows
        if name in allowed and name not in CLOCK_AND_RANDOM and kind in COLUMN_FOR_TYPE
    }
    return sorted(calls)


CALLS = _one_argument_calls()


@pytest.fixture(scope="module")
def truth(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The rows sue may see, copied into a table of their own (whose statistics are theirs)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo_database}' AS lake (READ_ONLY)")
    con.execute("CREATE TABLE accounts AS SELECT * FROM lake.accounts WHERE region = 'EU' "
                "ORDER BY account_id")
    yield con
    con.close()


@pytest.fixture(scope="module")
def lake(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(demo_database), read_only=True)
    yield con
    con.close()


def test_there_are_many_one_argument_calls() -> None:
    assert len(CALLS) >= 150


def test_filtered_answers_equal_the_visible_rows_answers(
    truth: duckdb.DuckDBPyConnection, lake: duckdb.DuckDBPyConnection
) -> None:
    guard = Guard(Catalog.load(CATALOG), database="town_lake")
    compared, differ = 0, []
    for name, column in CALLS:
        sql = f"SELECT {name}({column}) AS v FROM accounts"
        want = _rows(truth, sql)
        reordered = sql.replace("accounts", "(FROM accounts ORDER BY account_id DESC)")
        if want is None or want != _rows(truth, reordered):
            continue  # DuckDB refuses the call, or its answer depends on row order
        try:
            guarded = guard.check(sql, user="sue")
        except GuardError:
            continue
        got = _rows(lake, guarded.sql)
        compared += 1
        if got != want:
            differ.append(f"{name}({column})")
    assert compared >= 150
    assert not differ, f"answers that see past sue's row filter: {differ}"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[str] | None:
    try:
        rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
    except duckdb.Error:
        return None
    return sorted(repr(tuple(_rounded(value) for value in row)) for row in rows)


def _rounded(value: Any) -> Any:
    """Floats to 12 digits: the guard writes log2(x) as LOG(2, x), a last-bit difference."""
    return float(f"{value:.12g}") if isinstance(value, float) else value
