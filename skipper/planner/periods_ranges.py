"""Calendar spans of the time grammar: quarters, halves, months and years, named alone ("Q2",
"the first half of 2025") or as ranges ("from November 2024 to February 2025", "2015-2017",
"1-15 August 2025").

A span named without its year is the latest one that has started; a range without years is the
latest whose last span has started, its first span in the same year or the year before.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from skipper.planner.query import TimeRange

Unit = Literal["year", "half", "quarter", "month"]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
            "4th": 4}
_LAST = {"last": {"quarter": 4, "half": 2}, "final": {"quarter": 4, "half": 2}}
_SPAN_MONTHS = {"year": 12, "half": 6, "quarter": 3, "month": 1}
_CODE = re.compile(r"([qh])([1-4])")
_LINKS = {"to", "until", "till", "through", "thru"}  # "and" only after "between"
# "compare 2024 to 2025", "growth between 2024 and 2025": the "to" or "and" compares two
# periods, it does not span them.
_COMPARE_VERBS = {"compare", "comparing", "change", "changed", "growth", "grow", "grew", "grown",
                  "increase", "increased", "decrease", "decreased", "difference", "delta", "went",
                  "rise", "rose", "fall", "fell", "jump", "jumped"}
_COMPARE_LINKS = {"vs", "versus", "against", "compared", "with"}


def year_number(word: str) -> int | None:
    """A four-digit year 1900-2100: never a count such as "top 5" or "over 100"."""
    return int(word) if word.isdigit() and len(word) == 4 and 1900 <= int(word) <= 2100 else None


def day_number(word: str) -> int | None:
    """``15``, ``15th``: a day of the month."""
    for suffix in ("st", "nd", "rd", "th"):
        if word.endswith(suffix) and word[: -len(suffix)].isdigit():
            word = word[: -len(suffix)]
    return int(word) if word.isdigit() and 1 <= int(word) <= 31 else None


@dataclass(frozen=True)
class Span:
    """A calendar span as the question named it: the ``index``-th ``unit`` of ``year``, whose
    year may be left to today."""

    unit: Unit
    index: int
    year: int | None = None

    def start(self, year: int) -> date:
        return date(year, 1 + (self.index - 1) * _SPAN_MONTHS[self.unit], 1)

    def end(self, year: int) -> date:
        month = self.start(year).month + _SPAN_MONTHS[self.unit] - 1
        return date(year, month, calendar.monthrange(year, month)[1])

    def latest_year(self, today: date) -> int:
        """The year of the latest such span that has started."""
        return today.year if self.start(today.year) <= today else today.year - 1

    def resolve(self, today: date) -> tuple[date, date]:
        year = self.year if self.year is not None else self.latest_year(today)
        return self.start(year), self.end(year)


def span(words: list[str], i: int, today: date, months: bool = True) -> tuple[int, Span] | None:
    """"2025", "Q2 [2025]", "2025 Q2", "the second quarter [of last year]", "H1", "first half of
    2025", "February [2025]" (``months``): (how many words, the span)."""
    if i >= len(words):
        return None
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    given = year_number(word)
    if given is not None:
        code = _code(nxt)
        if code is not None:
            return 2, Span(code[0], code[1], given)
        return 1, Span("year", 1, given)
    code = _code(word)
    length = 1
    if code is not None:
        unit, index = code
    elif nxt in ("quarter", "half") and (word in ORDINALS or word in _LAST):
        unit = "quarter" if nxt == "quarter" else "half"
        index = ORDINALS[word] if word in ORDINALS else _LAST[word][unit]
        if index > (4 if unit == "quarter" else 2):
            return None
        length = 2
    elif months and word in MONTHS:
        unit, index = "month", MONTHS[word]
    else:
        return None
    which = _which_year(words, i + length, today)
    if which is not None:
        return length + which[0], Span(unit, index, which[1])
    if word in _LAST:
        return None  # "last quarter" is the quarter before this one, read elsewhere
    return length, Span(unit, index)


