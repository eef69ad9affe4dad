"""SemanticQuery -> one SQL query, built with sqlglot's expression builders.

Metrics that share a table and time column are aggregated together; several such groups are
aggregated apart (each over its own time column) and joined on the breakdown keys, so "requests
and DNS queries per day" neither fans out nor mixes up dates. Sampled tables are scaled up by
their weight column. Joins follow the catalog's relationships: to-one joins for breakdowns,
EXISTS for filters across a one-to-many step, and an ambiguous path is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlglot import exp

from skipper.catalog import Catalog, Column, Table
from skipper.clock import Clock
from skipper.errors import FanOutError, PlannerError, TimeColumnError
from skipper.identifiers import fold
from skipper.planner.joins import Edge, JoinGraph
from skipper.planner.query import Breakdown, Filter, Grain, SemanticQuery
from skipper.planner.terms import (
    ResolvedDimension,
    ResolvedMetric,
    Terms,
    is_date_type,
    is_year_type,
)

PREVIOUS = "_previous"
CHANGE = "_change"
CHANGE_PCT = "_change_pct"
SHARE = "_share"


def compile_query(query: SemanticQuery, catalog: Catalog, clock: Clock) -> exp.Query:
    """Compile a semantic query for ``catalog``, with "today" taken from ``clock``."""
    return Compiler(catalog).compile(query, clock.today())


class Compiler:
    """Holds what is worth computing once per catalog: the join graph and parsed terms."""

    def __init__(self, catalog: Catalog, terms: Terms | None = None) -> None:
        self.catalog = catalog
        self.terms = terms or Terms(catalog)
        self.graph = JoinGraph(catalog)

    def compile(self, query: SemanticQuery, today: date) -> exp.Query:
        if query.per is not None:
            return self._per_period(query, today)
        return _Compilation(self, query, today).build()

    def _per_period(self, query: SemanticQuery, today: date) -> exp.Query:
        """"average daily requests": the metric per period (a query of its own), then the
        function over those periods, grouped by the question's own breakdowns."""
        per = query.per
        assert per is not None
        inner_query = query.model_copy(update={
            "per": None, "order": [], "limit": None,
            "breakdowns": [*query.breakdowns, Breakdown(grain=per.grain)]})
        inner = _Compilation(self, inner_query, today).build()
        keys = [b.key for b in query.breakdowns]
        metric = query.metrics[0]
        name = per_period_name(metric, per.function, per.grain)
        select = exp.select(*[exp.column(k) for k in keys]).select(
            exp.alias_(exp.func(per.function, exp.column(metric)), name))
        select = select.from_(inner.subquery("per_period"), copy=False)
        if keys:
            select = select.group_by(*[exp.column(k) for k in keys], copy=False)
        order = [exp.Ordered(this=exp.column(o.by if o.by != metric else name),
                             desc=o.direction == "desc") for o in query.order]
        if not order and keys:
            order = [exp.Ordered(this=exp.column(name), desc=True)]
        order += [exp.Ordered(this=exp.column(k), desc=False) for k in keys
                  if all(k != o.this.name for o in order)]
        if order:
            select = select.order_by(*order, copy=False)
        if query.limit is not None:
            select = select.limit(query.limit, copy=False)
        return select


@dataclass
class _Periods:
    current: tuple[date, date] | None
    previous: tuple[date, date] | None

    @property
    def span(self) -> tuple[date, date] | None:
        if self.current is None:
            return None
        if self.previous is None:
            return self.current
        return min(self.current[0], self.previous[0]), max(self.current[1], self.previous[1])


@dataclass
class _Group:
    """Metrics aggregated in one pass over one table and time column."""

    table: Table
    time_column: Column | None
    metrics: list[ResolvedMetric]


