"""Reading a database's own description of itself, and turning it into a catalog skeleton."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
from sqlglot import exp

from skipper.engine import ColumnInfo, TableInfo
from skipper.errors import CatalogError, EngineError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}
_TODO = '""  # TODO'

_RELATIONS_SQL = """
SELECT schema_name, table_name, FALSE AS is_view FROM duckdb_tables()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
UNION ALL
SELECT schema_name, view_name, TRUE FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
ORDER BY 1, 2
"""
_COLUMNS_SQL = """
SELECT schema_name, table_name, column_name, data_type, is_nullable FROM duckdb_columns()
WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name, column_index
"""
_CONSTRAINTS_SQL = """
SELECT schema_name, table_name, constraint_type, constraint_column_names,
       referenced_table, referenced_column_names
FROM duckdb_constraints()
WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')
ORDER BY schema_name, table_name, constraint_index
"""


def introspect_duckdb(
    con: duckdb.DuckDBPyConnection, *, count_rows: bool = True
) -> list[TableInfo]:
    """Every user table and view of the connected database, with columns, keys and row counts.

    Views are not counted (``row_count`` 0): counting one runs its whole query, and a catalog
    records row counts of tables only.
    """
    columns: dict[tuple[str, str], list[ColumnInfo]] = {}
    for schema, table, name, data_type, nullable in con.execute(_COLUMNS_SQL).fetchall():
        columns.setdefault((schema, table), []).append(ColumnInfo(name, data_type, bool(nullable)))
    primary: dict[tuple[str, str], list[str]] = {}
    foreign: dict[tuple[str, str], list[tuple[list[str], str, list[str]]]] = {}
    for schema, table, kind, names, referenced, referenced_names in con.execute(
        _CONSTRAINTS_SQL
    ).fetchall():
        if kind == "PRIMARY KEY":
            primary[(schema, table)] = list(names)
        elif referenced:
            foreign.setdefault((schema, table), []).append(
                (list(names), referenced, list(referenced_names))
            )
    out = []
    for schema, table, is_view in con.execute(_RELATIONS_SQL).fetchall():
        key = (schema, table)
        out.append(TableInfo(
            name=table,
            schema=schema,
            columns=columns.get(key, []),
            primary_key=primary.get(key, []),
            row_count=_count(con, schema, table) if count_rows and not is_view else 0,
            foreign_keys=foreign.get(key, []),
            is_view=is_view,
        ))
    return out


def _count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    query = exp.select(exp.func("count", exp.Star())).from_(
        exp.table_(table, db=schema, quoted=True)
    )
    row = con.execute(query.sql(dialect="duckdb")).fetchone()
    return int(row[0]) if row else 0


@dataclass
class InitReport:
    """What `catalog init` wrote, and what it could not represent."""

    database: Path
    out: Path
    tables: list[str] = field(default_factory=list)
    columns: int = 0
    relationships: int = 0
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def init_catalog(database: Path, out: Path, *, overwrite: bool = False) -> InitReport:
    """Write a catalog skeleton for any DuckDB database into ``out``, all at once or not at all.

    Every table and column gets its type, declared keys become ``primary_key`` and
    relationships, and descriptions are left empty with a TODO for a person to fill in. Names the
    catalog cannot hold (spaces, quotes) are skipped and listed in ``InitReport.skipped``.
    """
    database, out = Path(database), Path(out)
    if out.exists() and not out.is_dir():
        raise CatalogError(f"{out} exists and is not a directory", code="catalog.bad_out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CatalogError(f"{out} is not empty; pass --overwrite to replace it",
                           code="catalog.out_not_empty")
    from skipper.engine.duckdb import DuckDBEngine

    # The engine's own sandbox (read-only, no file or network access), in this process.
    with DuckDBEngine(database, isolation="thread") as engine:
        try:
            tables = engine.introspect()
        except duckdb.Error as error:
            raise EngineError(f"cannot read the schema of {database}: {error}",
                              code="engine.introspect_failed") from None
    report = InitReport(database=database, out=out)
    files = _render(database, tables, report)
    _write_atomically(out, files)
    report.files = [out / name for name in files]
    return report


def _render(database: Path, tables: list[TableInfo], report: InitReport) -> dict[str, str]:
    source = _name_like(database.stem)
    kept: dict[str, TableInfo] = {}
    for table in tables:
        where = table.name if table.schema == "main" else f"{table.schema}.{table.name}"
        if not (_NAME.match(table.name) and _NAME.match(table.schema)):
            report.skipped.append(f"table {where}: the catalog only holds names like my_table_1")
            continue
        if table.name.lower() in kept:
            report.skipped.append(f"table {where}: a table of the same name is already included")
            continue
        usable = [c for c in table.columns if _NAME.match(c.name)]
        report.skipped += [f"column {where}.{c.name}: the catalog only holds names like "
                           "my_column_1" for c in table.columns if not _NAME.match(c.name)]
        if not usable:
            report.skipped.append(f"table {where}: no column the catalog can hold")
            continue
        kept[table.name.lower()] = replace(table, columns=usable)
    relationships = _relationships(kept, report)
    files = {"catalog.yaml": _catalog_file(database, source)}
    for key, table in kept.items():
        stem = table.name if table.schema == "main" else f"{table.schema}.{table.name}"
        files[f"tables/{stem}.yaml"] = _table_file(database, source, table,
                                                   relationships.get(key, []))
        report.tables.append(stem)
        report.columns += len(table.columns)
    report.relationships = sum(len(r) for r in relationships.values())
    return files


def _relationships(
    tables: dict[str, TableInfo], report: InitReport
) -> dict[str, list[tuple[str, str, str]]]:
    """Both directions of every declared foreign key: ``{table: [(other, on, cardinality)]}``."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for key, table in tables.items():
        names = {c.name.lower() for c in table.columns}
        for columns, referenced, referenced_columns in table.foreign_keys:
            other = tables.get(referenced.lower())
            other_names = {c.name.lower() for c in other.columns} if other else set()
            if (
                other is None or other is table
                or not {c.lower() for c in columns} <= names
                or not {c.lower() for c in referenced_columns} <= other_names
            ):
                report.skipped.append(f"foreign key {table.name}({', '.join(columns)}) -> "
                                      f"{referenced}: cannot be written as a relationship")
                continue
            on = exp.and_(*(
                exp.EQ(this=exp.column(mine, table=table.name),
                       expression=exp.column(theirs, table=other.name))
                for mine, theirs in zip(columns, referenced_columns, strict=True)
            )).sql(dialect="duckdb")
            one = [c.lower() for c in columns] == [c.lower() for c in table.primary_key]
            out.setdefault(key, []).append((other.name, on, "one_to_one" if one else "many_to_one"))
            out.setdefault(referenced.lower(), []).append(
                (table.name, on, "one_to_one" if one else "one_to_many")
            )
    return out


