"""PIVOT and UNPIVOT in the analysis copy: each stands in as a plain SELECT with DuckDB's columns.

sqlglot cannot check columns around a PIVOT (it turns validation off for the whole query, so
``current_role`` or ``d.rowid`` beside a PIVOT went unchecked). In the analysis copy each PIVOT,
UNPIVOT, ``PIVOT_WIDER`` or ``FROM t PIVOT (...)`` becomes ``SELECT <its output columns> FROM
<its source>``, the output names bound by DuckDB on the empty schema, so everything around it is
validated as usual. Each output reads what feeds it (a group column itself, a pivoted value its
USING aggregates, an unpivoted value its ON columns), so lineage and masks trace through it.

A PIVOT without an ``IN`` list names columns after the data, which the guard cannot know: its
group columns are bound as usual, and a name the query reads from it that nothing else supplies
is admitted as one of its values (``admit``) unless DuckDB would bind that name to something
else when the column is missing (``current_role``, ``rowid``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from skipper.errors import UnknownColumnError
from skipper.guard.binder import PROBE, SchemaBinder, bindable
from skipper.identifiers import fold

_ON_COLUMN = "__skipper_pivot_on"


@dataclass
class PivotStandIn:
    """The SELECT standing in for one PIVOT; a data-dependent one admits value names later."""

    select: exp.Select
    data_dependent: bool
    value: exp.Expr
    admitted: set[str] = field(default_factory=set)

    def admit(self, name: str) -> None:
        self.admitted.add(fold(name))
        self.select.select(exp.alias_(self.value.copy(), exp.to_identifier(name)), copy=False)


@dataclass
class _Plan:
    pivot: exp.Pivot
    outputs: list[str]
    source: set[str]
    data_dependent: bool


def plan_pivots(analysed: exp.Expr, binder: SchemaBinder, dialect: str) -> list[_Plan]:
    """Bind every PIVOT of the (untouched) copy on the empty schema: its output columns."""
    plans = []
    for pivot in analysed.find_all(exp.Pivot):
        holder = pivot.parent
        context: exp.Expr = pivot
        if pivot.args.get("this") is not None:
            pivoted: exp.Expr = exp.select("*").from_(exp.Subquery(this=pivot.copy()))
            source_query = exp.select("*").from_(pivot.this.copy())
        elif isinstance(holder, (exp.Table, exp.Subquery)):
            if holder.args["pivots"][-1] is not pivot:
                continue  # a chain of pivots is bound as one, at its last link
            bare = holder.copy()
            bare.set("pivots", None)
            pivoted = exp.select("*").from_(holder.copy())
            source_query = exp.select("*").from_(bare)
            context = holder
        else:
            raise _not_analysable()
        outputs = _names(binder, bindable(pivoted, dialect, context))
        source = _names(binder, bindable(source_query, dialect, context))
        data_dependent = pivot.args.get("this") is not None and not pivot.args.get(
            "unpivot"
        ) and any(
            not isinstance(on, exp.In) for on in pivot.expressions
        )
        if data_dependent:
            outputs = [name for name in outputs if PROBE not in name]
        plans.append(_Plan(pivot, outputs, {fold(name) for name in source}, data_dependent))
    return plans


def stand_in_pivots(
    analysed: exp.Expr, plans: list[_Plan]
) -> tuple[exp.Expr, list[PivotStandIn]]:
    """Replace each planned PIVOT (innermost first) by its stand-in; the new root and them."""
    stand_ins = []
    for plan in reversed(plans):  # find_all is breadth-first: inner pivots come later
        pivot = plan.pivot
        if pivot.args.get("this") is None:
            holder = pivot.parent
            assert isinstance(holder, (exp.Table, exp.Subquery))
            alias = holder.args["pivots"][-1].alias or holder.alias_or_name
            source = holder.copy()
            source.set("pivots", None)
            stand_in = _stand_in(plan, source, *_inline_parts(holder.args["pivots"]))
            replacement: exp.Expr = exp.Subquery(
                this=stand_in.select, alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
            holder.replace(replacement)
        else:
            source = pivot.this.copy()
            stand_in = _stand_in(plan, source, *_statement_parts(pivot))
            with_ = pivot.args.get("with_")
            if with_ is not None:
                stand_in.select.set("with_", with_.copy())
            if pivot is analysed:
                analysed = stand_in.select
            else:
                pivot.replace(stand_in.select)
        stand_ins.append(stand_in)
    return analysed, stand_ins


def _stand_in(
    plan: _Plan,
    source: exp.Expr,
    value: exp.Expr,
    name_columns: set[str],
    reads: list[exp.Expr],
) -> PivotStandIn:
    projections: list[exp.Expr] = []
    passing = True
    for name in plan.outputs:
        lower = fold(name)
        passing = passing and lower in plan.source and lower not in name_columns
        if passing:
            projections.append(exp.column(exp.to_identifier(name)))
        elif lower in name_columns:
            projections.append(exp.alias_(exp.null(), exp.to_identifier(name)))
        else:
            projections.append(exp.alias_(value.copy(), exp.to_identifier(name)))
    if reads:
        projections.append(exp.alias_(exp.Array(expressions=reads), _ON_COLUMN, quoted=True))
    select = exp.select(*projections).from_(source)
    return PivotStandIn(select=select, data_dependent=plan.data_dependent, value=value)


def _statement_parts(pivot: exp.Pivot) -> tuple[exp.Expr, set[str], list[exp.Expr]]:
    """What a pivoted value reads, the UNPIVOT's NAME columns, and the ON / GROUP BY reads."""
    ons = [on.this if isinstance(on, exp.In) else on for on in pivot.expressions]
    if pivot.args.get("unpivot"):
        into = pivot.args.get("into")
        names = {fold(into.this.name)} if isinstance(into, exp.UnpivotColumns) else set()
        return _array(ons), names, []
    using = [u.unalias() for u in pivot.args.get("using") or []]
    group = pivot.args.get("group")
    grouped = list(group.expressions) if isinstance(group, exp.Group) else []
    return _array(using), set(), [e.copy() for e in ons + grouped]


def _inline_parts(
    pivots: list[exp.Pivot],
) -> tuple[exp.Expr, set[str], list[exp.Expr]]:
    values: list[exp.Expr] = []
    names: set[str] = set()
    reads: list[exp.Expr] = []
    for pivot in pivots:
        fields = [f for f in pivot.args.get("fields") or [] if isinstance(f, exp.In)]
        if pivot.args.get("unpivot"):
            names |= {fold(f.this.name) for f in fields}
            values += [column for f in fields for column in f.expressions]
        else:
            values += [e.unalias() for e in pivot.expressions]
            reads += [f.this.copy() for f in fields]
    return _array(values), names, reads


def _array(expressions: list[exp.Expr]) -> exp.Expr:
    if not expressions:
        return exp.null()
    return exp.Array(expressions=[e.copy() for e in expressions])


def _names(binder: SchemaBinder, sql: str | None) -> list[str]:
    names = binder.output_names(sql) if sql is not None else None
    if names is None:
        raise _not_analysable()
    return names


def _not_analysable() -> UnknownColumnError:
    return UnknownColumnError(
        "a PIVOT or UNPIVOT in this query names columns its source does not have (or cannot be "
        "checked where it stands); check its ON, USING and GROUP BY columns against the catalog"
    )