class _Compilation:
    def __init__(self, compiler: Compiler, query: SemanticQuery, today: date) -> None:
        self.compiler = compiler
        self.terms = compiler.terms
        self.dialect = compiler.catalog.dialect
        self.query = query
        self.today = today
        current = query.time_range.resolve(today) if query.time_range else None
        previous = (
            query.compare.resolve(query.time_range, today)
            if query.compare and query.time_range else None
        )
        self.periods = _Periods(current, previous)
        self.metrics = [self.terms.metric(name) for name in dict.fromkeys(query.metrics)]
        self.breakdowns = [(b, self._breakdown_dimension(b)) for b in query.breakdowns]

    @property
    def _changes(self) -> bool:
        return self.query.compare is None or self.query.compare.changes

    def _breakdown_dimension(self, breakdown: Breakdown) -> ResolvedDimension | None:
        if breakdown.dimension is None:
            return None
        dimension = self.terms.dimension(breakdown.dimension)
        if breakdown.grain and dimension.kind != "time":
            raise PlannerError(
                f"{dimension.label} is not a date, so it has no {breakdown.grain}s",
                code="planner.not_a_date",
            )
        return dimension

    # ---- the whole query ----------------------------------------------------------------
    def _check_conflicts(self) -> None:
        """A filter on a column a metric's own definition already fixes ("workers cost" is
        product = 'workers_requests'; "what about images?") would answer a question about
        nothing: say so instead."""
        for metric in self.metrics:
            fixed = {(c.table.lower(), c.name.lower()) for f in metric.filters
                     for c in f.find_all(exp.Column)}
            for item in self.query.filters:
                if item.op not in ("=", "in"):
                    continue
                dimension = self.terms.dimension(item.dimension)
                used = {((c.table or dimension.table.name).lower(), c.name.lower())
                        for c in dimension.expr.find_all(exp.Column)}
                if used & fixed:
                    raise PlannerError(
                        f"{metric.label} is defined for one {dimension.label.lower()} already "
                        f"({' AND '.join(f.sql() for f in metric.filters)}), so it cannot be "
                        f"filtered to {', '.join(str(v) for v in item.values)}; ask for a metric "
                        "of that one instead",
                        code="planner.conflicting_filter")

    def build(self) -> exp.Query:
        self._check_conflicts()
        if not self.metrics:
            return self._listing()
        groups = self._groups()
        selects = [self._aggregate(group) for group in groups]
        if len(selects) == 1 and self.periods.previous is None:
            return self._finish(selects[0], self._output_names(groups))
        return self._combine(groups, selects)

    def _groups(self) -> list[_Group]:
        groups: dict[tuple[str, str], _Group] = {}
        for metric in self.metrics:
            column = metric.time_column.name if metric.time_column else ""
            key = (metric.table.name.lower(), column.lower())
            if key not in groups:
                groups[key] = _Group(metric.table, metric.time_column, [])
            groups[key].metrics.append(metric)
        return list(groups.values())

    def _output_names(self, groups: list[_Group]) -> list[str]:
        names = [b.key for b, _ in self.breakdowns]
        for metric in (m for g in groups for m in g.metrics):
            names.append(metric.name + (SHARE if self.query.share is not None else ""))
            if self.periods.previous is not None:
                names.append(metric.name + PREVIOUS)
                if self._changes:
                    names += [metric.name + CHANGE, metric.name + CHANGE_PCT]
        return names

    def _aggregate(self, group: _Group) -> exp.Select:
        joins = _JoinTree(self.compiler.graph, group.table)
        select = exp.select()
        keys = []
        for breakdown, dimension in self.breakdowns:
            key = self._breakdown_expr(breakdown, dimension, group, joins)
            keys.append(key)
            select = select.select(exp.alias_(key, breakdown.key, quoted=False), copy=False)
        shared = _shared_filters(group.metrics)
        period = self._period_condition(group)
        left_out = [set(self.left_out(m)) for m in group.metrics]
        common = set.intersection(*left_out) if left_out else set()
        nullable: list[exp.Expr] = []  # aggregates that are NULL for a group with no values
        for metric, own_left_out in zip(group.metrics, left_out, strict=True):
            own: list[exp.Expr | None] = [
                f for f in metric.filters if f.sql() not in {s.sql() for s in shared}
            ]
            own += [self._exclusion(joins, name) for name in sorted(own_left_out - common)]
            current = self._period_condition(group, self.periods.current)
            if self.periods.previous is not None:
                previous = self._period_condition(group, self.periods.previous)
                select = select.select(
                    exp.alias_(_filtered(metric.expr, own + [current]), metric.name),
                    exp.alias_(_filtered(metric.expr, own + [previous]), metric.name + PREVIOUS),
                )
            elif self.query.share is not None:  # the part over the whole, as a fraction
                part = self._share_conditions(joins)
                # rows where the part's condition is unknown (NULL) count on neither side:
                # "city-years above the NO2 guideline" over those with an NO2 value
                known: list[exp.Expr | None] = [
                    exp.not_(exp.Is(this=exp.paren(c.copy()), expression=exp.null()))
                    for c in part if c is not None]
                value: exp.Expr = exp.Div(
                    this=exp.cast(_filtered(metric.expr, own + part), exp.DataType.Type.DOUBLE),
                    expression=exp.func("nullif", _filtered(metric.expr, own + known),
                                        exp.Literal.number(0)))
                nullable.append(value)
                select = select.select(exp.alias_(value, metric.name + SHARE), copy=False)
            else:
                value = _filtered(metric.expr, own)
                if not isinstance(metric.expr, exp.Count):
                    nullable.append(value)
                select = select.select(exp.alias_(value, metric.name), copy=False)
        conditions = [f.copy() for f in shared]
        if period is not None:
            conditions.append(period)
        conditions += self._restrictions(joins)
        conditions += [self._exclusion(joins, name) for name in sorted(common)]
        select = select.from_(_table_ref(group.table), copy=False)
        for join in joins.joins():
            select = select.join(join, copy=False)
        if conditions:
            select = select.where(exp.and_(*conditions), copy=False)
        if keys:
            select = select.group_by(*[k.copy() for k in keys], copy=False)
            if nullable and len(nullable) == len(group.metrics):
                # a group with no value for any metric ("average NO2" of a country that
                # reported none) is left out, as an average over no rows says nothing
                select = select.having(exp.not_(exp.and_(*[
                    exp.Is(this=v.copy(), expression=exp.null()) for v in nullable])), copy=False)
        return _estimated(select, group.table)

    def _listing(self) -> exp.Query:
        """No metric: the distinct values of the breakdowns, e.g. "list enterprise accounts"."""
        first = next((d for _, d in self.breakdowns if d is not None), None)
        if first is None:
            raise PlannerError("name a metric to measure per day", code="planner.no_metric")
        if self.query.time_range is not None:
            raise TimeColumnError(
                "a period needs a metric to apply to; name a metric, or a date to filter on",
            )
        joins = _JoinTree(self.compiler.graph, first.table)
        group = _Group(first.table, None, [])
        select = exp.select().distinct()
        for breakdown, dimension in self.breakdowns:
            key = self._breakdown_expr(breakdown, dimension, group, joins)
            select = select.select(exp.alias_(key, breakdown.key, quoted=False), copy=False)
        conditions = self._restrictions(joins)
        select = select.from_(_table_ref(first.table), copy=False)
        for join in joins.joins():
            select = select.join(join, copy=False)
        if conditions:
            select = select.where(exp.and_(*conditions), copy=False)
        return self._finish(select, [b.key for b, _ in self.breakdowns])

    # ---- pieces -------------------------------------------------------------------------
    def _breakdown_expr(
        self,
        breakdown: Breakdown,
        dimension: ResolvedDimension | None,
        group: _Group,
        joins: _JoinTree,
    ) -> exp.Expr:
        if dimension is None:
            if group.time_column is None:
                names = ", ".join(m.label for m in group.metrics)
                raise TimeColumnError(
                    f"{names} has no time column in the catalog, so it cannot be shown per "
                    f"{breakdown.grain}",
                )
            column = exp.column(group.time_column.name, table=group.table.name)
            return _truncate(column, breakdown.grain or "day", group.time_column.type)
        joins.require_to_one(dimension.table, f"break {_what(group)} down by {dimension.label}")
        expr = dimension.expr.copy()
        if dimension.kind == "time":
            type_name = dimension.column.type if dimension.column else None
            return _truncate(expr, breakdown.grain or "day", type_name)
        return expr

    def _period_condition(
        self, group: _Group, period: tuple[date, date] | None = None, *, span: bool = True
    ) -> exp.Expr | None:
        window = period if period is not None else (self.periods.span if span else None)
        if window is None:
            return None
        if group.time_column is None:
            names = ", ".join(m.label for m in group.metrics)
            raise TimeColumnError(
                f"{names} has no time column in the catalog, so it cannot be limited to a period",
            )
        column = exp.column(group.time_column.name, table=group.table.name)
        return _within(column, window, group.time_column.type, self.today)

    def _restrictions(self, joins: _JoinTree) -> list[exp.Expr]:
        out = []
        for item in self.query.filters:
            dimension = self.terms.dimension(item.dimension)
            out.append(joins.restrict(dimension.table, self._filter(item, dimension)))
        for ref in self.query.segments:
            _, table, predicate = self.terms.segment(ref.segment)
            out.append(joins.restrict(table, predicate, exclude=ref.exclude))
        return out

    def _share_conditions(self, joins: _JoinTree) -> list[exp.Expr | None]:
        share = self.query.share
        assert share is not None
        out: list[exp.Expr | None] = []
        for item in share.filters:
            dimension = self.terms.dimension(item.dimension)
            out.append(joins.restrict(dimension.table, self._filter(item, dimension)))
        for ref in share.segments:
            _, table, predicate = self.terms.segment(ref.segment)
            out.append(joins.restrict(table, predicate, exclude=ref.exclude))
        return out

    def left_out(self, metric: ResolvedMetric) -> list[str]:
        """The segments ``metric`` leaves out here: its ``excluding``, less those the query
        names (as a filter either way) or keeps (``including``)."""
        return left_out(metric, self.query)

    def _exclusion(self, joins: _JoinTree, segment: str) -> exp.Expr:
        _, table, predicate = self.terms.segment(segment)
        return joins.restrict(table, predicate, exclude=True)

    def _filter(self, item: Filter, dimension: ResolvedDimension) -> exp.Expr:
        column = dimension.expr.copy()
        values = [exp.convert(v) for v in item.values]
        if item.op == "during":
            assert item.period is not None
            type_name = dimension.column.type if dimension.column else None
            return _within(column, item.period.resolve(self.today), type_name, self.today)
        if item.op in ("=", "in"):
            return column.eq(values[0]) if len(values) == 1 else column.isin(*values)
        if item.op in ("!=", "not in"):
            if len(values) == 1:
                return exp.NullSafeNEQ(this=column, expression=values[0])
            return exp.not_(exp.func("coalesce", column.isin(*values), exp.false()))
        if item.op == "is null":
            return exp.Is(this=column, expression=exp.null())
        if item.op == "is not null":
            return exp.not_(exp.Is(this=column, expression=exp.null()))
        builders = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
        return builders[item.op](this=column, expression=values[0])

    # ---- assembling ---------------------------------------------------------------------
    def _combine(self, groups: list[_Group], selects: list[exp.Select]) -> exp.Query:
        names = [f"{g.table.name}_totals" for g in groups]
        names = [n if names.count(n) == 1 else f"{n}_{i + 1}" for i, n in enumerate(names)]
        keys = [b.key for b, _ in self.breakdowns]
        final = exp.select()
        for key in keys:
            parts = [exp.column(key, table=n) for n in names]
            value = parts[0] if len(parts) == 1 else exp.func("coalesce", *parts)
            final = final.select(exp.alias_(value, key, quoted=False), copy=False)
        for name, group in zip(names, groups, strict=True):
            for metric in group.metrics:
                current = exp.column(metric.name, table=name)
                final = final.select(exp.alias_(current, metric.name), copy=False)
                if self.periods.previous is None:
                    continue
                previous = exp.column(metric.name + PREVIOUS, table=name)
                change = exp.Sub(this=current.copy(), expression=previous.copy())
                pct = exp.Div(
                    this=exp.Mul(this=exp.Literal.number("100.0"), expression=exp.paren(change)),
                    expression=exp.func("nullif", previous.copy(), exp.Literal.number(0)),
                )
                final = final.select(exp.alias_(previous, metric.name + PREVIOUS), copy=False)
                if self._changes:
                    final = final.select(
                        exp.alias_(change.copy(), metric.name + CHANGE),
                        exp.alias_(pct, metric.name + CHANGE_PCT),
                    )
        final = final.from_(_table(names[0]), copy=False)
        for i, name in enumerate(names[1:], start=1):
            if not keys:
                final = final.join(_table(name), join_type="cross", copy=False)
                continue
            conditions = []
            for key in keys:
                earlier = [exp.column(key, table=n) for n in names[:i]]
                left = earlier[0] if len(earlier) == 1 else exp.func("coalesce", *earlier)
                conditions.append(exp.NullSafeEQ(this=left, expression=exp.column(key, table=name)))
            final = final.join(_table(name), on=exp.and_(*conditions),
                               join_type="full outer", copy=False)
        for name, select in zip(names, selects, strict=True):
            final = final.with_(name, as_=select, copy=False)
        return self._finish(final, self._output_names(groups))

    def _finish(self, select: exp.Select, outputs: list[str]) -> exp.Select:
        order = self._order(outputs)
        if order:
            select = select.order_by(*order, copy=False)
        if self.query.limit is not None:
            select = select.limit(self.query.limit, copy=False)
        return select

    def _order(self, outputs: list[str]) -> list[exp.Ordered]:
        lowered = {o.lower(): o for o in outputs}
        keys = [b.key for b, _ in self.breakdowns]
        time_keys = [b.key for b, d in self.breakdowns if d is None or d.kind == "time"]
        chosen: list[tuple[str, bool]] = []
        for item in self.query.order:
            by = item.by + SHARE if self.query.share is not None else item.by
            name = lowered.get(by.lower()) or lowered.get(item.by.lower())
            if name is None:
                raise PlannerError(
                    f"cannot sort by {item.by!r}: the result has {', '.join(outputs)}",
                    code="planner.bad_order",
                )
            chosen.append((name, item.direction == "desc"))
        if not chosen and keys:
            if time_keys:
                chosen = [(k, False) for k in time_keys]
            elif self.metrics:
                chosen = [(outputs[len(keys)], True)]
        if not keys and not chosen:
            return []
        for key in keys:  # tie-breakers make the order, and so LIMIT, deterministic
            if key not in {c for c, _ in chosen}:
                chosen.append((key, False))
        return [
            exp.Ordered(this=exp.column(name), desc=desc, nulls_first=False)
            for name, desc in chosen
        ]


