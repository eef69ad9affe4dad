"""Star expressions sqlglot cannot expand, spelled out in the analysis copy with DuckDB's columns.

``COLUMNS('^trip_')``, ``COLUMNS(lambda c: ...)``, ``* LIKE 'x%'`` and a struct's ``s.*`` produce
columns only DuckDB's binder knows (its RE2 regular expressions, its case folding, its lambdas),
so a query naming them from outside was refused. For a derived table or CTE holding one, each such
projection is bound on the empty schema alone and replaced, in the analysis copy only, by one
projection per column DuckDB gives it: the column itself where the projection is a bare
selection from one relation, else the projection aliased to the name (it still reads what it
read). ``*``, ``t.*`` and ``* EXCLUDE / REPLACE / RENAME`` are left to sqlglot, which expands them.
"""

from __future__ import annotations

from sqlglot import exp

from skipper.guard.binder import SchemaBinder, bindable
from skipper.identifiers import fold

_SELECTION_FILTERS = (exp.Like, exp.ILike, exp.SimilarTo, exp.Glob, exp.RegexpLike)

Replacement = tuple[exp.Expr, list[exp.Expr]]


def plan_star_expressions(
    analysed: exp.Expr, binder: SchemaBinder, dialect: str
) -> list[Replacement]:
    """For each star projection of a non-outermost SELECT: what replaces it (bound now, while
    the copy is still as written). A projection DuckDB cannot bind alone is left as it is."""
    plans: list[Replacement] = []
    for select in analysed.find_all(exp.Select):
        if _outermost(select, analysed):
            continue
        for projection in select.expressions:
            kind = _star_kind(projection, select)
            if kind is None:
                continue
            probe = exp.Select(expressions=[projection.copy()])
            for key in ("from_", "joins", "laterals", "windows"):
                value = select.args.get(key)
                if value:
                    probe.set(key, [v.copy() for v in value] if isinstance(value, list)
                              else value.copy())
            sql = bindable(probe, dialect, context=select)
            names = binder.output_names(sql) if sql is not None else None
            if names is None:
                continue
            plans.append((projection, [_spelled(projection, kind, name, select)
                                       for name in names]))
    return plans


def spell_out_stars(plans: list[Replacement]) -> None:
    for projection, replacements in plans:
        select = projection.parent
        if not isinstance(select, exp.Select):
            continue
        expressions = list(select.expressions)
        at = next(i for i, e in enumerate(expressions) if e is projection)
        select.set("expressions", expressions[:at] + replacements + expressions[at + 1:])


def _star_kind(projection: exp.Expr, select: exp.Select) -> str | None:
    """``selection`` (columns of the FROM), ``struct`` (fields of a struct column), ``other``
    (COLUMNS inside an expression), or None when sqlglot can read the projection itself."""
    bare = projection.unalias()
    if isinstance(bare, exp.Columns) or (
        isinstance(bare, _SELECTION_FILTERS) and isinstance(bare.this, exp.Star)
    ):
        return "selection" if bare is projection else "other"
    if isinstance(bare, exp.Column) and isinstance(bare.this, exp.Star) and bare.table:
        sources = {fold(source.alias_or_name) for source in _sources(select)}
        return None if fold(bare.table) in sources else "struct"
    if projection.find(exp.Columns) is not None:
        return "other"
    return None


def _spelled(
    projection: exp.Expr, kind: str, name: str, select: exp.Select
) -> exp.Expr:
    identifier = exp.to_identifier(name)
    bare = projection.unalias()
    if kind == "selection" and len(_sources(select)) == 1:
        return exp.column(identifier)
    if kind == "struct" and isinstance(bare, exp.Column):
        parts = [p for p in (bare.args.get("catalog"), bare.args.get("db"), bare.args.get("table"))
                 if p is not None]
        struct = exp.column(parts[-1].copy(), table=parts[-2].copy() if len(parts) > 1 else None)
        return exp.alias_(struct, identifier)
    return exp.alias_(bare.copy(), identifier)


def _sources(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_")
    found = [from_.this] if isinstance(from_, exp.From) else []
    found += [join.this for join in select.args.get("joins") or []]
    return found


def _outermost(select: exp.Select, root: exp.Expr) -> bool:
    """Whether nothing reads this SELECT's column names (the statement's own result)."""
    node: exp.Expr = select
    while node is not root:
        parent = node.parent
        if not isinstance(parent, exp.SetOperation):
            return False
        node = parent
    return True
