"""The reading of a question, in words: what is measured and how, over which exact dates,
for which rows, broken down and ordered how. Shown above every answer so a person can check
that the question answered is the one they asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlglot import exp

from skipper.catalog import Catalog
from skipper.planner.compiler import left_out
from skipper.planner.query import SemanticQuery, TimeRange
from skipper.planner.summary import (
    _breakdown_label,
    _qualifiers,
    lower,
    order_words,
    period_words,
)
from skipper.planner.terms import ResolvedMetric, Terms
from skipper.planner.verbs import metric_verbs, past_tense


def interpret(
    query: SemanticQuery, catalog: Catalog, terms: Terms, today: date,
    notes: Sequence[str] = (),
) -> str:
    """"Tickets (count of tickets rows) opened 2025-09-08 to 2025-09-14 (last week), with
    plan enterprise, by priority, highest tickets first, first 5 rows."""
    metrics = [terms.metric(name) for name in query.metrics]
    parts = [" and ".join(_measure(m, catalog) for m in metrics) or "the distinct values"]
    if query.per is not None:
        words = {"avg": "average", "median": "median", "min": "lowest", "max": "highest"}
        parts[0] = (f"the {words[query.per.function]} per {query.per.grain} of {parts[0]} "
                    f"(over the {query.per.grain}s that have rows)")
    if query.share is not None:
        part = SemanticQuery.model_construct(filters=query.share.filters,
                                             segments=query.share.segments)
        parts[0] = (f"the share of {parts[0]} {', '.join(_qualifiers(part, terms, today))}, "
                    "over all of it where that is known, as a fraction (0.25 = 25%)")
    if query.time_range is not None:
        parts.append(_period(query.time_range, metrics, today))
    elif metrics and any(m.time_column is not None for m in metrics):
        parts.append("over all dates")
    if query.compare is not None and query.time_range is not None:
        start, end = query.compare.resolve(query.time_range, today)
        parts.append(f"compared with {_span(start, end)}")
    parts.extend(_qualifiers(query, terms, today))
    if query.breakdowns:
        parts.append("by " + ", ".join(_breakdown_label(b.dimension, b.grain, terms)
                                        for b in query.breakdowns))
    parts.extend(order_words(query, terms, one_row="first row only"))
    text = ", ".join(p for p in parts if p) + "."
    text = text[0].upper() + text[1:]
    return " ".join([text, *_left_out(query, metrics, terms), *notes])


def _left_out(query: SemanticQuery, metrics: list[ResolvedMetric], terms: Terms) -> list[str]:
    out = []
    for metric in metrics:
        for name in left_out(metric, query):
            segment, _, _ = terms.segment(name)
            label = lower(segment.label or name.replace("_", " "))
            note = (f"{metric.label} leaves out {label} unless asked (say 'including {label}' "
                    "to count them).")
            if note not in out:
                out.append(note)
    return out


def _measure(metric: ResolvedMetric, catalog: Catalog) -> str:
    definition = _definition(metric)
    filters = " and ".join(f.sql(dialect=catalog.dialect) for f in metric.filters)
    if filters:
        definition = f"{definition} where {filters}".strip()
    label = lower(metric.label)
    return f"{label} ({definition})" if definition else label


def _definition(metric: ResolvedMetric) -> str:
    expr = metric.expr
    table = lower(metric.table.label or metric.table.name)
    if metric.entity_count:
        return f"count of {table} rows"
    if isinstance(expr, exp.AggFunc) and isinstance(expr.this, exp.Column):
        name = {"Sum": "sum", "Avg": "average", "Min": "minimum", "Max": "maximum",
                "Count": "count", "Median": "median"}.get(type(expr).__name__)
        if name is not None:
            return f"{name} of {table}.{expr.this.name}"
    return ""


def _period(time_range: TimeRange, metrics: list[ResolvedMetric], today: date) -> str:
    start, end = time_range.resolve(today)
    words = period_words(time_range, today)
    dates = _span(start, end)
    event = _event(metrics)
    said = "" if dates in words else f" ({words})"
    return f"{event}{dates}{said}"


def _event(metrics: list[ResolvedMetric]) -> str:
    """"opened " for tickets dated by opened_at; "" when the metrics' events differ."""
    events = set()
    for metric in metrics:
        column = metric.time_column
        if column is None:
            continue
        verbs = metric_verbs(metric.source.verbs, column.name)
        events.add(past_tense(verbs[0]) if verbs else f"dated by {column.name}")
    return f"{events.pop()} " if len(events) == 1 else "dated "


def _span(start: date, end: date) -> str:
    if start == end:
        return f"on {start.isoformat()}"
    return f"{start.isoformat()} to {end.isoformat()}"