class _JoinTree:
    """The joins one aggregate needs, grown from its base table as dimensions are added."""

    def __init__(self, graph: JoinGraph, base: Table) -> None:
        self.graph = graph
        self.base = base
        self._edges: list[Edge] = []
        self._tables = {base.name.lower()}
        self._catalog_tables: dict[str, Table] = {}

    def require_to_one(self, table: Table, purpose: str) -> None:
        path = self.graph.path(self.base.name, table.name)
        many = next((e for e in path if e.to_many), None)
        if many is not None:
            raise FanOutError(
                f"cannot {purpose}: each {many.source} row matches many {many.target} rows, so "
                "totals would be counted more than once",
                path=[e.describe() for e in path],
            )
        self._add(path)

    def restrict(
        self, table: Table, predicate: exp.Expr, *, exclude: bool = False
    ) -> exp.Expr:
        """``predicate`` on ``table`` as a condition on the base rows (joined or via EXISTS)."""
        path = self.graph.path(self.base.name, table.name)
        split = next((i for i, e in enumerate(path) if e.to_many), None)
        if split is None:
            self._add(path)
            if exclude:
                return exp.not_(exp.func("coalesce", exp.paren(predicate.copy()), exp.false()))
            return predicate.copy()
        self._add(path[:split])
        inner = path[split:]
        sub = exp.select(exp.Literal.number(1)).from_(_table(inner[0].target))
        for edge in inner[1:]:
            sub = sub.join(_table(edge.target), on=edge.on.copy(), copy=False)
        sub = sub.where(exp.and_(inner[0].on.copy(), predicate.copy()), copy=False)
        exists = exp.Exists(this=sub)
        return exp.not_(exists) if exclude else exists

    def _add(self, path: list[Edge]) -> None:
        for edge in path:
            if edge.target.lower() not in self._tables:
                self._tables.add(edge.target.lower())
                self._edges.append(edge)

    def joins(self) -> list[exp.Join]:
        return [
            exp.Join(this=_table(edge.target), on=edge.on.copy(), side="LEFT")
            for edge in self._edges
        ]


