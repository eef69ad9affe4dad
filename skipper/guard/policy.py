"""Rule: governance. Refuse masked columns in predicates, then replace every governed table
reference by a policy subquery ``(SELECT <masked columns> FROM t WHERE <row filter>) AS t``.

Because the subquery stands where the table stood, masks hold wherever the query reads the
column (stars, whole-row references, COLUMNS(...), CTEs, unions, PIVOT) and the user's own
predicates, outside it, can only narrow the filtered rows. Forbidden tables and hidden columns
never get this far: the guard checks the query against the principal's catalog view, so they
fail exactly like names that do not exist.
"""

from __future__ import annotations

from sqlglot import exp

from skipper.errors import PolicyError
from skipper.guard.context import GuardContext
from skipper.identifiers import fold
from skipper.policy.access import TablePolicy
from skipper.policy.masks import mask_expression

_PREDICATE_CLAUSES = (exp.Where, exp.Having, exp.Qualify, exp.Group, exp.Order, exp.Case,
                      exp.If, exp.Filter)
_CLAUSE_NAMES = {"group": "GROUP BY", "order": "ORDER BY", "if": "CASE", "filter": "FILTER",
                 "distinct": "DISTINCT ON"}
_MOVED_TO_SUBQUERY = ("pivots", "sample", "joins", "laterals")


def apply_policies(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    access = ctx.access
    if access is None or not access.rewrites:
        return tree
    for read in ctx.column_reads:
        policy = access.table_policy(read.table.name)
        if policy is None or read.column is None:
            continue
        classification = policy.masks.get(read.column)
        if classification is None or classification.in_predicates:
            continue
        clause = _predicate_clause(read.node) or _sorted_by_projection(read.node)
        if clause:
            raise PolicyError(
                f"{read.table.name}.{read.column} is masked for you ({classification.name}), so "
                f"it cannot be used in {clause}; select it (masked) or leave it out",
                code="policy.column_in_predicate", table=read.table.name, column=read.column,
            )
    applied: set[str] = set()
    for ref in ctx.table_refs:
        policy = access.table_policy(ref.table.name)
        if policy is None or not policy.rewrites:
            continue
        if ref.node.root() is not tree:  # an earlier rule replaced it: fail closed
            raise PolicyError("the query could not be governed; rewrite it more plainly",
                              code="policy.not_applied", table=ref.table.name)
        _replace(ref.node, policy)
        applied.add(fold(policy.table.name))
    for name in sorted(applied):
        ctx.policies.extend(_describe(access.tables[name]))
    return tree


def _predicate_clause(node: exp.Expr) -> str | None:
    """The clause (WHERE, JOIN ON, GROUP BY, ...) above ``node`` that compares or sorts by it."""
    child: exp.Expr = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, _PREDICATE_CLAUSES):
            return _CLAUSE_NAMES.get(parent.key, parent.key.upper())
        if isinstance(parent, exp.Join) and child is not parent.this:
            return "JOIN"
        if isinstance(parent, exp.Window) and child is not parent.this:
            return "a window's PARTITION BY / ORDER BY"
        if isinstance(parent, exp.Distinct) and parent.args.get("on") is not None:
            return "DISTINCT ON"
        child, parent = parent, parent.parent
    return None


def _sorted_by_projection(node: exp.Expr) -> str | None:
    """ORDER BY / GROUP BY naming the projection (by alias or position) that reads ``node``."""
    projection: exp.Expr = node
    while projection.parent is not None and not isinstance(projection.parent, exp.Select):
        projection = projection.parent
    select = projection.parent
    if not isinstance(select, exp.Select) or projection not in select.expressions:
        return None
    name = fold(projection.alias_or_name)
    position = select.expressions.index(projection) + 1
    for key in ("order", "group", "having", "qualify", "distinct"):
        clause = select.args.get(key)
        if not isinstance(clause, exp.Expr):
            continue
        if clause.args.get("all") or any(
            isinstance(v, exp.Var) and v.name.upper() == "ALL" for v in clause.find_all(exp.Var)
        ):
            return f"{_CLAUSE_NAMES.get(clause.key, clause.key.upper())} ALL"
        for found in clause.find_all(exp.Column, exp.Literal):
            if isinstance(found, exp.Column) and not found.table and fold(found.name) == name:
                return _CLAUSE_NAMES.get(clause.key, clause.key.upper())
            if isinstance(found, exp.Literal) and key in ("order", "group") and (
                not found.is_string and found.this == str(position)
            ):
                return _CLAUSE_NAMES.get(clause.key, clause.key.upper())
    return None


def _replace(node: exp.Table, policy: TablePolicy) -> None:
    db = _copy(node.args.get("db")) or exp.to_identifier(policy.table.db_schema)
    source = exp.Table(this=node.this.copy(), db=db, catalog=_copy(node.args.get("catalog")))
    projections: list[exp.Expr] = []
    for column in policy.table.columns:
        reference = exp.column(column.name, quoted=True)
        classification = policy.masks.get(column.name)
        if classification is None:
            projections.append(reference)
        else:
            masked = mask_expression(reference, classification, type_=column.type)
            projections.append(exp.alias_(masked, column.name, quoted=True))
    select = exp.select(*projections).from_(source)
    if policy.row_filter is not None:
        select = select.where(policy.row_filter.copy())
    alias = node.args.get("alias")
    if alias is None:
        alias = exp.TableAlias(this=exp.to_identifier(node.name))
        _unqualify_columns(node)
    subquery = exp.Subquery(this=select, alias=alias.copy())
    for key in _MOVED_TO_SUBQUERY:
        value = node.args.get(key)
        if value:
            subquery.set(key, value)
    node.replace(subquery)


def _unqualify_columns(node: exp.Table) -> None:
    """``main.accounts.x`` no longer names anything once ``main.accounts`` is a subquery."""
    root = node.root()
    name = fold(node.name)
    for column in root.find_all(exp.Column):
        if column.args.get("db") is not None and fold(column.table) == name:
            column.set("db", None)
            column.set("catalog", None)


def _copy(value: object) -> exp.Expr | None:
    return value.copy() if isinstance(value, exp.Expr) else None


def _describe(policy: TablePolicy) -> list[dict[str, str]]:
    table = policy.table.name
    out = [{"kind": "mask", "table": table, "column": column, "classification": c.name,
            "mask": c.mask} for column, c in sorted(policy.masks.items())]
    out += [{"kind": "hidden", "table": table, "column": column} for column in policy.hidden]
    if policy.row_filter is not None:
        out.append({"kind": "row_filter", "table": table, "groups": ",".join(policy.filter_groups),
                    "where": policy.row_filter.sql()})
    return out
