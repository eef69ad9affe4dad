"""Rule: every column exists; qualify a copy of the tree against the catalog to prove it.

The executed tree is left as written: qualification rewrites stars, aliases and USING joins,
which DuckDB would name and order differently. The qualified copy is ``ctx.analysed``. Where only
DuckDB knows a relation's columns (``COLUMNS(...)``, a PIVOT), the copy holds what DuckDB's binder
says on the empty schema (``stars``, ``pivots``), so validation stays on for the whole query.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from skipper.errors import ParseError, UnknownColumnError
from skipper.guard.binder import schema_binder
from skipper.guard.context import GuardContext
from skipper.guard.parse import first_line
from skipper.guard.pivots import PivotStandIn, plan_pivots, stand_in_pivots
from skipper.guard.stars import plan_star_expressions, spell_out_stars
from skipper.identifiers import fold

_MAX_ADMITTED = 64


def qualify_columns(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    prepared, stand_ins = _analysis_copy(tree, ctx)
    admitted = 0
    while True:
        try:
            ctx.analysed = _qualify(prepared.copy(), ctx)
            return tree
        except OptimizeError as error:
            if admitted < _MAX_ADMITTED and _admit_pivot_value(prepared, stand_ins, error, ctx):
                admitted += 1
                continue
            ctx.analysed = _qualify_again(prepared, ctx, error)
            return tree
        except SqlglotError as error:
            raise ParseError(f"the query cannot be analysed: {first_line(error)}") from None


def _qualify_again(
    prepared: exp.Expr, ctx: GuardContext, error: OptimizeError
) -> exp.Expression:
    """A second try for what DuckDB binds but sqlglot does not, before calling a column unknown:
    a derived table in FROM may read the tables before it without the LATERAL keyword in
    DuckDB, so say LATERAL for sqlglot and look again."""
    analysed = prepared.copy()
    if _make_derived_tables_lateral(analysed):
        try:
            return _qualify(analysed, ctx)
        except OptimizeError:
            pass
    raise _column_error(error, ctx) from None


def _admit_pivot_value(
    prepared: exp.Expr, stand_ins: list[PivotStandIn], error: OptimizeError,
    ctx: GuardContext,
) -> bool:
    """Whether the column sqlglot could not resolve may be a value column of a PIVOT without an
    IN list around it (then it is admitted as one): read unqualified or through the PIVOT's
    alias, where such a PIVOT is a source, and not a name DuckDB would otherwise bind."""
    dependent = {id(s.select): s for s in stand_ins if s.data_dependent}
    name = _unresolved_name(error)
    if not dependent or not name:
        return False
    admitting: list[PivotStandIn] = []
    for column in prepared.find_all(exp.Column):
        if fold(column.name) != fold(name) or isinstance(column.this, exp.Star):
            continue
        for stand_in, alias in _pivots_around(column, dependent):
            if (fold(alias) == fold(column.table) or not column.table) and (
                fold(name) not in stand_in.admitted
            ):
                admitting.append(stand_in)
    if not admitting or schema_binder(ctx.catalog).is_builtin_name(name):
        return False
    for stand_in in admitting:
        stand_in.admit(name)
    return True


def _pivots_around(
    column: exp.Column, dependent: dict[int, PivotStandIn]
) -> list[tuple[PivotStandIn, str]]:
    """The data-dependent PIVOT stand-ins that are sources of a SELECT enclosing ``column``,
    each with the name the SELECT reads it by."""
    found: list[tuple[PivotStandIn, str]] = []
    node: exp.Expr | None = column
    while node is not None:
        if isinstance(node, exp.Select):
            from_ = node.args.get("from_")
            sources = [from_.this] if isinstance(from_, exp.From) else []
            sources += [join.this for join in node.args.get("joins") or []]
            for source in sources:
                stand_in = _stand_in_read(source, dependent)
                if stand_in is not None:
                    found.append((stand_in, source.alias_or_name))
        node = node.parent
    return found


def _stand_in_read(
    source: exp.Expr, dependent: dict[int, PivotStandIn]
) -> PivotStandIn | None:
    """The stand-in a FROM source reads: the derived table itself, or the CTE it names."""
    if isinstance(source, exp.Subquery):
        return dependent.get(id(source.this))
    if isinstance(source, exp.Table) and not source.args.get("db"):
        for stand_in in dependent.values():
            cte = stand_in.select.parent
            if isinstance(cte, exp.CTE) and fold(cte.alias_or_name) == fold(source.name):
                return stand_in
    return None


def _unresolved_name(error: OptimizeError) -> str:
    message = first_line(error)
    if message.startswith("Column '") and "'" in message[8:]:
        return message[8 : message.index("'", 8)]
    if message.startswith("Unknown column: "):
        return message.removeprefix("Unknown column: ").strip()
    return ""


def _make_derived_tables_lateral(analysed: exp.Expr) -> bool:
    """Turn ``FROM t, (SELECT t.x) q`` into ``FROM t, LATERAL (SELECT t.x) q`` in the copy."""
    changed = False
    for join in list(analysed.find_all(exp.Join)):
        derived = join.this
        if isinstance(derived, exp.Subquery) and derived.args.get("alias") is not None:
            alias = derived.args["alias"].pop()
            join.set("this", exp.Lateral(this=derived, view=False, outer=False, alias=alias))
            changed = True
    return changed


def _analysis_copy(
    tree: exp.Expression, ctx: GuardContext
) -> tuple[exp.Expr, list[PivotStandIn]]:
    """A copy to qualify: catalog tables spelled exactly, star expressions sqlglot cannot expand
    spelled out and each PIVOT replaced by a stand-in, both with the columns DuckDB binds."""
    analysed = tree.copy()
    _point_at_catalog_tables(tree, analysed, ctx)
    has_pivot = analysed.find(exp.Pivot) is not None
    if not has_pivot and not _has_star_expression(analysed):
        return analysed, []
    binder = schema_binder(ctx.catalog)
    for pivot in analysed.find_all(exp.Pivot):
        if pivot.args.get("this") is not None:
            _check_pivot_columns(pivot, ctx)
    stars = plan_star_expressions(analysed, binder, ctx.dialect)
    pivots = plan_pivots(analysed, binder, ctx.dialect) if has_pivot else []
    spell_out_stars(stars)
    return stand_in_pivots(analysed, pivots)


def _has_star_expression(analysed: exp.Expr) -> bool:
    return analysed.find(exp.Columns) is not None or any(
        isinstance(star.parent, exp.Column) and star.parent.table
        or isinstance(star.parent, (exp.Like, exp.ILike, exp.SimilarTo, exp.Glob))
        for star in analysed.find_all(exp.Star)
    )


def _qualify(analysed: exp.Expr, ctx: GuardContext) -> exp.Expression:
    qualified = qualify(
        analysed,
        schema=ctx.schema,
        dialect=ctx.dialect,
        quote_identifiers=False,
        identify=False,
    )
    if not isinstance(qualified, exp.Expression):
        raise ParseError("the query cannot be analysed; rewrite it more plainly")
    return qualified


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


def _column_error(error: OptimizeError, ctx: GuardContext) -> UnknownColumnError:
    message = first_line(error)
    column = _unresolved_name(error)
    tables = ", ".join(ctx.tables) or "the query's tables"
    if column:
        return UnknownColumnError(
            f"column {column!r} is not in {tables} (nor an alias the query defines), or more "
            "than one table has it; check the spelling against the catalog, and qualify it "
            "with its table",
            column=column,
        )
    return UnknownColumnError(f"the query's columns do not check out: {message}")
