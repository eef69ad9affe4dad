"""Catalog terms made ready for SQL: metrics and dimensions with parsed, qualified expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog, Column, Dimension, Metric, Segment, Table
from skipper.errors import SkipperError, UnknownTermError

# Aggregates a question may ask of one column ("average cost", "how many distinct cities").
AGGREGATE = re.compile(r"^(avg|median|min|max|sum|count_distinct)\((\w+)\.(\w+)\)$",
                       re.IGNORECASE)
NUMERIC_AGGREGATES = {"avg": "average", "median": "median", "min": "minimum", "max": "maximum",
                      "sum": "total"}
_SECRET_TAGS = {"pii", "secret", "weight"}
_TIME_TYPES = ("DATE", "TIMESTAMP", "DATETIME", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")
_NUMBER_PREFIXES = ("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT", "REAL",
                    "DECIMAL", "NUMERIC", "UBIGINT", "UINTEGER", "INTEGER")


def qualify(sql: str, table: Table, dialect: str) -> exp.Expr:
    """Parse a catalog snippet and name ``table`` on each of its bare top-level columns.

    Columns inside a subquery of the snippet belong to that subquery's own FROM and stay as
    written.
    """
    tree = sqlglot.parse_one(sql, read=dialect)
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.find_ancestor(exp.Select) is None:
            column.set("table", exp.to_identifier(table.name))
    return tree


def is_time_type(type_name: str | None) -> bool:
    return bool(type_name) and str(type_name).upper().startswith(_TIME_TYPES)


def is_year_type(type_name: str | None) -> bool:
    """An integer column used as a time column holds years (``year: 2021``)."""
    return bool(type_name) and str(type_name).upper().startswith(
        ("INT", "BIGINT", "SMALLINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT"))


def is_date_type(type_name: str | None) -> bool:
    return bool(type_name) and str(type_name).upper() == "DATE"


@dataclass
class ResolvedMetric:
    name: str
    label: str
    table: Table
    expr: exp.Expr
    filters: list[exp.Expr]
    time_column: Column | None
    format: str
    entity_count: bool
    source: Metric


@dataclass
class ResolvedDimension:
    name: str
    label: str
    table: Table
    expr: exp.Expr
    kind: str
    column: Column | None = None
    values: list[str | int | bool] = field(default_factory=list)


class Terms:
    """Looks catalog names up and prepares their SQL, once per catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._metrics: dict[str, ResolvedMetric] = {}
        self._dimensions: dict[str, ResolvedDimension] = {}
        self._segments: dict[str, tuple[Table, exp.Expr]] = {}

    # ---- metrics ------------------------------------------------------------------------
    def metric(self, name: str) -> ResolvedMetric:
        key = name.lower()
        if key not in self._metrics:
            derived = AGGREGATE.match(name.strip())
            if derived is not None:
                self._metrics[key] = self._aggregate(*derived.groups())
                return self._metrics[key]
            metric = self.catalog.find_metric(name)
            if metric is None:
                known = ", ".join(m.name for m in self.catalog.metrics) or "none"
                raise UnknownTermError(f"no metric {name!r} in the catalog (metrics: {known})",
                                       term=name)
            self._metrics[key] = self._resolve_metric(metric)
        return self._metrics[key]

    def _resolve_metric(self, metric: Metric) -> ResolvedMetric:
        table = self.catalog.table(metric.table)
        dialect = self.catalog.dialect
        expr = qualify(metric.expr, table, dialect)
        time_column = table.column(metric.time_column) if metric.time_column else None
        return ResolvedMetric(
            name=metric.name,
            label=metric.label or metric.name.replace("_", " "),
            table=table,
            expr=expr,
            filters=[qualify(f, table, dialect) for f in metric.filters],
            time_column=time_column,
            format=metric.format,
            entity_count=counts_rows(expr, table),
            source=metric,
        )

    def _aggregate(self, function: str, table_name: str, column_name: str) -> ResolvedMetric:
        """``avg(shipments.cost)``: an aggregate of one catalog column, asked for in words
        ("average cost") rather than declared; dated like the table's declared metrics."""
        function = function.lower()
        table = self.catalog.find_table(table_name)
        column = table.column(column_name) if table is not None else None
        if table is None or column is None or {t.lower() for t in column.tags} & _SECRET_TAGS:
            raise UnknownTermError(f"no column {table_name}.{column_name} to aggregate",
                                   term=f"{table_name}.{column_name}")
        numeric = (column.type or "").upper().startswith(_NUMBER_PREFIXES)
        if function in NUMERIC_AGGREGATES and not numeric:
            raise UnknownTermError(f"{table.name}.{column.name} is not a number, so it has no "
                                   f"{NUMERIC_AGGREGATES[function]}", term=column.name)
        target = exp.column(column.name, table=table.name)
        expr: exp.Expr
        if function == "count_distinct":
            expr = exp.Count(this=exp.Distinct(expressions=[target]))
        else:
            expr = exp.func(function, target)
        label = column.label or column.name.replace("_", " ")
        words = {"count_distinct": "distinct", **NUMERIC_AGGREGATES}[function]
        label = f"{words.capitalize()} {label}" if function != "count_distinct" else (
            f"Distinct {label} values")
        time_column = self._table_time_column(table)
        source = Metric.model_construct(
            name=f"{function}({table.name}.{column.name})", label=label, description="",
            synonyms=[], table=table.name, expr=expr.sql(dialect=self.catalog.dialect),
            filters=[], time_column=time_column.name if time_column else None,
            format="integer" if function == "count_distinct" else "number",
            excluding=[], verbs=None)
        return ResolvedMetric(
            name=source.name, label=label, table=table, expr=expr, filters=[],
            time_column=time_column, format=source.format, entity_count=False, source=source)

    def _table_time_column(self, table: Table) -> Column | None:
        """The time column the table's declared metrics agree on, if they agree."""
        names = {m.time_column.lower() for m in self.catalog.metrics
                 if m.table.lower() == table.name.lower() and m.time_column}
        if len(names) != 1:
            return None
        return table.column(names.pop())

    # ---- dimensions ---------------------------------------------------------------------
    def dimension(self, name: str) -> ResolvedDimension:
        key = name.lower()
        if key not in self._dimensions:
            self._dimensions[key] = self._resolve_dimension(name)
        return self._dimensions[key]

    def is_time(self, name: str) -> bool:
        """Is ``name`` a time dimension? False for a name that is no dimension at all."""
        try:
            return self.dimension(name).kind == "time"
        except SkipperError:
            return False

    def _resolve_dimension(self, name: str) -> ResolvedDimension:
        declared = self.catalog.find_dimension(name)
        if declared is not None:
            return self._declared(declared)
        if "." in name:
            table_name, column_name = name.split(".", 1)
            table = self.catalog.find_table(table_name)
            column = table.column(column_name) if table else None
            if table is not None and column is not None:
                return ResolvedDimension(
                    name=name,
                    label=column.label or column.name.replace("_", " "),
                    table=table,
                    expr=exp.column(column.name, table=table.name),
                    kind=kind_of(column),
                    column=column,
                    values=list(column.values or []),
                )
        known = ", ".join(d.name for d in self.catalog.dimensions) or "none"
        raise UnknownTermError(
            f"no dimension {name!r} in the catalog (dimensions: {known}; or write table.column)",
            term=name,
        )

    def _declared(self, dimension: Dimension) -> ResolvedDimension:
        table = self.catalog.table(dimension.table)
        expr = qualify(dimension.sql, table, self.catalog.dialect)
        column = table.column(expr.name) if isinstance(expr, exp.Column) else None
        return ResolvedDimension(
            name=dimension.name,
            label=dimension.label or dimension.name.replace("_", " "),
            table=table,
            expr=expr,
            kind=dimension.kind,
            column=column,
            values=list(column.values or []) if column is not None else [],
        )

    # ---- segments -----------------------------------------------------------------------
    def segment(self, name: str) -> tuple[Segment, Table, exp.Expr]:
        segment = self.catalog.find_segment(name)
        if segment is None:
            known = ", ".join(s.name for s in self.catalog.segments) or "none"
            raise UnknownTermError(f"no segment {name!r} in the catalog (segments: {known})",
                                   term=name)
        key = segment.name.lower()
        if key not in self._segments:
            table = self.catalog.table(segment.table)
            self._segments[key] = (table, qualify(segment.filter, table, self.catalog.dialect))
        table, predicate = self._segments[key]
        return segment, table, predicate.copy()


def kind_of(column: Column) -> str:
    """A column's dimension kind, from its type."""
    type_name = (column.type or "").upper()
    if is_time_type(type_name):
        return "time"
    if type_name.startswith("BOOL"):
        return "boolean"
    if type_name.startswith(_NUMBER_PREFIXES) and not column.values:
        return "number"
    return "category"


def counts_rows(expr: exp.Expr, table: Table) -> bool:
    """Whether a metric counts the rows (entities) of its table: ``count(*)``, ``count(pk)``."""
    if not isinstance(expr, exp.Count):
        return False
    inner = expr.this
    if isinstance(inner, exp.Distinct):
        inner = inner.expressions[0] if len(inner.expressions) == 1 else None
    if inner is None or isinstance(inner, exp.Star):
        return True
    keys = {k.lower() for k in table.primary_key}
    return isinstance(inner, exp.Column) and inner.name.lower() in keys
