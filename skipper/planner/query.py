"""The semantic query: what a planner (catalog or LLM) asks for, in catalog terms, not SQL.

A ``SemanticQuery`` names catalog metrics, dimensions and segments; relative periods ("the last
30 days") stay relative until the compiler resolves them with a clock, so a saved query means the
same thing tomorrow. It is plain JSON, so the LLM planner can emit it and the audit log can keep it.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grain = Literal["day", "week", "month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RelativePeriod(_Model):
    """A period relative to today.

    ``today`` and ``yesterday``; ``last_n``: the ``n`` units ending today, today included;
    ``current``: this unit up to today (this month, year to date); ``previous``: the complete
    calendar unit before the current one (last month; weeks start on Monday).
    """

    kind: Literal["today", "yesterday", "last_n", "current", "previous"]
    n: int = Field(default=1, ge=1, le=10_000)
    unit: Grain = "day"


class TimeRange(_Model):
    """Inclusive dates, either absolute (``start``/``end``) or ``relative`` to today.

    An absolute range may leave ``end`` open ("since 2026-05-01": up to today) or ``start``
    open ("until ..."). ``label`` is how the question said it, for summaries.
    """

    start: date | None = None
    end: date | None = None
    relative: RelativePeriod | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TimeRange:
        if self.relative is not None and (self.start or self.end):
            raise ValueError("give either start/end or relative, not both")
        if self.relative is None and self.start is None and self.end is None:
            raise ValueError("give start and/or end, or a relative period")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self

    def resolve(self, today: date) -> tuple[date, date]:
        """The first and last day (inclusive) of this range, given today."""
        if self.relative is None:
            return self.start or date(1900, 1, 1), self.end or today
        rel = self.relative
        if rel.kind == "today":
            return today, today
        if rel.kind == "yesterday":
            return today - timedelta(days=1), today - timedelta(days=1)
        if rel.kind == "last_n":
            if rel.unit == "day":
                return today - timedelta(days=rel.n - 1), today
            if rel.unit == "week":
                return today - timedelta(days=7 * rel.n - 1), today
            months = rel.n * {"month": 1, "quarter": 3, "year": 12}[rel.unit]
            return shift_months(today, -months) + timedelta(days=1), today
        start = period_start(today, rel.unit)
        if rel.kind == "current":
            return start, today
        for _ in range(rel.n):
            end = start - timedelta(days=1)
            start = period_start(end, rel.unit)
        return start, period_end(start, rel.unit)


class Comparison(_Model):
    """What to compare the main period with.

    ``previous_period``: the period of the same length just before it ("versus the previous
    30 days"); for a calendar period ("last month", "this quarter" to date) the same span of
    the unit before; ``previous_year``: the same dates a year earlier; ``range``: an explicit period
    ("compared to last month").
    """

    kind: Literal["previous_period", "previous_year", "range"] = "previous_period"
    range: TimeRange | None = None
    changes: bool = Field(
        default=True,
        description="Also show the change and the change in percent (\"the change versus\"); "
                    "false shows the two periods side by side (\"May compared with April\").")

    @model_validator(mode="after")
    def _range_given(self) -> Comparison:
        if (self.kind == "range") != (self.range is not None):
            raise ValueError("kind 'range' needs a range, and only it takes one")
        return self

    def resolve(self, current: TimeRange, today: date) -> tuple[date, date]:
        """The dates to compare ``current`` (the query's time range) with."""
        start, end = current.resolve(today)
        if self.kind == "previous_year":
            return shift_months(start, -12), shift_months(end, -12)
        if self.kind == "range":
            assert self.range is not None
            return self.range.resolve(today)
        unit = _calendar_unit(current, start, end)
        if unit is not None:  # last month -> the month before; this month to date -> same days
            before = period_start(start - timedelta(days=1), unit)
            if end == period_end(start, unit):
                return before, period_end(before, unit)
            return before, min(before + (end - start), period_end(before, unit))
        days = (end - start).days + 1
        return start - timedelta(days=days), start - timedelta(days=1)


def _calendar_unit(current: TimeRange, start: date, end: date) -> Grain | None:
    """The calendar unit a range is (or runs to date within): this/last month, "in 2026"."""
    rel = current.relative
    if rel is not None:
        if rel.kind in ("current", "previous") and rel.unit != "day":
            return rel.unit
        return None
    for unit in ("year", "quarter", "month"):
        if period_start(start, unit) == start and period_end(start, unit) == end:
            return unit  # type: ignore[return-value]
    return None


FilterOp = Literal[
    "=", "!=", "in", "not in", "<", "<=", ">", ">=", "during", "is null", "is not null"
]


class Filter(_Model):
    """A condition on a dimension: ``plan in ('enterprise')``, ``signed_up during today``.

    ``dimension`` is a catalog dimension name or ``table.column``. ``during`` takes ``period``.
    """

    dimension: str
    op: FilterOp = "in"
    values: list[str | int | float | bool] = Field(default_factory=list)
    period: TimeRange | None = None

    @model_validator(mode="after")
    def _arguments(self) -> Filter:
        if (self.op == "during") != (self.period is not None):
            raise ValueError("op 'during' needs a period, and only it takes one")
        if self.op in ("is null", "is not null", "during"):
            if self.values:
                raise ValueError(f"op {self.op!r} takes no values")
        elif not self.values:
            raise ValueError(f"op {self.op!r} needs at least one value")
        elif self.op not in ("in", "not in") and len(self.values) != 1:
            raise ValueError(f"op {self.op!r} takes exactly one value")
        return self


class SegmentRef(_Model):
    """Membership of a catalog segment ("in the Top 100 by traffic"), or its exclusion."""

    segment: str
    exclude: bool = False


class Breakdown(_Model):
    """Group by a dimension, or by the metrics' own time column at a grain ("per day").

    With both, a time dimension is truncated to the grain ("by signup month").
    """

    dimension: str | None = None
    grain: Grain | None = None

    @model_validator(mode="after")
    def _something(self) -> Breakdown:
        if self.dimension is None and self.grain is None:
            raise ValueError("a breakdown needs a dimension, a grain or both")
        return self

    @property
    def key(self) -> str:
        """The output column name (``table.column`` dimensions are named by the column)."""
        name = self.dimension.rsplit(".", 1)[-1] if self.dimension else None
        if name and self.grain:
            return f"{name}_{self.grain}"
        return name or str(self.grain)


class Order(_Model):
    """Sort by an output column: a metric, ``<metric>_change``, a dimension or a grain."""

    by: str
    direction: Literal["asc", "desc"] = "desc"


class Share(_Model):
    """The query's metric over the rows these conditions keep, as a fraction of the metric over
    all its rows: "what share of orders were paid with PayPal" (0.25 = 25%)."""

    filters: list[Filter] = Field(default_factory=list)
    segments: list[SegmentRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Share:
        if not self.filters and not self.segments:
            raise ValueError("a share needs a filter or segment saying which part")
        return self


class PerPeriod(_Model):
    """The metric per period, then aggregated over the periods: "average daily requests" is
    ``{function: avg, grain: day}`` (over the periods that have rows)."""

    function: Literal["avg", "median", "min", "max"]
    grain: Grain


class SemanticQuery(_Model):
    """A question in catalog terms. Empty ``metrics`` with breakdowns lists distinct values."""

    metrics: list[str] = Field(default_factory=list, description="Catalog metric names.")
    breakdowns: list[Breakdown] = Field(default_factory=list)
    filters: list[Filter] = Field(default_factory=list)
    segments: list[SegmentRef] = Field(default_factory=list)
    time_range: TimeRange | None = Field(
        None, description="Applied to each metric's own time column."
    )
    compare: Comparison | None = Field(None, description="Needs a time_range.")
    order: list[Order] = Field(default_factory=list)
    limit: int | None = Field(None, ge=1, le=1_000_000)
    share: Share | None = Field(
        None, description="Show the metric's share: the part these conditions keep, over all.")
    per: PerPeriod | None = Field(
        None, description="Aggregate the metric's per-period values ('average daily requests').")
    including: list[str] = Field(
        default_factory=list,
        description="Segments a metric leaves out unless asked (its `excluding`) that this "
                    "question keeps: 'spend including internal accounts'.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """Accept ``"plan"`` for a breakdown and ``"internal"`` for a segment (LLMs write so)."""
        if isinstance(data, dict):
            data = dict(data)
            for key, field in (("breakdowns", "dimension"), ("segments", "segment")):
                items = data.get(key)
                if isinstance(items, list):
                    data[key] = [{field: i} if isinstance(i, str) else i for i in items]
            if isinstance(data.get("order"), list):
                data["order"] = [{"by": i} if isinstance(i, str) else i for i in data["order"]]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SemanticQuery:
        if not self.metrics and not self.breakdowns:
            raise ValueError("ask for at least one metric or breakdown")
        if self.compare is not None and self.time_range is None:
            raise ValueError("a comparison needs a time_range to compare")
        if self.share is not None and (len(self.metrics) != 1 or self.compare is not None):
            raise ValueError("a share is of one metric, without a comparison")
        if self.per is not None and (len(self.metrics) != 1 or self.compare is not None
                                     or self.share is not None):
            raise ValueError("a per-period aggregate is of one metric, without a comparison "
                             "or share")
        return self


# ---- calendar arithmetic ----------------------------------------------------------------------


def shift_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_start(day: date, unit: Grain) -> date:
    """First day of the calendar unit holding ``day`` (weeks start on Monday)."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_end(start: date, unit: Grain) -> date:
    """Last day of the calendar unit starting on ``start``."""
    if unit == "day":
        return start
    if unit == "week":
        return start + timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return shift_months(start, months) - timedelta(days=1)