def calendar_span(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """A quarter or a half on its own: "Q2 2025", "the second quarter of last year", "H2"."""
    found = span(words, i, today, months=False)
    if found is None or found[1].unit not in ("quarter", "half"):
        return None
    start, end = found[1].resolve(today)
    return found[0], TimeRange(start=start, end=end)


def span_range(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """"between February and May 2025", "from November 2024 to February 2025", "2015 to 2017",
    "Q1-Q3 2025", "Feb-May 2025": from the start of one span to the end of another."""
    lead = words[i] if words[i] in ("from", "between", "since") else None
    j = i + (1 if lead else 0)
    first = span(words, j, today)
    if first is None:
        return None
    k = j + first[0]
    link = words[k] if k < len(words) else ""
    if link in _LINKS or (link == "and" and lead == "between"):
        k += 1
    elif lead == "since":
        return None
    else:
        link = ""  # "2015-2017", "Feb-May 2025": the hyphen is not a word
    second = span(words, k, today)
    if second is None:
        return None
    a, b = first[1], second[1]
    if not link and (a.unit != b.unit or b.year is None or a == b):
        return None
    if _comparing(words, i):
        return None
    pair = _years(a, b, today)
    if pair is None:
        return None
    start, end = a.start(pair[0]), b.end(pair[1])
    if start > end:
        return None
    return k + second[0] - i, TimeRange(start=start, end=end)


def day_range(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """Days of one month: "from 1 to 15 August 2025", "1-15 August", "between 3 and 17
    September", "August 1 to 15, 2025"."""
    lead = words[i] if words[i] in ("from", "between") else None
    k = i + (1 if lead else 0)
    at = words[k:k + 7] + [""] * 7
    month = MONTHS.get(at[0])
    if month is not None:
        at = at[1:]
    first = day_number(at[0])
    skip = 1 if at[1] in _LINKS or (at[1] == "and" and lead == "between") else 0
    second = day_number(at[1 + skip])
    if first is None or second is None or first >= second:
        return None
    used = 2 + skip + (1 if month is not None else 0)
    if month is None:
        month = MONTHS.get(at[2 + skip])
        if month is None:
            return None
        used += 1
    rest = words[k + used:k + used + 2]
    which: int | None = None
    if rest[:1] == [","] and len(rest) == 2 and year_number(rest[1]) is not None:
        which, used = year_number(rest[1]), used + 2
    elif rest and year_number(rest[0]) is not None:
        which, used = year_number(rest[0]), used + 1
    if which is None:  # the latest such range that has started
        begin = _day(today.year, month, first)
        which = today.year if begin is not None and begin <= today else today.year - 1
    start, end = _day(which, month, first), _day(which, month, second)
    if start is None or end is None:
        return None
    return k + used - i, TimeRange(start=start, end=end)


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _code(word: str) -> tuple[Unit, int] | None:
    """``q3`` -> the third quarter, ``h1`` -> the first half."""
    match = _CODE.fullmatch(word)
    if match is None or (match.group(1) == "h" and match.group(2) > "2"):
        return None
    return ("quarter" if match.group(1) == "q" else "half"), int(match.group(2))


def _which_year(words: list[str], j: int, today: date) -> tuple[int, int] | None:
    """"2025", "of 2025", "in 2025", "[of] this year", "[of] last year": (length, year)."""
    offset = 1 if j < len(words) and words[j] in ("of", "in") else 0
    at = words[j + offset:j + offset + 2]
    given = year_number(at[0]) if at else None
    if given is not None:
        return offset + 1, given
    if len(at) == 2 and at[1] == "year":
        if at[0] in ("this", "current"):
            return offset + 2, today.year
        if at[0] in ("last", "previous", "prior"):
            return offset + 2, today.year - 1
    return None


def _years(a: Span, b: Span, today: date) -> tuple[int, int] | None:
    """The years of a range's first and last span, those left out filled in."""
    if a.year is not None and b.year is not None:
        return a.year, b.year
    if "year" in (a.unit, b.unit):
        return None  # "from 2024 to March": which March is not said
    if b.year is not None:
        return (b.year if a.start(b.year) <= b.start(b.year) else b.year - 1), b.year
    if a.year is not None:
        return a.year, (a.year if b.start(a.year) >= a.start(a.year) else a.year + 1)
    last = b.latest_year(today)
    return (last if a.start(last) <= b.start(last) else last - 1), last


def _comparing(words: list[str], i: int) -> bool:
    """Whether a comparison verb before ``i`` still waits for its "to": "compare 2024 to 2025"."""
    for word in reversed(words[:i]):
        if word in _COMPARE_LINKS:
            return False
        if word in _COMPARE_VERBS:
            return True
    return False
