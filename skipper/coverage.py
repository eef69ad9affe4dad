"""Whether the data covers the period a question asks about, before its answer is given.

"Taxi trips last week" over an extract that ends months ago is not a question with the answer
0: the period has no data at all, so it is declined with the span the data does cover. A
period the data covers only in part ("the last 7 days" when the table ends yesterday) is
answered, and the interpretation says how much of it the data holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from skipper.planner.query import SemanticQuery
from skipper.planner.terms import Terms

Span = Callable[[str, str], "tuple[date, date] | None"]


@dataclass
class Coverage:
    refusal: str | None = None
    notes: list[str] = field(default_factory=list)


def check(query: SemanticQuery, terms: Terms, today: date, span: Span) -> Coverage:
    """Compare each period of ``query`` with the span of each metric's time column."""
    periods: list[tuple[str, tuple[date, date]]] = []
    if query.time_range is not None:
        periods.append(("the period asked about", query.time_range.resolve(today)))
        if query.compare is not None:
            periods.append(("the period compared with",
                            query.compare.resolve(query.time_range, today)))
    if not periods:
        return Coverage()
    out = Coverage()
    seen: set[tuple[str, str]] = set()
    for name in query.metrics:
        metric = terms.metric(name)
        column = metric.time_column
        if column is None or (metric.table.name, column.name) in seen:
            continue
        seen.add((metric.table.name, column.name))
        found = span(metric.table.name, column.name)
        if found is None:
            continue
        first, last = found
        where = f"{metric.table.name}.{column.name}"
        for what, (start, end) in periods:
            if end < first or start > last:
                out.refusal = (
                    f"The data cannot answer for {what} ({_span(start, end)}): {where} holds "
                    f"data from {first.isoformat()} to {last.isoformat()} only. Ask about a "
                    "period inside it.")
                return out
            said = []
            if end > today:
                said.append(f"is not over (today is {today.isoformat()})")
            reach = min(end, today)
            if last < reach or start < first:
                held = (min(reach, last) - max(start, first)).days + 1
                days = (reach - start).days + 1
                said.append(f"has data on {held} of its {days} days so far ({where} runs from "
                            f"{first.isoformat()} to {last.isoformat()})")
            if said:
                out.notes.append(f"{what.capitalize()} ({_span(start, end)}) "
                                 f"{' and '.join(said)}.")
    return out


def _span(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
