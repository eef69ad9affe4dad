"""Rule: note the row cap; the engine applies it while fetching, so the SQL itself is unchanged.

Capping at fetch time (not with LIMIT) lets the engine count every row and say how many there
were, and leaves ORDER BY / LIMIT semantics exactly as the query wrote them.
"""

from __future__ import annotations

from sqlglot import exp

from skipper.guard.context import GuardContext


def cap_rows(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    return tree
