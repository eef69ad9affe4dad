"""Reading a database's own description of itself, and turning it into a catalog skeleton."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from skipper.catalog.inference import ROW_BUDGET, Inference, MetricDraft, TableFacts, infer
from skipper.engine import ColumnInfo, TableInfo
from skipper.errors import CatalogError, EngineError
from skipper.identifiers import fold

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
    """What `catalog init` wrote, what it inferred, and what it could not represent."""

    database: Path
    out: Path
    tables: list[str] = field(default_factory=list)
    columns: int = 0
    relationships: int = 0
    metrics: int = 0
    value_lists: int = 0
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def init_catalog(database: Path, out: Path, *, overwrite: bool = False,
                 row_budget: int | None = None, timeout_s: float = 30.0) -> InitReport:
    """Write a catalog for any DuckDB database into ``out``, all at once or not at all.

    Every table and column gets its type and declared keys; on top of them `inference` guesses
    keys and joins from names, value lists of low-cardinality text columns, time columns and a
    first metric per table, checking each guess against the data where one query can, on
    tables of at most ``row_budget`` rows (default ``inference.ROW_BUDGET``), within
    ``timeout_s`` seconds. Guesses carry a YAML comment saying what they rest on; descriptions
    are left empty with a TODO for a person. Names the catalog cannot hold (spaces, quotes) are
    skipped and listed in ``InitReport.skipped``.
    """
    database, out = Path(database), Path(out)
    if out.exists() and not out.is_dir():
        raise CatalogError(f"{out} exists and is not a directory", code="catalog.bad_out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CatalogError(f"{out} is not empty; pass --overwrite to replace it",
                           code="catalog.out_not_empty")
    from skipper.engine.duckdb import DuckDBEngine

    report = InitReport(database=database, out=out)
    # The engine's own sandbox (read-only, no file or network access), in this process.
    with DuckDBEngine(database, isolation="thread") as engine:
        try:
            tables = engine.introspect()
        except duckdb.Error as error:
            raise EngineError(f"cannot read the schema of {database}: {error}",
                              code="engine.introspect_failed") from None
        kept = _kept(tables, report)

        def query(sql: str) -> list[tuple[Any, ...]]:
            result = engine.execute(sql, timeout_s=timeout_s)
            return list(zip(*(column.to_pylist() for column in result.table.columns),
                            strict=True))

        inferred = infer(kept, query,
                         row_budget=ROW_BUDGET if row_budget is None else row_budget)
    files = _render(database, kept, inferred, report)
    _write_atomically(out, files)
    report.files = [out / name for name in files]
    return report


def _kept(tables: list[TableInfo], report: InitReport) -> dict[str, TableInfo]:
    """The tables and columns a catalog can hold, by folded name; the rest go to ``skipped``."""
    kept: dict[str, TableInfo] = {}
    for table in tables:
        where = table.name if table.schema == "main" else f"{table.schema}.{table.name}"
        if not (_NAME.match(table.name) and _NAME.match(table.schema)):
            report.skipped.append(f"table {where}: the catalog only holds names like my_table_1")
            continue
        if fold(table.name) in kept:
            report.skipped.append(f"table {where}: a table of the same name is already included")
            continue
        usable = [c for c in table.columns if _NAME.match(c.name)]
        report.skipped += [f"column {where}.{c.name}: the catalog only holds names like "
                           "my_column_1" for c in table.columns if not _NAME.match(c.name)]
        if not usable:
            report.skipped.append(f"table {where}: no column the catalog can hold")
            continue
        kept[fold(table.name)] = replace(table, columns=usable)
    return kept


def _render(database: Path, kept: dict[str, TableInfo], inferred: Inference,
            report: InitReport) -> dict[str, str]:
    source = _name_like(database.stem)
    report.skipped += inferred.skipped
    files = {"catalog.yaml": _catalog_file(database, source)}
    for key, table in kept.items():
        stem = table.name if table.schema == "main" else f"{table.schema}.{table.name}"
        files[f"tables/{stem}.yaml"] = _table_file(database, source, table, inferred.tables[key])
        report.tables.append(stem)
        report.columns += len(table.columns)
    if inferred.metrics:
        files["metrics.yaml"] = _metrics_file(database, inferred.metrics)
    report.relationships = inferred.relationships
    report.metrics = len(inferred.metrics)
    report.value_lists = inferred.value_lists
    return files


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


def _table_file(database: Path, source: str, table: TableInfo, facts: TableFacts) -> str:
    kind = "view" if table.is_view else "table"
    lines = [
        f"# Generated by `skipper catalog init` from {kind} {table.schema}.{table.name} of "
        f"{database.name}.",
        "# Describe what it means: fill in the TODOs; check the inferred keys, joins and value",
        "# lists (each says what it rests on); add synonyms, freshness (column + sla), sampling.",
        *(f"# Note: {note}." for note in facts.notes),
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
    if facts.primary_key:
        lines.append(f"    primary_key: [{', '.join(_scalar(k) for k in facts.primary_key)}]"
                     + _comment(facts.key_note))
    if not table.is_view:
        lines.append(f"    row_count: {table.row_count}")
    lines.append("    columns:")
    for column in table.columns:
        found = facts.columns.get(column.name)
        lines += [
            f"      - name: {_scalar(column.name)}",
            f"        type: {json.dumps(column.type)}",
            f"        description: {_TODO}",
        ]
        if found and found.tags:
            lines.append(f"        tags: [{', '.join(found.tags)}]"
                         + ("" if found.values is not None else _comment(found.note)))
        if found and found.values is not None:
            lines.append(f"        values: [{', '.join(_value(v) for v in found.values)}]"
                         + _comment(found.note))
    if facts.relationships:
        lines.append("    relationships:")
        for link in facts.relationships:
            if link.note:
                lines.append(f"      # {link.note}")
            lines += [
                f"      - table: {_scalar(link.table)}",
                f"        on: {json.dumps(link.on)}",
                f"        cardinality: {link.cardinality}",
            ]
    return "\n".join(lines) + "\n"


def _metrics_file(database: Path, metrics: list[MetricDraft]) -> str:
    lines = [
        f"# Generated by `skipper catalog init` from {database.name}: a row count per table and",
        "# sums of columns named like amounts. Rename them, add synonyms, drop what is useless.",
        "metrics:",
    ]
    for metric in metrics:
        lines += [
            f"  - name: {_scalar(metric.name)}",
            f"    label: {json.dumps(metric.label)}",
            f"    description: {json.dumps(metric.description)}",
            f"    table: {_scalar(metric.table)}",
            f"    expr: {json.dumps(metric.expr)}",
        ]
        if metric.time_column:
            lines.append(f"    time_column: {_scalar(metric.time_column)}")
        lines.append(f"    format: {metric.format}")
    return "\n".join(lines) + "\n"


def _comment(note: str | None) -> str:
    return f"  # {note}" if note else ""


def _value(value: str) -> str:
    """A value of a value list as YAML: bare when it reads back as the same string."""
    if _NAME.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


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
