"""How recent each table's data is, measured once and cached, so answers carry it for free."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlglot import exp

from skipper.catalog import Catalog, Table
from skipper.catalog.models import format_duration
from skipper.clock import Clock
from skipper.engine import Engine
from skipper.errors import EngineError


@dataclass(frozen=True)
class TableFreshness:
    """The last data point of a table, how old it is, and whether that breaks its SLA."""

    table: str
    method: str  # "column" or "load_log"
    last: date | datetime | None
    lag: timedelta | None
    sla: timedelta
    stale: bool
    measured_at: datetime
    error: str | None = None  # why it could not be measured (then last and lag are None)
    withheld: bool = False  # last and lag hidden from a reader whose row filter limits the table

    @property
    def age(self) -> str:
        """The lag in words: "8 days", "3 hours"."""
        if self.withheld:
            return "withheld"
        return describe_lag(self.lag) if self.lag is not None else "unknown"

    def withhold(self) -> TableFreshness:
        """This measurement as a row-filtered reader may see it: the SLA status only. The last
        data point is measured over every row, so it could come from rows the reader's filter
        hides; whether the table meets its SLA is the one bit left."""
        return replace(self, last=None, lag=None, withheld=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "method": self.method,
            "last": self.last.isoformat() if self.last is not None else None,
            "lag_seconds": int(self.lag.total_seconds()) if self.lag is not None else None,
            "age": self.age,
            "sla": format_duration(self.sla),
            "stale": self.stale,
            "measured_at": self.measured_at.isoformat(timespec="seconds"),
            **({"error": self.error} if self.error else {}),
            **({"withheld": True} if self.withheld else {}),
        }


def _day(value: object, *, last: bool = False) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return date(value, 12, 31) if last else date(value, 1, 1)  # a column of years
    return value if isinstance(value, date) else None


def describe_lag(lag: timedelta) -> str:
    seconds = max(int(lag.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def _measure_query(table: Table) -> exp.Query:
    """SELECT max(<time>) for one table, built as a tree (never by string concatenation)."""
    freshness = table.freshness
    assert freshness is not None
    if freshness.column:
        source = exp.table_(table.name, db=table.db_schema, quoted=True)
        return exp.select(exp.Max(this=exp.column(freshness.column, quoted=True))).from_(source)
    log = freshness.load_log
    assert log is not None
    return (
        exp.select(exp.Max(this=exp.column(log.time_column, quoted=True)))
        .from_(exp.table_(log.table, quoted=True))
        .where(exp.column(log.table_column, quoted=True).eq(exp.Literal.string(table.name)))
    )


class FreshnessMonitor:
    """Measures freshness for the tables an answer reads, caching each figure for ``ttl_s``.

    The measurement is one small aggregate per table; caching keeps it off the path of every
    answer while staying current for a long-running process.
    """

    def __init__(self, catalog: Catalog, engine: Engine, clock: Clock, *, ttl_s: float = 300.0):
        self.catalog = catalog
        self.engine = engine
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, TableFreshness]] = {}
        self._spans: dict[str, tuple[float, tuple[date, date] | None]] = {}
        self._lock = threading.Lock()

    def check(self, tables: list[str]) -> dict[str, TableFreshness]:
        out: dict[str, TableFreshness] = {}
        for name in tables:
            table = self.catalog.find_table(name)
            if table is None or table.freshness is None:
                continue
            out[table.name] = self._get(table)
        return out

    def span(self, table: Table, column: str) -> tuple[date, date] | None:
        """The first and last day a time column holds (None when empty or not measurable),
        cached like freshness: what periods the data can answer for at all."""
        key = f"span:{table.name}.{column}"
        with self._lock:
            cached = self._spans.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
        target = exp.column(column, quoted=True)
        sql = (exp.select(exp.Min(this=target.copy()), exp.Max(this=target))
               .from_(exp.table_(table.name, db=table.db_schema, quoted=True))
               .sql(dialect=self.catalog.dialect))
        try:
            result = self.engine.execute(sql, max_rows=1, timeout_s=30)
            first, last = (result.table.column(i)[0].as_py() for i in range(2))
        except EngineError:
            first = last = None
        found = ((_day(first), _day(last, last=True))
                 if first is not None and last is not None else None)
        if found is not None and (found[0] is None or found[1] is None):
            found = None
        with self._lock:
            self._spans[key] = (time.monotonic(), found)  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._spans.clear()

    def _get(self, table: Table) -> TableFreshness:
        with self._lock:
            cached = self._cache.get(table.name)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
        try:
            measured = self._measure(table)
        except EngineError as error:
            # The answer does not depend on it: say it could not be measured (cached like a
            # figure, so a measurement that times out is not retried on every answer).
            measured = self._unmeasured(table, f"{error.code}: {error.message}")
        with self._lock:
            self._cache[table.name] = (time.monotonic(), measured)
        return measured

    def _unmeasured(self, table: Table, error: str) -> TableFreshness:
        freshness = table.freshness
        assert freshness is not None
        return TableFreshness(table=table.name,
                              method="column" if freshness.column else "load_log",
                              last=None, lag=None, sla=freshness.sla, stale=True,
                              measured_at=self.clock.now(), error=error)

    def _measure(self, table: Table) -> TableFreshness:
        freshness = table.freshness
        assert freshness is not None
        sql = _measure_query(table).sql(dialect=self.catalog.dialect)
        result = self.engine.execute(sql, max_rows=1, timeout_s=30)
        last = result.table.column(0)[0].as_py() if result.table.num_rows else None
        now = self.clock.now()
        lag: timedelta | None
        if last is None:
            lag = None
        elif isinstance(last, datetime):
            lag = now - last.replace(tzinfo=None)
        elif isinstance(last, date):
            # A date covers its whole day: data through yesterday is one day old today.
            lag = timedelta(days=(self.clock.today() - last).days)
        else:
            lag = None
        stale = lag is None or lag > freshness.sla
        return TableFreshness(
            table=table.name,
            method="column" if freshness.column else "load_log",
            last=last if isinstance(last, (date, datetime)) else None,
            lag=lag,
            sla=freshness.sla,
            stale=stale,
            measured_at=now,
        )
