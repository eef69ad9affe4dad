"""Rule: drop SQL comments, so the executed text is exactly the query and nothing rides along."""

from __future__ import annotations

from sqlglot import exp

from skipper.guard.context import GuardContext


def drop_comments(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    dropped = False
    for node in tree.walk():
        if node.comments:
            node.comments = None
            dropped = True
    if dropped:
        ctx.note("removed SQL comments")
    return tree
