"""Rule: every table the query reads is a catalog table; CTEs may not borrow a catalog table's name.

Which name is a CTE and which is a stored table is decided the way DuckDB decides it (innermost
visible WITH wins; a CTE sees only the CTEs before it; a recursive CTE sees itself only in the
recursive arm of a plain UNION [ALL]; names fold as DuckDB folds them, ASCII letters only), not
the way sqlglot's scope module does: the two differ for a CTE that reads a table of its own
name, and that difference would let a query reach a table the catalog does not list. The
engine's bound plan checks the same question again (skipper.engine.relations).
"""

from __future__ import annotations

from sqlglot import exp

from skipper.catalog import Table
from skipper.errors import UnknownTableError
from skipper.guard.context import GuardContext, TableRef
from skipper.identifiers import fold

DEFAULT_SCHEMA = "main"


def catalog_tables_only(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    ctes = list(tree.find_all(exp.CTE))
    ctx.cte_names = {fold(cte.alias_or_name) for cte in ctes}
    for cte in ctes:
        if ctx.catalog.find_table(cte.alias_or_name) is not None:
            raise UnknownTableError(
                f"the CTE name {cte.alias_or_name!r} is also a catalog table; rename the CTE",
                table=cte.alias_or_name,
            )
    for node in tree.find_all(exp.Table):
        if isinstance(node.this, exp.Func) or (node.this is None and node.expressions):
            continue  # row generators in FROM (range, unnest): no_table_functions vetted them
        if not isinstance(node.this, exp.Identifier):
            raise UnknownTableError(
                f"{node.sql(dialect=ctx.dialect)!r} is not a table name; name a catalog table",
                table=node.sql(dialect=ctx.dialect),
            )
        if not node.args.get("db") and not node.args.get("catalog") and _is_cte_reference(node):
            continue
        ctx.table_refs.append(TableRef(node=node, table=_catalog_table(node, ctx)))
    ctx.tables = sorted({ref.table.name for ref in ctx.table_refs})
    return tree


def _catalog_table(node: exp.Table, ctx: GuardContext) -> Table:
    """The catalog table a stored-table reference names, if DuckDB would resolve it to one."""
    name, schema, database = node.name, node.args.get("db"), node.args.get("catalog")
    table = ctx.catalog.find_table(name)
    spelled = ".".join(part.name for part in (database, schema, node.this) if part is not None)
    if table is None:
        raise UnknownTableError(
            f"table {spelled!r} is not in the catalog; query only the catalog's tables",
            table=spelled,
        )
    table_schema = fold(table.db_schema)
    if database is not None and (
        ctx.database is None or fold(database.name) != fold(ctx.database)
    ):
        raise UnknownTableError(
            f"table {spelled!r} is outside this database; write {_spelling(table)}",
            table=spelled,
        )
    if schema is not None:
        qualifier = fold(schema.name)
        database_only = (
            database is None
            and ctx.database is not None
            and qualifier == fold(ctx.database)
            and table_schema == DEFAULT_SCHEMA
        )
        if qualifier != table_schema and not database_only:
            raise UnknownTableError(
                f"table {spelled!r} is not in the catalog; write {_spelling(table)}", table=spelled
            )
    elif table_schema != DEFAULT_SCHEMA:
        raise UnknownTableError(
            f"table {name!r} lives in schema {table.db_schema!r}; write {_spelling(table)}",
            table=spelled,
        )
    return table


def _spelling(table: Table) -> str:
    if fold(table.db_schema) == DEFAULT_SCHEMA:
        return table.name
    return f"{table.db_schema}.{table.name}"


def _is_cte_reference(node: exp.Table) -> bool:
    """Whether DuckDB binds this unqualified table name to a CTE visible at this point.

    Names compare as DuckDB compares them (``fold``): a reference this check wrongly called
    a CTE would never be checked against the catalog.
    """
    name = fold(node.name)
    child: exp.Expr = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            cte = child if isinstance(child, exp.CTE) else None
            if cte is not None and _sees_in_own_with(node, cte, parent, name):
                return True
        else:
            with_ = parent.args.get("with_")
            if (
                isinstance(with_, exp.With)
                and with_ is not child
                and any(fold(c.alias_or_name) == name for c in with_.expressions)
            ):
                return True
        child, parent = parent, parent.parent
    return False


def _sees_in_own_with(node: exp.Table, cte: exp.CTE, with_: exp.With, name: str) -> bool:
    """Inside a CTE body: the CTEs before it, and itself only in a recursive UNION's last arm."""
    for earlier in with_.expressions:
        if earlier is cte:
            break
        if fold(earlier.alias_or_name) == name:
            return True
    if fold(cte.alias_or_name) != name or not with_.args.get("recursive"):
        return False
    body = cte.this
    if not _recursive_union(body):
        return False
    recursive_arm = body.expression
    ancestor: exp.Expr | None = node
    while ancestor is not None and ancestor is not cte:
        if ancestor is recursive_arm:
            return True
        ancestor = ancestor.parent
    return False


def _recursive_union(body: exp.Expr | None) -> bool:
    """Whether DuckDB runs this CTE body as a recursion: only a plain ``UNION`` or ``UNION ALL``
    does. In any other body (``UNION [ALL] BY NAME``, ``INTERSECT``, ``EXCEPT``, a lone SELECT)
    the CTE's own name binds to the stored table of that name, so the guard must check it."""
    return (
        isinstance(body, exp.Union)
        and not body.args.get("by_name")
        and not body.args.get("side")
        and not body.args.get("kind")
        and not body.args.get("on")
    )
