"""Rule: record which catalog columns the query reads, traced through aliases, CTEs and subqueries.

It reads the qualified copy (``ctx.analysed``): stars and ``* EXCLUDE`` are expanded there and
every column names its source. What qualification cannot spell out is counted generously, so
the record never misses a column: ``COLUMNS(...)`` counts every column of its tables, a
whole-row reference (``SELECT t FROM t``, ``to_json(t)``) counts the whole table, and so does a
``PIVOT ... ON`` statement (the analysed copy reads it as ``SELECT * FROM source``).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope, walk_in_scope

from skipper.catalog import Table
from skipper.guard.context import GuardContext


def record_lineage(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    analysed = ctx.analysed if ctx.analysed is not None else tree
    reads: dict[str, set[str]] = {name: set() for name in ctx.tables}
    lineage = _Lineage(ctx, reads)
    for scope in traverse_scope(analysed):
        lineage.scope(scope)
    ctx.columns = {name: sorted(columns) for name, columns in sorted(reads.items())}
    return tree


class _Lineage:
    def __init__(self, ctx: GuardContext, reads: dict[str, set[str]]) -> None:
        self.ctx = ctx
        self.reads = reads

    def scope(self, scope: Scope) -> None:
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                self._star(scope, column.table)
            elif column.table:
                source = _source(scope, column.table)
                if isinstance(source, exp.Table):
                    self.read(source, column.name)
            elif column.name not in scope.sources:
                for source in _tables_of(scope):
                    self.read(source, column.name)
        for node in walk_in_scope(scope.expression):
            if isinstance(node, exp.TableColumn) or (
                isinstance(node, exp.Column) and not node.table and node.name in scope.sources
            ):
                source = _source(scope, node.name)
                if isinstance(source, exp.Table):
                    self.whole(source)  # a whole-row reference: SELECT t FROM t, to_json(t)
            elif isinstance(node, exp.Columns):
                self._columns_expression(scope, node)
            elif isinstance(node, exp.Star) and isinstance(node.parent, exp.Select):
                self._star(scope, "")

    def read(self, source: exp.Table, column: str) -> None:
        table = self._table(source)
        if table is None:
            return
        declared = table.column(column)
        if declared is not None:
            self.reads.setdefault(table.name, set()).add(declared.name)

    def whole(self, source: exp.Table) -> None:
        table = self._table(source)
        if table is not None:
            self.reads.setdefault(table.name, set()).update(c.name for c in table.columns)

    def _star(self, scope: Scope, qualifier: str) -> None:
        if qualifier:
            source = _source(scope, qualifier)
            if isinstance(source, exp.Table):
                self.whole(source)
            return
        for source in _tables_of(scope):
            self.whole(source)

    def _columns_expression(self, scope: Scope, node: exp.Columns) -> None:
        """``COLUMNS(...)`` counts every column of the scope's tables.

        Its pattern is a regular expression for DuckDB's RE2; matching it here with Python's
        backtracking ``re`` could take exponential time on a hostile pattern, and counting too
        much is the safe side for lineage.
        """
        for source in _tables_of(scope):
            self.whole(source)

    def _table(self, source: exp.Table) -> Table | None:
        if source.name.lower() in self.ctx.cte_names and not source.args.get("db"):
            return None
        return self.ctx.catalog.find_table(source.name)


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
