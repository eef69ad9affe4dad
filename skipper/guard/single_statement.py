"""Rule: exactly one statement; a trailing semicolon or comment is fine, a second one is not."""

from __future__ import annotations

from sqlglot import exp

from skipper.errors import MultipleStatementsError
from skipper.guard.context import GuardContext


def single_statement(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    if len(ctx.statements) > 1:
        raise MultipleStatementsError(
            f"the SQL holds {len(ctx.statements)} statements; send exactly one query",
            statements=len(ctx.statements),
        )
    return tree
