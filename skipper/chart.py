"""Charts of answers: the chart a result's shape calls for, titled in the catalog's words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from skipper.answer import Answer, json_value
from skipper.display import is_numeric
from skipper.errors import ConfigError
from skipper.identifiers import fold

if TYPE_CHECKING:
    import altair

    from skipper.catalog import Catalog

ChartKind = Literal["line", "bar"]
SUFFIXES = (
    ("_change_pct", "change (%)"), ("_change", "change"), ("_previous", "(previous period)"),
)
MAX_BARS = 50
MAX_SERIES = 10


def column_labels(answer: Answer, catalog: Catalog | None = None) -> dict[str, str]:
    """A readable name per result column: catalog metric, dimension and column labels, else the
    column name in words (``account_name`` -> ``Account name``)."""
    labels = {name: humanize(name) for name in answer.columns}
    if catalog is None:
        return {**labels, **answer.labels}  # Skipper fills these from its catalog
    grains = _breakdown_grains(answer)
    columns = _column_labels(catalog, answer)
    for name in answer.columns:
        label = _catalog_label(catalog, columns, name)
        if label is None:
            for suffix, words in SUFFIXES:
                if name.endswith(suffix):
                    base = _catalog_label(catalog, columns, name[: -len(suffix)])
                    label = f"{base} {words}" if base else None
                    break
        if label is None and name in grains:
            dimension, grain = grains[name]
            base = _catalog_label(catalog, columns, dimension)
            label = f"{base} ({grain})" if base else None
        if label:
            labels[name] = label
    return labels


def humanize(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def _column_labels(catalog: Catalog, answer: Answer) -> dict[str, str]:
    """The labelled columns of the tables the answer read, by folded name (the first table
    read that labels a name wins, as the tables are listed)."""
    labels: dict[str, str] = {}
    for table_name in answer.tables:
        table = catalog.find_table(table_name)
        for column in table.columns if table is not None else ():
            if column.label:
                labels.setdefault(fold(column.name), column.label)
    return labels


def _catalog_label(catalog: Catalog, columns: dict[str, str], name: str) -> str | None:
    metric = catalog.find_metric(name)
    if metric is not None and metric.label:
        return metric.label
    dimension = catalog.find_dimension(name)
    if dimension is not None and dimension.label:
        return dimension.label
    return columns.get(fold(name))


def _breakdown_grains(answer: Answer) -> dict[str, tuple[str, str]]:
    """Output columns of time dimensions truncated to a grain: key -> (dimension, grain)."""
    found: dict[str, tuple[str, str]] = {}
    for breakdown in getattr(answer.semantic_query, "breakdowns", None) or []:
        if breakdown.dimension and breakdown.grain:
            found[breakdown.key] = (breakdown.dimension.rsplit(".", 1)[-1], breakdown.grain)
    return found


def chart_kind(answer: Answer) -> tuple[ChartKind, str, str, str | None] | None:
    """``(kind, x, y, color)`` for the result's shape, or None when a chart would not help.

    A time column and a measure: a line (one per category when there is one category too).
    One category and a measure: bars sorted by value. A single value, or anything else: none.
    """
    if answer.status != "ok" or answer.table.num_rows < 2:
        return None
    times: list[str] = []
    measures: list[str] = []
    categories: list[str] = []
    for field in answer.table.schema:
        kind = _field_kind(field.type)
        {"time": times, "measure": measures, "category": categories}[kind].append(field.name)
    if not measures:
        return None
    if len(times) == 1 and len(categories) <= 1:
        return "line", times[0], measures[0], categories[0] if categories else None
    if not times and len(categories) == 1:
        return "bar", measures[0], categories[0], None
    return None


def _field_kind(type_: pa.DataType) -> str:
    if pa.types.is_temporal(type_):
        return "time"
    if pa.types.is_boolean(type_):
        return "category"
    if is_numeric(type_):
        return "measure"
    return "category"


def chart(
    answer: Answer,
    catalog: Catalog | None = None,
    *,
    labels: dict[str, str] | None = None,
) -> altair.Chart | None:
    """The Altair chart for ``answer`` (see ``chart_kind``), or None for a single value.

    Titles come from ``labels``, else the catalog's labels, else the column names.
    """
    shape = chart_kind(answer)
    if shape is None:
        return None
    alt = _altair()
    kind, x, y, color = shape
    names = {**column_labels(answer, catalog), **(labels or {})}
    period = getattr(getattr(answer.semantic_query, "time_range", None), "label", None)
    values = _values(answer, [c for c in (x, y, color) if c])
    if kind == "line":
        title = f"{names[y]} by {names[x].lower()}" + (f", {period}" if period else "")
        encoding: dict[str, Any] = {
            "x": alt.X(x, type="temporal", title=names[x], scale=alt.Scale(type="utc")),
            "y": alt.Y(y, type="quantitative", title=names[y]),
            "tooltip": [alt.Tooltip(c, type=t, title=names[c]) for c, t in
                        ((x, "temporal"), (y, "quantitative"), (color, "nominal")) if c],
        }
        if color:
            keep = _top_categories(values, color, y, MAX_SERIES)
            values = [v for v in values if v[color] in keep]
            encoding["color"] = alt.Color(color, type="nominal", title=names[color])
        mark = alt.Chart(alt.Data(values=values)).mark_line(point=len(values) <= 60)
    else:
        title = f"{names[x]} by {names[y].lower()}" + (f", {period}" if period else "")
        values = sorted(values, key=lambda v: v[x] if v[x] is not None else float("-inf"),
                        reverse=True)[:MAX_BARS]
        encoding = {
            "x": alt.X(x, type="quantitative", title=names[x]),
            "y": alt.Y(y, type="nominal", title=names[y], sort="-x"),
            "tooltip": [alt.Tooltip(y, type="nominal", title=names[y]),
                        alt.Tooltip(x, type="quantitative", title=names[x], format=",")],
        }
        mark = alt.Chart(alt.Data(values=values)).mark_bar()
    return mark.encode(**encoding).properties(title=title, width=480)


def _top_categories(values: list[dict[str, Any]], color: str, measure: str, n: int) -> set[Any]:
    totals: dict[Any, float] = {}
    for row in values:
        value = row[measure]
        totals[row[color]] = totals.get(row[color], 0.0) + (
            value if isinstance(value, (int, float)) else 0.0)
    return set(sorted(totals, key=lambda k: totals[k], reverse=True)[:n])


def _values(answer: Answer, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as JSON-ready records (decimals as floats, dates as ISO text) for Vega-Lite."""
    index = [answer.columns.index(c) for c in columns]
    return [{c: json_value(row[i]) for c, i in zip(columns, index, strict=True)}
            for row in answer.rows]


def chart_image(chart_: altair.Chart, fmt: Literal["png", "svg"] = "png",
                scale: float = 2.0) -> bytes:
    """The chart rendered offline by vl-convert (no browser, no network)."""
    try:
        import vl_convert
    except ImportError as error:
        raise ConfigError("saving charts needs the charts extra: pip install 'skipper[charts]'",
                          code="config.missing_extra", extra="charts") from error
    spec = chart_.to_json()
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec).encode()  # type: ignore[no-any-return]
    return vl_convert.vegalite_to_png(spec, scale=scale)  # type: ignore[no-any-return]


def save_chart(answer: Answer, path: str | Path, catalog: Catalog | None = None) -> Path:
    """Write the answer's chart as PNG or SVG (by the file's suffix). ConfigError when the result
    has no chart (a single value) or the suffix is neither."""
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ConfigError(f"save_chart writes .png or .svg files, not {target.name!r}",
                          code="chart.format")
    made = chart(answer, catalog)
    if made is None:
        raise ConfigError("this answer has no chart: it is a single value or has no measure "
                          "to plot", code="chart.none")
    target.write_bytes(chart_image(made, fmt))  # type: ignore[arg-type]
    return target


def _altair() -> Any:
    try:
        import altair
    except ImportError as error:
        raise ConfigError("charts need the charts extra: pip install 'skipper[charts]'",
                          code="config.missing_extra", extra="charts") from error
    return altair