# ---- expression helpers -------------------------------------------------------------------


def _what(group: _Group) -> str:
    return " and ".join(m.label for m in group.metrics) or group.table.name


def _table(name: str) -> exp.Table:
    """A table node for a plain name, built without the parser (it is called per query)."""
    return exp.Table(this=exp.to_identifier(name))


def _table_ref(table: Table) -> exp.Table:
    if table.db_schema.lower() == "main":
        return _table(table.name)
    reference = exp.Table(this=exp.to_identifier(table.name),
                          db=exp.to_identifier(table.db_schema))
    reference.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
    return reference


def _shared_filters(metrics: list[ResolvedMetric]) -> list[exp.Expr]:
    """Metric filters every metric of a group has: they go in WHERE, the rest in FILTER."""
    first = metrics[0].filters
    others = [{f.sql() for f in m.filters} for m in metrics[1:]]
    return [f for f in first if all(f.sql() in o for o in others)]


def _filtered(expr: exp.Expr, conditions: Sequence[exp.Expr | None]) -> exp.Expr:
    """Attach ``FILTER (WHERE ...)`` to every aggregate in a metric expression."""
    present = [c for c in conditions if c is not None]
    if not present:
        return expr.copy()
    where = exp.and_(*[c.copy() for c in present])

    def wrap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Filter):
            return exp.Filter(this=node.copy(), expression=exp.Where(this=where.copy()))
        return node

    return expr.copy().transform(wrap)


