"""Rule: every column exists; qualify a copy of the tree against the catalog to prove it.

The executed tree is left as written: qualification rewrites stars, aliases and USING joins,
which DuckDB would name and order differently. The qualified copy is ``ctx.analysed``.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from skipper.errors import ParseError, UnknownColumnError
from skipper.guard.context import GuardContext
from skipper.guard.parse import first_line


def qualify_columns(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    analysed, pivoted = _analysis_copy(tree, ctx)
    try:
        ctx.analysed = _qualify(analysed, ctx, columns=True, validate=not pivoted)
    except OptimizeError as error:
        ctx.analysed = _qualify_again(tree, ctx, error, pivoted)
    except SqlglotError as error:
        raise ParseError(f"the query cannot be analysed: {first_line(error)}") from None
    return tree


def _qualify_again(
    tree: exp.Expression, ctx: GuardContext, error: OptimizeError, pivoted: bool
) -> exp.Expression:
    """Second tries for what DuckDB binds but sqlglot does not, before calling a column unknown.

    A PIVOT statement's output columns depend on the data, so what reads them cannot be checked
    before DuckDB runs it: qualify the tables only, and leave the columns to DuckDB. A derived
    table in FROM may read the tables before it without the LATERAL keyword in DuckDB: say
    LATERAL for sqlglot and look again.
    """
    analysed, _ = _analysis_copy(tree, ctx)  # the first copy is half-qualified by now
    if pivoted:
        return _qualify(analysed, ctx, columns=False, validate=False)
    if _make_derived_tables_lateral(analysed):
        try:
            return _qualify(analysed, ctx, columns=True, validate=True)
        except OptimizeError:
            pass
    raise _column_error(error, ctx) from None


def _make_derived_tables_lateral(analysed: exp.Expression) -> bool:
    """Turn ``FROM t, (SELECT t.x) q`` into ``FROM t, LATERAL (SELECT t.x) q`` in the copy."""
    changed = False
    for join in list(analysed.find_all(exp.Join)):
        derived = join.this
        if isinstance(derived, exp.Subquery) and derived.args.get("alias") is not None:
            alias = derived.args["alias"].pop()
            join.set("this", exp.Lateral(this=derived, view=False, outer=False, alias=alias))
            changed = True
    return changed


def _analysis_copy(tree: exp.Expression, ctx: GuardContext) -> tuple[exp.Expression, bool]:
    """A copy to qualify, and whether it held a PIVOT statement (checked, then stood in for)."""
    analysed = tree.copy()
    _point_at_catalog_tables(tree, analysed, ctx)
    pivots = [p for p in analysed.find_all(exp.Pivot) if p.args.get("this") is not None]
    for pivot in pivots:
        _check_pivot_columns(pivot, ctx)
        _read_whole_source(pivot)
    return analysed, bool(pivots)


def _qualify(
    analysed: exp.Expression, ctx: GuardContext, *, columns: bool, validate: bool
) -> exp.Expression:
    return qualify(
        analysed,
        schema=ctx.schema,
        dialect=ctx.dialect,
        qualify_columns=columns,
        validate_qualify_columns=validate,
        quote_identifiers=False,
        identify=False,
    )


def _point_at_catalog_tables(
    tree: exp.Expression, analysed: exp.Expression, ctx: GuardContext
) -> None:
    """Spell each catalog table in the copy as ``schema.table`` so the schema lookup is exact."""
    refs = {id(ref.node): ref.table for ref in ctx.table_refs}
    if not refs:
        return
    pairs = [
        (refs[id(original)], copied)
        for original, copied in zip(tree.walk(), analysed.walk(), strict=True)
        if id(original) in refs
    ]
    for table, copied in pairs:
        if isinstance(copied, exp.Table):
            copied.set("this", exp.to_identifier(table.name))
            copied.set("db", exp.to_identifier(table.db_schema))
            copied.set("catalog", None)


def _check_pivot_columns(pivot: exp.Pivot, ctx: GuardContext) -> None:
    """The columns a ``PIVOT t ON ... USING ... GROUP BY ...`` statement names exist in ``t``."""
    source = pivot.this
    if not isinstance(source, exp.Table) or not source.args.get("db"):
        return  # a CTE or subquery: its columns are checked where it is defined
    table = ctx.catalog.find_table(source.name)
    if table is None:
        return
    for key in ("expressions", "using", "group"):
        parts = pivot.args.get(key)
        for part in parts if isinstance(parts, list) else [parts]:
            if not isinstance(part, exp.Expression):
                continue
            for column in part.find_all(exp.Column):
                if table.column(column.name) is None:
                    raise UnknownColumnError(
                        f"column {column.name!r} is not in {table.name}; check the spelling "
                        "against the catalog",
                        column=column.name,
                    )


def _read_whole_source(pivot: exp.Pivot) -> None:
    """Stand in ``SELECT * FROM source`` for the PIVOT statement, which qualify cannot read.

    A PIVOT statement groups by every column it does not pivot, so it reads its whole source.
    """
    select = exp.select("*").from_(pivot.this)
    with_ = pivot.args.get("with_")
    if with_ is not None:
        select.set("with_", with_)
    pivot.replace(select)


def _column_error(error: OptimizeError, ctx: GuardContext) -> UnknownColumnError:
    message = first_line(error)
    column = ""
    if message.startswith("Column '") and "'" in message[8:]:
        column = message[8 : message.index("'", 8)]
    elif message.startswith("Unknown column: "):
        column = message.removeprefix("Unknown column: ").strip()
    tables = ", ".join(ctx.tables) or "the query's tables"
    if column:
        return UnknownColumnError(
            f"column {column!r} is not in {tables} (nor an alias the query defines), or more "
            "than one table has it; check the spelling against the catalog, and qualify it "
            "with its table",
            column=column,
        )
    return UnknownColumnError(f"the query's columns do not check out: {message}")