def _catalog_file(database: Path, source: str) -> str:
    return "\n".join([
        f"# Generated by `skipper catalog init` from {database.name}.",
        "# Fill in every TODO: the descriptions are what people and planners read.",
        f"name: {_scalar(database.stem)}",
        f"description: {_TODO}: what is this database for, and who uses it?",
        "dialect: duckdb",
        "sources:",
        f"  - name: {source}",
        "    kind: duckdb",
        f"    description: {_TODO}: which system does this data come from?",
        "",
    ])


def _table_file(
    database: Path, source: str, table: TableInfo, relationships: list[tuple[str, str, str]],
) -> str:
    kind = "view" if table.is_view else "table"
    lines = [
        f"# Generated by `skipper catalog init` from {kind} {table.schema}.{table.name} of "
        f"{database.name}.",
        "# Describe what it means: fill in the TODOs; add synonyms, tags (e.g. pii), allowed",
        "# values of low-cardinality columns, freshness (column + sla) and sampling.",
        "tables:",
        f"  - name: {_scalar(table.name)}",
    ]
    if table.schema != "main":
        lines.append(f"    schema: {_scalar(table.schema)}")
    lines += [
        f"    source: {source}",
        f"    description: {_TODO}: what does one row mean, and when is it updated?",
        f"    grain: {_TODO}: one row per ...",
    ]
    if table.primary_key:
        lines.append(f"    primary_key: [{', '.join(_scalar(k) for k in table.primary_key)}]")
    if not table.is_view:
        lines.append(f"    row_count: {table.row_count}")
    lines.append("    columns:")
    for column in table.columns:
        lines += [
            f"      - name: {_scalar(column.name)}",
            f"        type: {json.dumps(column.type)}",
            f"        description: {_TODO}",
        ]
    if relationships:
        lines.append("    relationships:")
        for other, on, cardinality in relationships:
            lines += [
                f"      - table: {_scalar(other)}",
                f"        on: {json.dumps(on)}",
                f"        cardinality: {cardinality}",
            ]
    return "\n".join(lines) + "\n"


def _scalar(value: str) -> str:
    """A name as YAML: bare when that is unambiguous, JSON-quoted otherwise."""
    if _NAME.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)


def _name_like(text: str) -> str:
    """A catalog name made from a file name (``my-db.v2`` -> ``my_db_v2``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", text) or "database"
    return cleaned if _NAME.match(cleaned) else f"db_{cleaned}"


def _write_atomically(out: Path, files: dict[str, str]) -> None:
    """Write every file into a fresh directory beside ``out``, check it loads, then swap it in."""
    from skipper.catalog.catalog import Catalog

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    retired = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
    try:
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        Catalog.load(staging)
        if out.exists():
            os.replace(out, retired)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
