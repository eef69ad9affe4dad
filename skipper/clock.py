"""Time as Skipper sees it: injectable, so "today" is fixed in tests and demos."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)

    def today(self) -> date:
        return self.now().date()


class FixedClock:
    """A clock stopped on one day: ``now`` is the end of that day, so a date column whose
    last value is ``today`` counts as current."""

    def __init__(self, today: date | str) -> None:
        self._today = date.fromisoformat(today) if isinstance(today, str) else today

    def now(self) -> datetime:
        return datetime.combine(self._today, time(23, 59, 59))

    def today(self) -> date:
        return self._today
