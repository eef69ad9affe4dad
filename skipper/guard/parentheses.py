"""Rule: a table in parentheses (``FROM (accounts)``, ``FROM ((accounts) AS a)``) is the table.

sqlglot reads the parentheses as a subquery wrapper around the table; DuckDB's parser rejects
the text outright, and a policy rewrite inside the wrapper (``((SELECT …) AS accounts)``) would
be rejected too. Unwrapping reads the same table under the same name, for every user alike.
"""

from __future__ import annotations

from sqlglot import exp

from skipper.guard.context import GuardContext


def unwrap_parenthesized_tables(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    # Innermost first, so ``((accounts)) AS x`` unwraps both layers.
    for wrapper in reversed(list(tree.find_all(exp.Subquery))):
        inner = wrapper.this
        if not isinstance(inner, exp.Table) or wrapper.args.get("pivots"):
            continue
        if any(wrapper.args.get(key) for key in ("sample", "joins", "laterals")):
            continue
        alias = wrapper.args.get("alias")
        table = inner.copy()
        if alias is not None:
            if table.args.get("alias") is not None and wrapper.parent is not None:
                continue  # ``((accounts AS a) AS b)``: two names for one table; leave it
            table.set("alias", alias.copy())
        wrapper.replace(table)
        ctx.note(f"read {table.sql(dialect=ctx.dialect)} without its parentheses")
    return tree