def _estimated(select: exp.Select, table: Table) -> exp.Select:
    """On a sampled table, scale each aggregate up by the weight column (or 1 / rate)."""
    sampling = table.sampling
    if sampling is None:
        return select
    if sampling.weight_column:
        weight: exp.Expr = exp.column(sampling.weight_column, table=table.name)
    else:
        weight = exp.Div(this=exp.Literal.number(1), expression=exp.Literal.number(sampling.rate))
    for projection in select.expressions:
        if any(
            isinstance(c, exp.Column) and c.name.lower() == (sampling.weight_column or "").lower()
            for c in projection.find_all(exp.Column)
        ):
            continue
        projection.replace(projection.transform(lambda node: _scale(node, weight)))
    return select


def _scale(node: exp.Expr, weight: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Sum) and not isinstance(node.this, exp.Distinct):
        return exp.Sum(this=exp.Mul(this=exp.paren(node.this.copy()), expression=weight.copy()))
    if isinstance(node, exp.Count) and not isinstance(node.this, exp.Distinct):
        if node.this is None or isinstance(node.this, exp.Star):
            return exp.Sum(this=weight.copy())
        return exp.Sum(this=exp.If(
            this=exp.not_(exp.Is(this=node.this.copy(), expression=exp.null())),
            true=weight.copy(), false=exp.Literal.number(0),
        ))
    if isinstance(node, exp.Avg) and not isinstance(node.this, exp.Distinct):
        value = node.this.copy()
        counted = exp.If(
            this=exp.not_(exp.Is(this=value.copy(), expression=exp.null())),
            true=weight.copy(), false=exp.null(),
        )
        return exp.Div(
            this=exp.Sum(this=exp.Mul(this=exp.paren(value), expression=weight.copy())),
            expression=exp.Sum(this=counted),
        )
    return node


