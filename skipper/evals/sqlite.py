"""Copying a SQLite database into a DuckDB file with Python's sqlite3 and Arrow.

DuckDB's sqlite scanner would need an extension download; this works offline. SQLite columns
hold values of any type, so each column's DuckDB type comes from the types its values actually
have (``typeof``): all integers -> BIGINT, integers and reals -> DOUBLE, blobs -> BLOB, anything
with text -> VARCHAR (other values written as text). Constraints are not copied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from skipper.errors import DatasetError

CHUNK_ROWS = 50_000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_type(sqlite: sqlite3.Connection, table: str, column: str) -> pa.DataType:
    kinds = {kind for (kind,) in sqlite.execute(
        f"SELECT DISTINCT typeof({_quote(column)}) FROM {_quote(table)}")}
    kinds.discard("null")
    if not kinds or "text" in kinds:
        return pa.string()
    if kinds == {"integer"}:
        return pa.int64()
    if kinds <= {"integer", "real"}:
        return pa.float64()
    if kinds == {"blob"}:
        return pa.binary()
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind) and not isinstance(value, str):
        return value.hex() if isinstance(value, bytes) else str(value)
    if pa.types.is_floating(kind):
        return float(value)
    return value


def convert_sqlite(source: Path, target: Path) -> list[str]:
    """Write every table of the SQLite file ``source`` into a new DuckDB file ``target``."""
    if not source.is_file():
        raise DatasetError(f"SQLite database {source} does not exist")
    if target.exists():
        target.unlink()
    try:
        sqlite = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise DatasetError(f"cannot open {source} as SQLite: {error}") from None
    sqlite.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    duck = duckdb.connect(str(target))
    tables: list[str] = []
    try:
        names = [name for (name,) in sqlite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        for table in names:
            columns = [row[1] for row in sqlite.execute(f"PRAGMA table_info({_quote(table)})")]
            schema = pa.schema([(c, _column_type(sqlite, table, c)) for c in columns])
            _copy_table(sqlite, duck, table, schema)
            tables.append(table)
    except sqlite3.Error as error:
        raise DatasetError(f"cannot read {source}: {error}") from None
    finally:
        sqlite.close()
        duck.close()
    return tables


def _copy_table(sqlite: sqlite3.Connection, duck: duckdb.DuckDBPyConnection, table: str,
                schema: pa.Schema) -> None:
    duck.register("skipper_chunk", schema.empty_table())
    duck.execute(f"CREATE TABLE {_quote(table)} AS SELECT * FROM skipper_chunk")
    selected = ", ".join(_quote(name) for name in schema.names)
    cursor = sqlite.execute(f"SELECT {selected} FROM {_quote(table)}")
    while True:
        rows = cursor.fetchmany(CHUNK_ROWS)
        if not rows:
            break
        arrays = [
            pa.array([_cell(row[i], kind.type) for row in rows], type=kind.type)
            for i, kind in enumerate(schema)
        ]
        duck.register("skipper_chunk", pa.Table.from_arrays(arrays, schema=schema))
        duck.execute(f"INSERT INTO {_quote(table)} SELECT * FROM skipper_chunk")
    duck.unregister("skipper_chunk")
