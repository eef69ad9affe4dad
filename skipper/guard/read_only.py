"""Rule: the statement is a read query, and nothing inside it writes, configures or commands."""

from __future__ import annotations

from sqlglot import exp

from skipper.errors import NotReadOnlyError
from skipper.guard.context import GuardContext

READ_STATEMENTS: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.SetOperation,
    exp.Subquery,
    exp.Pivot,
    exp.Values,
)
"""The statement kinds a query may be: SELECT / FROM-first / WITH, UNION & co, PIVOT, VALUES."""

_STATEMENT_MODULES = frozenset(
    f"sqlglot.expressions.{name}" for name in ("ddl", "dml", "properties", "constraints")
)
_EXPRESSIONS_IN_STATEMENT_MODULES: tuple[type[exp.Expression], ...] = (exp.Comprehension,)
_STATEMENT_NODES: tuple[type[exp.Expression], ...] = (
    exp.Into,
    exp.Lock,
    exp.Analyze,
    exp.Grant,
    exp.Revoke,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.LockingStatement,
    exp.SessionParameter,
)


def read_only(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    if not isinstance(tree, READ_STATEMENTS) or (
        isinstance(tree, exp.Subquery) and not isinstance(tree.unnest(), exp.Query)
    ):
        raise NotReadOnlyError(
            f"only read queries are allowed (SELECT, WITH, FROM, PIVOT, UNION ...), "
            f"not {_statement_name(tree)}",
            statement=_statement_name(tree),
        )
    for node in tree.walk():
        if _is_statement(node):
            raise NotReadOnlyError(
                f"a read query may not contain {_statement_name(node)}; "
                "remove it and send only the SELECT",
                statement=_statement_name(node),
            )
    return tree


def _is_statement(node: exp.Expr) -> bool:
    kind = type(node)
    if kind.__module__ in _STATEMENT_MODULES:
        return not isinstance(node, _EXPRESSIONS_IN_STATEMENT_MODULES)
    return isinstance(node, _STATEMENT_NODES)


def _statement_name(node: exp.Expr) -> str:
    """A readable name for a statement kind: ``INSERT``, ``SET``, ``COPY``, ``PRAGMA`` ..."""
    if isinstance(node, exp.Command):
        return str(node.this).upper() or "a command"
    if isinstance(node, exp.Column):
        return node.sql().upper() or "an expression"
    return type(node).key.upper().replace("_", " ")