def _day_after(day: date) -> exp.Expr:
    return _date_literal(day + timedelta(days=1))


def _date_literal(day: date) -> exp.Expr:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.Type.DATE)


def _within(
    column: exp.Expr, window: tuple[date, date], type_name: str | None,
    today: date | None = None,
) -> exp.Expr:
    start, end = window
    if is_year_type(type_name):  # a column of years (2021): whole years only
        if (end.month, end.day) != (12, 31) and end == today:
            end = date(end.year, 12, 31)  # "since 2018": up to this year, to date
        if (start.month, start.day) != (1, 1) or (end.month, end.day) != (12, 31):
            raise TimeColumnError(
                f"the data is dated by year only, so it cannot be limited to "
                f"{start.isoformat()} to {end.isoformat()}; ask for whole years (e.g. 'in 2020')")
        if start.year == end.year:
            return column.eq(exp.Literal.number(start.year))
        return exp.Between(this=column, low=exp.Literal.number(start.year),
                           high=exp.Literal.number(end.year))
    if is_date_type(type_name):
        if start == end:
            return column.eq(_date_literal(start))
        return exp.Between(this=column, low=_date_literal(start), high=_date_literal(end))
    return exp.and_(
        exp.GTE(this=column.copy(), expression=_date_literal(start)),
        exp.LT(this=column.copy(), expression=_day_after(end)),
    )


def per_period_name(metric: str, function: str, grain: str) -> str:
    """``requests_avg_per_day``: the output column of a per-period aggregate."""
    return f"{metric}_{function}_per_{grain}"


def left_out(metric: ResolvedMetric, query: SemanticQuery) -> list[str]:
    """Segments a metric leaves out unless asked, less those ``query`` names or keeps."""
    named = {fold(s.segment) for s in query.segments} | {fold(s) for s in query.including}
    return [s for s in metric.source.excluding if fold(s) not in named]


def _truncate(column: exp.Expr, grain: Grain, type_name: str | None) -> exp.Expr:
    if is_year_type(type_name):
        if grain != "year":
            raise TimeColumnError(f"the data is dated by year only, so it has no {grain}s")
        return column
    if grain == "day":
        return column if is_date_type(type_name) else exp.cast(column, exp.DataType.Type.DATE)
    if grain == "year":  # "per year": 2016, as people write years
        return exp.func("year", column)
    trunc = exp.func("date_trunc", exp.Literal.string(grain), column)
    return exp.cast(trunc, exp.DataType.Type.DATE)
