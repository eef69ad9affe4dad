"""The distinct values of text columns, read from the data when the catalog loads.

A catalog declares the values of its low-cardinality columns; names of customers, products,
cities and agencies are too many to declare, yet people ask about them by name ("orders from
Hobart", "tickets for Acme Corp"). The index reads each eligible column's distinct values once
(bounded per column and in total) so the planner can map such a name to a filter. Columns that
hold personal data, secrets or keys, and tables any row filter limits, are never read: a name
that maps would tell a user it exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlglot import exp

from skipper.catalog import Catalog, Column, Table

MAX_VALUES = 10_000  # per column: more than this is not a list of names
MAX_COLUMNS = 400  # per catalog: the index must stay cheap to build
MAX_LENGTH = 80  # characters: longer text is prose, not a name
BUDGET_S = 10.0  # seconds for the whole index, however big the database
_SKIP_TAGS = {"pii", "secret", "id", "weight"}

Reader = Callable[[str], list[tuple[object]]]


def eligible(catalog: Catalog) -> list[tuple[Table, Column]]:
    """Text columns without declared values, not personal, secret or keys, in tables no row
    filter limits (for any group)."""
    filtered = {rf.table.lower() for group in catalog.groups for rf in group.row_filters}
    out = []
    for table in catalog.tables:
        if table.name.lower() in filtered:
            continue
        for column in table.columns:
            kind = (column.type or "").upper()
            if not (kind.startswith(("VARCHAR", "TEXT", "STRING", "CHAR"))):
                continue
            if column.values or column.classification or _SKIP_TAGS & {
                    t.lower() for t in column.tags}:
                continue
            out.append((table, column))
    return out[:MAX_COLUMNS]


def read_values(
    catalog: Catalog, run: Reader, budget_s: float = BUDGET_S
) -> dict[tuple[str, str], list[str]]:
    """``(table, column) -> distinct values`` for the eligible columns; a column with more than
    MAX_VALUES distinct values, or whose read fails, is left out, and reading stops once
    ``budget_s`` seconds are spent (the columns after it are simply not indexed)."""
    out: dict[tuple[str, str], list[str]] = {}
    deadline = time.monotonic() + budget_s
    for table, column in eligible(catalog):
        if time.monotonic() > deadline:
            break
        target = exp.column(column.name, quoted=True)
        sql = (exp.select(target).distinct()
               .from_(exp.table_(table.name, db=table.db_schema, quoted=True))
               .where(exp.not_(exp.Is(this=target.copy(), expression=exp.null())))
               .limit(MAX_VALUES + 1)
               .sql(dialect=catalog.dialect))
        try:
            rows = run(sql)
        except Exception:  # noqa: BLE001 - an unreadable column is simply not indexed
            continue
        if len(rows) > MAX_VALUES:
            continue
        values = [str(r[0]) for r in rows if r[0] is not None and 0 < len(str(r[0])) <= MAX_LENGTH]
        if values:
            out[(table.name, column.name)] = values
    return out
