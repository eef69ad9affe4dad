"""A PIVOT without an IN list gets its values named before it runs, so the engine can check it.

DuckDB runs ``PIVOT t ON col USING …`` as two statements: a hidden query for col's distinct
values, then the pivot over them. A statement like that cannot be bound ahead, so the engine's
second wall (``skipper.engine.relations``) could not check what it reads, and refuses it. Here
the guarded tree's PIVOTs without IN lists are found, and for each a query for its values is
written over the same (already governed) source; `Skipper` runs those through the engine like
any query (bound and checked), and ``pin`` writes the values in as the IN list: ``ON col IN
('a', 'b')``. The values are those DuckDB would use (non-NULL, as text, in text order), so the
columns and rows are the same as DuckDB's own PIVOT gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

#: At most this many values per pivoted column (DuckDB's own ``pivot_limit`` is 100,000).
MAX_PIVOT_VALUES = 10_000


@dataclass
class PivotSlot:
    """One ON expression without an IN list: which PIVOT, and which position in its ON list."""

    pivot: exp.Pivot
    index: int

    def query(self) -> exp.Select:
        """The query for this slot's values, over the PIVOT's source as it is now (with any
        inner PIVOT already pinned)."""
        source = self.pivot.this
        assert source is not None
        return _values_query(source, self.pivot.expressions[self.index])


def unpinned(tree: exp.Expr) -> list[PivotSlot]:
    """The ON expressions of ``tree``'s PIVOTs that have no IN list, innermost PIVOT first
    (an outer one's source may hold an inner one, which must be pinned before its query runs)."""
    slots: list[PivotSlot] = []
    pivots = [p for p in tree.find_all(exp.Pivot) if not p.args.get("unpivot")]
    for pivot in sorted(pivots, key=_depth, reverse=True):
        source = pivot.this
        if source is None:
            continue  # ``FROM t PIVOT (agg FOR col IN (...))`` always names its values
        for index, on in enumerate(pivot.expressions):
            if isinstance(on, exp.In):
                continue
            slots.append(PivotSlot(pivot=pivot, index=index))
    return slots


def pin(slot: PivotSlot, values: list[str]) -> None:
    """Write ``values`` in as the slot's IN list (in place)."""
    on = slot.pivot.expressions[slot.index]
    pinned = exp.In(this=exp.paren(on.copy(), copy=False),
                    expressions=[exp.Literal.string(value) for value in values])
    expressions = list(slot.pivot.expressions)
    expressions[slot.index] = pinned
    slot.pivot.set("expressions", expressions)


def _values_query(source: exp.Expr, on: exp.Expr) -> exp.Select:
    """``SELECT DISTINCT CAST((on) AS VARCHAR) AS v FROM source WHERE (on) IS NOT NULL ORDER
    BY v``: the values DuckDB's PIVOT would make columns of, as text, in its order."""
    value = exp.cast(exp.paren(on.copy(), copy=False), exp.DataType.build("VARCHAR"))
    relation = source.copy()
    if isinstance(relation, exp.Subquery) and relation.args.get("alias") is None:
        relation.set("alias", exp.TableAlias(this=exp.to_identifier("pivot_source")))
    return (
        exp.select(exp.alias_(value, "v")).distinct()
        .from_(relation)
        .where(exp.not_(exp.Is(this=exp.paren(on.copy(), copy=False), expression=exp.Null())))
        .order_by(exp.column("v"))
    )


def _depth(node: exp.Expr) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth
