"""The Answer: rows, the exact SQL that ran, what it read, how fresh and complete, its audit id."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import math
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from skipper.annotate import Lineage, SamplingNote
from skipper.freshness import TableFreshness

if TYPE_CHECKING:
    import pandas as pd


def json_value(value: Any) -> Any:
    """A result cell as JSON: dates as ISO text, decimals as numbers, bytes as hex."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return (
            float(value) if value == value.to_integral_value() or abs(value) < 1e15 else str(value)
        )
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


@dataclass
class Answer:
    """What Skipper returns for a question or a SQL text.

    ``sql`` is the exact text executed, after every rewrite; ``rows`` holds at most ``max_rows``
    rows while ``row_count`` counts them all (``truncated`` says when they differ).
    """

    sql: str
    table: pa.Table
    row_count: int
    truncated: bool
    lineage: Lineage
    caveats: list[str]
    freshness: dict[str, TableFreshness]
    sampling: list[SamplingNote]
    audit_id: str
    timings: dict[str, float]
    user: str | None = None
    status: Literal["ok", "cannot_answer", "needs_clarification"] = "ok"
    question: str | None = None
    planner: str | None = None
    semantic_query: Any = None
    summary: str | None = None
    message: str | None = None
    suggestions: list[str] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # column -> catalog label
    interpretation: str | None = None  # the question as understood (None for SQL as given)
    choices: list[str] = field(default_factory=list)  # needs_clarification: runnable readings

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    @functools.cached_property
    def rows(self) -> list[tuple[Any, ...]]:
        columns = [self.table.column(i).to_pylist() for i in range(self.table.num_columns)]
        return list(zip(*columns, strict=True)) if columns else []

    @property
    def tables(self) -> list[str]:
        """Catalog tables the query read."""
        return self.lineage.tables

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    @property
    def df(self) -> pd.DataFrame:
        return self.to_pandas()

    def to_dict(self) -> dict[str, Any]:
        """The whole answer as JSON-ready data (what `--json` prints)."""
        return {
            "status": self.status,
            "question": self.question,
            "planner": self.planner,
            "interpretation": self.interpretation,
            "summary": self.summary,
            "message": self.message,
            "choices": self.choices,
            "suggestions": self.suggestions,
            "unknown_words": self.unknown_words,
            "semantic_query": _dump(self.semantic_query),
            "user": self.user,
            "columns": self.columns,
            "rows": [[json_value(v) for v in row] for row in self.rows],
            "row_count": self.row_count,
            "truncated": self.truncated,
            "sql": self.sql,
            "tables": self.tables,
            "lineage": self.lineage.to_dict(),
            "caveats": self.caveats,
            "freshness": {name: f.to_dict() for name, f in self.freshness.items()},
            "sampling": [note.to_dict() for note in self.sampling],
            "audit_id": self.audit_id,
            "timings": self.timings,
        }

    def _repr_html_(self) -> str:
        from skipper.display import answer_html

        return answer_html(self)

    def __rich__(self) -> Any:
        from skipper.display import answer_rich

        return answer_rich(self)

    def chart(self, catalog: Any = None) -> Any:
        """An Altair chart for this result's shape, or None (needs ``skipper[charts]``)."""
        from skipper.chart import chart

        return chart(self, catalog)

    def save_chart(self, path: Any, catalog: Any = None) -> Any:
        """Write the chart as .png or .svg, offline (needs ``skipper[charts]``)."""
        from skipper.chart import save_chart

        return save_chart(self, path, catalog)

    def __repr__(self) -> str:
        shown = f"{len(self.rows)} of {self.row_count}" if self.truncated else str(self.row_count)
        return (
            f"<Answer {self.status} rows={shown} tables={self.tables} "
            f"caveats={len(self.caveats)} audit_id={self.audit_id!r}>"
        )


def _dump(value: Any) -> Any:
    if value is None:
        return None
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value
