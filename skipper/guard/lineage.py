"""Rule: record which catalog columns the query reads, traced through aliases, CTEs and subqueries.

It reads the qualified copy (``ctx.analysed``): stars and ``* EXCLUDE`` are expanded there and
every column names its source. What qualification cannot spell out is counted generously, so
the record never misses a column: ``COLUMNS(...)`` counts every column of its tables, a
whole-row reference (``SELECT t FROM t``, ``to_json(t)``) counts the whole table. A PIVOT reads
what its stand-in in the analysed copy reads: its group, ON and USING columns (``pivots``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from skipper.catalog import Table
from skipper.guard.context import GuardContext
from skipper.identifiers import fold


@dataclass(frozen=True)
class ColumnRead:
    """One place in the analysed tree that reads a catalog table's column, or all of them.

    ``node`` (a column, star, ``COLUMNS(...)`` or whole-row reference in ``ctx.analysed``) tells
    where the read happens: governance can ask whether it sits in a WHERE, a JOIN or a GROUP BY.
    ``column`` is the catalog's spelling, or None for every column of ``table``.
    """

    node: exp.Expr
    table: Table
    column: str | None
    through: bool = False
    """True when ``node`` reads a CTE's or subquery's column that this catalog column feeds."""


def record_lineage(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    analysed = ctx.analysed if ctx.analysed is not None else tree
    ctx.column_reads = column_reads(analysed, ctx)
    reads: dict[str, set[str]] = {name: set() for name in ctx.tables}
    for read in ctx.column_reads:
        names = reads.setdefault(read.table.name, set())
        if read.column is None:
            names.update(column.name for column in read.table.columns)
        else:
            names.add(read.column)
    ctx.columns = {name: sorted(columns) for name, columns in sorted(reads.items())}
    return tree


def column_reads(analysed: exp.Expression, ctx: GuardContext) -> list[ColumnRead]:
    """Every catalog column the (qualified) tree reads, with the node that reads it."""
    found: list[ColumnRead] = []
    for scope in traverse_scope(analysed):
        _Scope(scope, ctx, found).collect()
    return found


class _Scope:
    def __init__(self, scope: Scope, ctx: GuardContext, found: list[ColumnRead]) -> None:
        self.scope = scope
        self.ctx = ctx
        self.found = found

    def collect(self) -> None:
        scope = self.scope
        for column in scope.columns:
            self.ctx.budget.check()  # a star over wide tables expands to many thousands
            if isinstance(column.this, exp.Star):
                self._star(column, column.table)
            elif column.table:
                source = _source(scope, column.table)
                if isinstance(source, exp.Table):
                    self._read(column, source, column.name)
                elif isinstance(source, Scope):
                    for table, name in _origins(source, column.name, self.ctx, set()):
                        self.found.append(ColumnRead(column, table, name, through=True))
            elif column.name not in scope.sources:
                for source in _tables_of(scope):
                    self._read(column, source, column.name)
        for node in walk_in_scope(scope.expression):
            if isinstance(node, exp.TableColumn) or (
                isinstance(node, exp.Column) and not node.table and node.name in scope.sources
            ):
                source = _source(scope, node.name)
                if isinstance(source, exp.Table):
                    self._read(node, source, None)  # whole row: SELECT t FROM t, to_json(t)
            elif isinstance(node, exp.Columns):
                # COLUMNS(...) takes a regular expression for DuckDB's RE2; matching it here
                # with Python's backtracking ``re`` could take exponential time on a hostile
                # pattern, and counting too much is the safe side for lineage.
                for source in _tables_of(scope):
                    self._read(node, source, None)
            elif isinstance(node, exp.Star) and isinstance(node.parent, exp.Select):
                self._star(node, "")

    def _read(self, node: exp.Expr, source: exp.Table, column: str | None) -> None:
        table = _catalog_table(source, self.ctx)
        if table is None:
            return
        if column is None:
            self.found.append(ColumnRead(node, table, None))
            return
        declared = table.column(column)
        if declared is not None:
            self.found.append(ColumnRead(node, table, declared.name))

    def _star(self, node: exp.Expr, qualifier: str) -> None:
        if qualifier:
            source = _source(self.scope, qualifier)
            if isinstance(source, exp.Table):
                self._read(node, source, None)
            return
        for source in _tables_of(self.scope):
            self._read(node, source, None)


def _catalog_table(source: exp.Table, ctx: GuardContext) -> Table | None:
    """The catalog table a source names; None for a CTE (an unqualified name the query defines)."""
    if fold(source.name) in ctx.cte_names and not source.args.get("db"):
        return None
    return ctx.catalog.find_table(source.name)


def _origins(
    scope: Scope, name: str, ctx: GuardContext, seen: set[tuple[int, str]]
) -> list[tuple[Table, str | None]]:
    """The catalog columns that a derived table's (or CTE's) output column ``name`` is made of."""
    ctx.budget.check()  # tracing every column of an n-CTE chain takes n² steps
    key = (id(scope), name)
    if key in seen:
        return []  # a recursive CTE reading itself
    seen.add(key)
    # a union's columns are named by its first arm, and every arm feeds them by position
    return _origins_at(scope, _projection_index(scope, name), ctx, seen)


def _projection_index(scope: Scope, name: str) -> int | None:
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        return _projection_index(scope.set_operation_scopes[0], name) if (
            scope.set_operation_scopes
        ) else None
    if not isinstance(expression, exp.Select):
        return None
    for index, projection in enumerate(expression.selects):
        if projection.alias_or_name == name:
            return index
    return None


def _origins_at(
    scope: Scope, index: int | None, ctx: GuardContext, seen: set[tuple[int, str]]
) -> list[tuple[Table, str | None]]:
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        found: list[tuple[Table, str | None]] = []
        for arm in scope.set_operation_scopes:
            found += _origins_at(arm, index, ctx, seen)
        return found
    if index is None or not isinstance(expression, exp.Select):
        return []
    selects = expression.selects
    if index >= len(selects):
        return []
    found = []
    for column in selects[index].find_all(exp.Column):
        source = _source(scope, column.table) if column.table else None
        if isinstance(source, exp.Table):
            table = _catalog_table(source, ctx)
            if table is not None:
                declared = table.column(column.name)
                if declared is not None:
                    found.append((table, declared.name))
        elif isinstance(source, Scope):
            found += _origins(source, column.name, ctx, seen)
    return found


def _source(scope: Scope, name: str) -> exp.Table | Scope | None:
    """The source a qualifier names, looking outwards for correlated references."""
    current: Scope | None = scope
    while current is not None:
        found = current.sources.get(name)
        if found is not None:
            return found
        current = current.parent
    return None


def _tables_of(scope: Scope) -> list[exp.Table]:
    return [s for s in scope.sources.values() if isinstance(s, exp.Table)]
