"""Rule: stars must not expand to more columns than the guard can check in its time budget.

``qualify_columns`` expands every star in one sqlglot call that the time budget cannot stop
halfway, and a star costs the width of what it reads: ``SELECT *, *, ... FROM wide`` or a chain
of CTEs that each join one more wide table to the last would take seconds. So the stars are
priced before they are expanded, generously: each may read every column of every table the query
names and every column it spells out.
"""

from __future__ import annotations

from sqlglot import exp

from skipper.errors import TooComplexError
from skipper.guard.context import GuardContext

MAX_EXPANDED_COLUMNS = 10_000


def bounded_stars(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    stars = spelled = width = 0
    for node in tree.walk():
        if isinstance(node, exp.Star):
            stars += not isinstance(node.parent, exp.Count)  # count(*) expands to nothing
        elif isinstance(node, exp.Select):
            spelled += len(node.expressions)
        elif isinstance(node, exp.Table):
            table = ctx.catalog.find_table(node.name)
            width += len(table.columns) if table is not None else 0
    columns = stars * (width + spelled)
    if columns > MAX_EXPANDED_COLUMNS:
        raise TooComplexError(
            f"the query's {stars:,} stars could expand to {columns:,} columns; the limit is "
            f"{MAX_EXPANDED_COLUMNS:,}. Name the columns you need instead of *.",
            stars=stars,
            columns=columns,
            limit=MAX_EXPANDED_COLUMNS,
        )
    return tree
