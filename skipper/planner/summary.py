"""Saying a query and its result in words, with the catalog's labels and formats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from skipper.catalog import Catalog
from skipper.errors import SkipperError
from skipper.planner.compiler import CHANGE_PCT, PREVIOUS, per_period_name
from skipper.planner.query import Filter, SemanticQuery, TimeRange, period_end
from skipper.planner.terms import Terms


def period_words(time_range: TimeRange, today: date) -> str:
    """"yesterday", "in the last 30 days", "last month", "since 2026-05-01"."""
    rel = time_range.relative
    if rel is not None:
        unit = rel.unit
        if rel.kind in ("today", "yesterday"):
            return rel.kind
        if rel.kind == "last_n":
            return f"in the last {rel.n} {unit}s" if rel.n > 1 else f"in the past {unit}"
        if rel.kind == "current":
            return f"this {unit} to date" if unit != "year" else "year to date"
        return f"last {unit}" if rel.n == 1 else f"{rel.n} {unit}s ago"
    start, end = time_range.resolve(today)
    if time_range.start is None:
        return f"until {end.isoformat()}"
    if time_range.end is None:
        return f"since {start.isoformat()}"
    if start == end:
        return f"on {start.isoformat()}"
    if start == date(start.year, 1, 1) and end == date(start.year, 12, 31):
        return f"in {start.year}"
    if start.day == 1 and end == period_end(start, "month"):
        return f"in {start.strftime('%B %Y')}"
    return f"from {start.isoformat()} to {end.isoformat()}"


def _dates(time_range: TimeRange, today: date) -> str:
    start, end = time_range.resolve(today)
    return start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"


def describe(query: SemanticQuery, catalog: Catalog, terms: Terms, today: date) -> str:
    """A short restatement of what will be computed, to show before or with the answer."""
    labels = [lower(terms.metric(m).label) for m in query.metrics]
    what = " and ".join(labels) if labels else "distinct values"
    if query.share is not None:
        part = SemanticQuery.model_construct(filters=query.share.filters,
                                             segments=query.share.segments)
        what = f"share of {what} {_join(_qualifiers(part, terms, today))}"
    if query.per is not None:
        what = f"{query.per.function} per {query.per.grain} of {what}"
    parts = [what]
    if query.breakdowns:
        parts.append("by " + ", ".join(_breakdown_label(b.dimension, b.grain, terms)
                                        for b in query.breakdowns))
    parts.append(_join(_qualifiers(query, terms, today)))
    if query.time_range is not None:
        words = period_words(query.time_range, today)
        dates = _dates(query.time_range, today)
        parts.append(words if dates in words else f"{words} ({dates})")
    if query.compare is not None and query.time_range is not None:
        start, end = query.compare.resolve(query.time_range, today)
        parts.append(f"compared with {start.isoformat()} to {end.isoformat()}")
    parts.extend(order_words(query, terms))
    text = ", ".join(p for p in parts if p)
    return text[0].upper() + text[1:] + "."


def order_words(query: SemanticQuery, terms: Terms, one_row: str = "first row") -> list[str]:
    """"highest spend first", "first 5 rows": the order and limit, in words."""
    out = []
    if query.order:
        order = query.order[0]
        out.append(f"{'highest' if order.direction == 'desc' else 'lowest'} "
                   f"{_column_label(order.by, terms)} first")
    if query.limit is not None:
        out.append(one_row if query.limit == 1 else f"first {query.limit} rows")
    return out


def summarize(
    query: SemanticQuery | None,
    catalog: Catalog,
    terms: Terms,
    today: date,
    columns: list[str],
    rows: list[list[Any]],
    row_count: int,
) -> str:
    """One sentence about the result: the number asked for, or the top row of a breakdown."""
    if query is None or not query.metrics:
        if query is not None and query.breakdowns and row_count:
            noun = _plural(_breakdown_label(query.breakdowns[0].dimension, None, terms))
            listed = _join(_qualifiers(query, terms, today))
            return _sentence(f"{row_count:,} {noun} {listed}")
        noun = "row" if row_count == 1 else "rows"
        if len(columns) == 1 and row_count == 1 and rows:
            return f"The answer is {_plain(rows[0][0])}."
        return f"{row_count:,} {noun}."
    metric = terms.metric(query.metrics[0])
    label = lower(metric.label)
    qualifiers: list[str] = [_join(_qualifiers(query, terms, today))]
    period = period_words(query.time_range, today) if query.time_range else ""
    if row_count == 0 or not rows:
        return _sentence(f"No {label} {' '.join([*qualifiers, period])}".strip())
    index = {c.lower(): i for i, c in enumerate(columns)}
    value_at = index.get(metric.name.lower())
    value_format = metric.format
    if query.share is not None:  # a fraction of the whole
        value_at, value_format = index.get(metric.name.lower() + "_share"), "percent"
        label = f"share of {label}"
    if query.per is not None:
        value_at = index.get(per_period_name(metric.name, query.per.function,
                                             query.per.grain).lower())
        label = f"{query.per.function} {label} per {query.per.grain}"
    if value_at is None:
        return f"{row_count:,} rows."
    first = rows[0]
    value = format_value(first[value_at], value_format)
    change = _change(first, index, metric.name)
    if not query.breakdowns:
        if metric.entity_count:
            subject = f"{value} {label}"
            words = [subject, *qualifiers, period]
            segment_in = [s for s in query.segments if not s.exclude]
            if segment_in:
                words = [subject, _join(_qualifiers(query, terms, today, segments=False)), period,
                         "are in the " + " and the ".join(
                             _segment_label(s.segment, terms) for s in segment_in)]
                words += [f"excluding {_segment_label(s.segment, terms)}"
                          for s in query.segments if s.exclude]
            return _sentence(" ".join(w for w in words if w) + change)
        verb = "were" if metric.label.lower().endswith("s") else "was"
        words = [metric.label, *qualifiers, period, verb, value]
        return _sentence(" ".join(w for w in words if w) + change)
    keys = [b.key for b in query.breakdowns]
    key_text = ", ".join(_plain(first[index[k.lower()]]) for k in keys if k.lower() in index)
    if any(b.dimension is None or terms.is_time(b.dimension) for b in query.breakdowns) and (
        len(keys) == 1
    ):
        last = rows[-1]
        grain = query.breakdowns[0].grain or "day"
        last_key = _plain(last[index[keys[0].lower()]])
        words = [metric.label, f"per {grain}", *qualifiers, period]
        count = f"{row_count:,} {grain}{'s' if row_count != 1 else ''}"
        if row_count == 1:
            return _sentence(" ".join(w for w in words if w) + f": {value} on {key_text} only")
        return _sentence(
            " ".join(w for w in words if w)
            + f": {count}, from {value} on {key_text} to "
            f"{format_value(last[value_at], metric.format)} on {last_key}"
        )
    direction = query.order[0].direction if query.order else "desc"
    ordered_by_metric = not query.order or query.order[0].by.lower() == metric.name.lower()
    noun = _breakdown_label(query.breakdowns[0].dimension, query.breakdowns[0].grain, terms)
    if ordered_by_metric:
        if metric.entity_count:
            extreme = "most" if direction == "desc" else "fewest"
        else:
            extreme = "highest" if direction == "desc" else "lowest"
        words = [f"{key_text} has the {extreme} {label}", *qualifiers, period]
        tail = f" ({value}{change})"
        shown = f", of {row_count:,} {_plural(noun)} shown" if row_count > 1 else ""
        return _sentence(" ".join(w for w in words if w) + tail + shown, capitalise=False)
    return _sentence(f"{row_count:,} rows of {label} by {noun}")


# ---- pieces -------------------------------------------------------------------------------


def _qualifiers(
    query: SemanticQuery, terms: Terms, today: date, *, segments: bool = True
) -> list[str]:
    out = [_filter_words(f, terms, today) for f in query.filters]
    if segments:
        for ref in query.segments:
            label = lower(_segment_label(ref.segment, terms))
            out.append(f"excluding {label}" if ref.exclude else f"in the {label}")
    return [o for o in out if o]


def _filter_words(item: Filter, terms: Terms, today: date) -> str:
    try:
        dimension = terms.dimension(item.dimension)
        label = lower(dimension.label)
    except SkipperError:
        label = item.dimension
    if item.op == "during" and item.period is not None:
        return f"that {label} {period_words(item.period, today)}"
    values = " or ".join(str(v) for v in item.values)
    if item.op in ("in", "="):
        return f"with {label} {values}"
    if item.op in ("not in", "!="):
        return f"excluding {label} {values}"
    if item.op in ("is null", "is not null"):
        return f"where {label} {item.op}"
    return f"with {label} {item.op} {values}"


def _plural(noun: str) -> str:
    if noun.endswith("s"):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in {"a", "e", "i", "o", "u"}:
        return noun[:-1] + "ies"
    return noun + "s"


def _segment_label(name: str, terms: Terms) -> str:
    try:
        segment, _, _ = terms.segment(name)
    except SkipperError:
        return name
    return segment.label or segment.name.replace("_", " ")


def _breakdown_label(dimension: str | None, grain: str | None, terms: Terms) -> str:
    if dimension is None:
        return str(grain)
    try:
        label = lower(terms.dimension(dimension).label)
    except SkipperError:
        label = dimension
    return f"{label} ({grain})" if grain and grain != "day" else label


def _column_label(name: str, terms: Terms) -> str:
    try:
        return lower(terms.metric(name).label)
    except SkipperError:
        return name.replace("_", " ")


def _change(row: list[Any], index: dict[str, int], name: str) -> str:
    pct_at = index.get((name + CHANGE_PCT).lower())
    previous_at = index.get((name + PREVIOUS).lower())
    if pct_at is None or previous_at is None:
        return ""
    pct = row[pct_at]
    if pct is None:
        return ", none in the previous period"
    pct = float(pct)
    word = "up" if pct > 0 else "down" if pct < 0 else "unchanged"
    if word == "unchanged":
        return ", unchanged from the previous period"
    return f", {word} {abs(pct):.1f}% on the previous period"


def format_value(value: Any, kind: str) -> str:
    """A number as a person reads it: $1,234.56, 1,234, 12.3%, 1.2 GB."""
    if value is None:
        return "no value"
    if isinstance(value, Decimal):
        value = float(value)
    if not isinstance(value, (int, float)):
        return _plain(value)
    if kind == "usd":
        return f"${value:,.2f}"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "bytes":
        size = float(value)
        for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
            if abs(size) < 1000 or unit == "PB":
                return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
            size /= 1000
    if kind == "integer" or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.2f}"


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def lower(label: str) -> str:
    """Lower-case a label's first word unless it is an acronym: 'Spend (USD)' -> 'spend (USD)'."""
    first, _, rest = label.partition(" ")
    if len(first) > 1 and first[0].isupper() and first[1:].isalpha() and first[1:].islower():
        first = first.lower()
    return f"{first} {rest}".strip()


def _join(parts: list[str]) -> str:
    """Merge "with a x", "with b y" into "with a x and b y"."""
    out: list[str] = []
    for part in parts:
        if out and part.startswith("with ") and out[-1].startswith("with "):
            out[-1] += " and " + part[5:]
        else:
            out.append(part)
    return " ".join(out)


def _sentence(text: str, *, capitalise: bool = True) -> str:
    text = " ".join(text.split())
    if not text:
        return text
    if capitalise:
        text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."
