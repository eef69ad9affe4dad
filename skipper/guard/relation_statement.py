"""Rule: a bare PIVOT, UNPIVOT or VALUES statement becomes ``SELECT * FROM (...)``."""

from __future__ import annotations

from sqlglot import exp

from skipper.guard.context import GuardContext


def select_from_relation(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    """DuckDB returns the same rows and columns either way; later rules only see queries."""
    if isinstance(tree, (exp.Pivot, exp.Values)):
        kind = "UNPIVOT" if isinstance(tree, exp.Pivot) and tree.args.get("unpivot") else (
            "PIVOT" if isinstance(tree, exp.Pivot) else "VALUES"
        )
        tree = exp.select("*").from_(exp.Subquery(this=tree))
        ctx.note(f"wrapped the {kind} statement as SELECT * FROM ({kind} ...)")
    return tree
