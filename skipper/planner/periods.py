"""The time grammar: "yesterday", "last 30 days", "this quarter", "since 2026-05-01", "in 2026",
"Q2 2025", "from February to May", "before 2015" (quarters, halves and ranges: periods_ranges)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from skipper.planner.periods_ranges import (
    MONTHS,
    calendar_span,
    day_number,
    day_range,
    span,
    span_range,
    year_number,
)
from skipper.planner.query import GRAINS, Grain, RelativePeriod, TimeRange, period_end

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}
UNIT_WORDS: dict[str, Grain] = {
    "day": "day", "days": "day", "week": "week", "weeks": "week", "wk": "week", "wks": "week",
    "month": "month", "months": "month", "quarter": "quarter", "quarters": "quarter",
    "year": "year", "years": "year", "yr": "year", "yrs": "year",
}
_TO_DATE = {"ytd": "year", "qtd": "quarter", "mtd": "month", "wtd": "week"}
_ROLLING = {"past", "trailing", "rolling"}
_CALENDAR = {"last", "previous", "prior", "preceding"}
_RANGE_END = {"to", "until", "till", "through", "thru", "and"}
_SUFFIXES = {"st", "nd", "rd", "th"}
_IN = {"in", "during", "for", "over", "of", "throughout", "on"}
_UNTIL = {"until", "till", "through", "thru", "before"}
_EARLIEST = date(1900, 1, 1)  # where TimeRange.resolve starts a range with no start


def number(word: str) -> int | None:
    """``30``, ``1,000`` or ``thirty`` as an int."""
    if word in NUMBER_WORDS:
        return NUMBER_WORDS[word]
    cleaned = word.replace(",", "")
    return int(cleaned) if cleaned.isdigit() else None


Rule = Callable[[list[str], int, date], "tuple[int, TimeRange] | None"]


def match_period(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """The longest time expression starting at ``words[i]``: (how many words, the range) or
    None. Of two rules reading as many words, the first listed wins."""
    joined, starts = _ordinals_joined(words)
    if i not in starts:
        return None  # the "th" of "15th"
    at = starts.index(i)
    best: tuple[int, TimeRange] | None = None
    for rule in _RULES:
        found = rule(joined, at, today)
        if found is None and joined[at] in _IN and at + 1 < len(joined) and rule in _SPANS:
            found = rule(joined, at + 1, today)  # "in Q3", "during the first half of 2025"
            found = None if found is None else (found[0] + 1, found[1])
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        return None
    length, time_range = best
    if time_range.label is None:
        label = " ".join(joined[at:at + length]).replace(" ,", ",")
        time_range = time_range.model_copy(update={"label": label})
    end = starts[at + length] if at + length < len(starts) else len(words)
    return end - i, time_range


def _ordinals_joined(words: list[str]) -> tuple[list[str], list[int]]:
    """The words with "15" "th" joined back into "15th" (the tokenizer splits them), and where
    each joined word starts in ``words``."""
    joined: list[str] = []
    starts: list[int] = []
    for k, word in enumerate(words):
        if word in _SUFFIXES and k and words[k - 1].isdigit() and joined[-1] == words[k - 1]:
            joined[-1] += word
            continue
        joined.append(word)
        starts.append(k)
    return joined, starts


def match_lookback(words: list[str], i: int) -> tuple[int, int, Grain] | None:
    """"previous 30 days" / "prior 2 weeks": (length, n, unit), for comparisons."""
    at = words[i:i + 3]
    if len(at) >= 3 and at[0] in _CALENDAR | _ROLLING:
        n = number(at[1])
        if n is not None and at[2] in UNIT_WORDS:
            return 3, n, UNIT_WORDS[at[2]]
    return None


def _relative(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    word = words[i]
    if word in ("today", "tonight"):
        return 1, TimeRange(relative=RelativePeriod(kind="today"))
    if word == "yesterday":
        return 1, TimeRange(relative=RelativePeriod(kind="yesterday"))
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if word in _CALENDAR | _ROLLING:
        lookback = match_lookback(words, i)
        if lookback is not None:
            length, n, unit = lookback
            return length, TimeRange(relative=RelativePeriod(kind="last_n", n=n, unit=unit))
        if nxt in UNIT_WORDS:
            unit = UNIT_WORDS[nxt]
            if word in _ROLLING:
                return 2, TimeRange(relative=RelativePeriod(kind="last_n", unit=unit))
            return 2, TimeRange(relative=RelativePeriod(kind="previous", unit=unit))
    if word in ("this", "current") and nxt in UNIT_WORDS and UNIT_WORDS[nxt] in GRAINS:
        unit = UNIT_WORDS[nxt]
        if unit == "day":
            return 2, TimeRange(relative=RelativePeriod(kind="today"))
        return 2, TimeRange(relative=RelativePeriod(kind="current", unit=unit))
    return None


def _to_date(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    if words[i] in _TO_DATE:
        unit = _TO_DATE[words[i]]
        return 1, TimeRange(relative=RelativePeriod(kind="current", unit=unit))  # type: ignore[arg-type]
    if words[i] in UNIT_WORDS and words[i + 1:i + 3] == ["to", "date"]:
        return 3, TimeRange(relative=RelativePeriod(kind="current", unit=UNIT_WORDS[words[i]]))
    return None


def _since(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    if words[i] not in ("since", "after", "starting", "from"):
        return None
    offset = 2 if words[i] == "starting" and words[i + 1:i + 2] in (["from"], ["on"]) else 1
    found = _date(words, i + offset, today)
    if found is None:
        return None
    length, start = found
    end = len_end = None
    tail = i + offset + length
    if words[i] == "from" and tail < len(words) and words[tail] in _RANGE_END:
        later = _date(words, tail + 1, today)
        if later is None:
            return None
        len_end, end = later
    if words[i] == "after":
        start += timedelta(days=1)
    if end is not None and len_end is not None:
        if end < start:
            return None
        return tail + 1 + len_end - i, TimeRange(start=start, end=end)
    if words[i] == "from":
        return None
    return offset + length, TimeRange(start=start)


def _between(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    if words[i] != "between":
        return None
    first = _date(words, i + 1, today)
    if first is None:
        return None
    length, start = first
    j = i + 1 + length
    if j >= len(words) or words[j] not in ("and", "to"):
        return None
    second = _date(words, j + 1, today)
    if second is None or second[1] < start:
        return None
    return j + 1 + second[0] - i, TimeRange(start=start, end=second[1])


def _in_year_or_month(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    if words[i] not in ("in", "during", "for", "of", "over"):
        return None
    j = i + 1
    if j < len(words) and year_number(words[j]) is not None:
        year = year_number(words[j])
        assert year is not None
        return 2, TimeRange(start=date(year, 1, 1), end=date(year, 12, 31))
    if j < len(words) and words[j] in MONTHS:
        month = MONTHS[words[j]]
        year_word = words[j + 1] if j + 1 < len(words) else ""
        year = year_number(year_word)
        length = 3 if year is not None else 2
        if year is None:  # the latest such month that has started
            year = today.year if month <= today.month else today.year - 1
        start = date(year, month, 1)
        return length, TimeRange(start=start, end=period_end(start, "month"))
    return None


def _month_alone(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """"what about April?", "April 2026": a month named on its own ("may" only with a year,
    it is also a verb)."""
    word = words[i]
    if word not in MONTHS or len(word) < 3:
        return None
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if day_number(nxt) is not None and year_number(nxt) is None:
        return None  # "May 3": a date, read by _on_day
    year = year_number(nxt)
    if year is None and word == "may":
        return None
    month = MONTHS[word]
    if year is None:
        year = today.year if month <= today.month else today.year - 1
    start = date(year, month, 1)
    return (2 if year_number(nxt) else 1), TimeRange(start=start, end=period_end(start, "month"))


def _on_day(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    offset = 1 if words[i] == "on" else 0
    found = _date(words, i + offset, today)
    if found is None:
        return None
    length, day = found
    return offset + length, TimeRange(start=day, end=day)


def _date(words: list[str], i: int, today: date) -> tuple[int, date] | None:
    """A calendar date: 2026-05-01, 2026/05/01, May 1 [2026], 1 May [2026]."""
    if i >= len(words):
        return None
    word = words[i]
    for separator in ("-", "/"):
        parts = word.split(separator)
        if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
            try:
                return 1, date(int(parts[0]), int(parts[1]), int(parts[2]))
            except ValueError:
                return None
    nxt = words[i + 1] if i + 1 < len(words) else ""
    after = words[i + 2] if i + 2 < len(words) else ""
    if word in MONTHS and day_number(nxt) is not None:
        month, day_no = MONTHS[word], day_number(nxt)
        assert day_no is not None
        year = year_number(after)
        return _build(month, day_no, year, today, 3 if year else 2)
    if day_number(word) is not None and nxt in MONTHS:
        day_no, month = day_number(word), MONTHS[nxt]
        assert day_no is not None
        year = year_number(after)
        return _build(month, day_no, year, today, 3 if year else 2)
    return None


def _build(
    month: int, day_no: int, year: int | None, today: date, length: int
) -> tuple[int, date] | None:
    if year is None:
        year = today.year
        try:
            if date(year, month, day_no) > today:
                year -= 1
        except ValueError:
            return None
    try:
        return length, date(year, month, day_no)
    except ValueError:
        return None


def _so_far(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """"so far this year", "this month so far", "this year to date": the unit up to today."""
    at = words[i:i + 4]
    if at[:2] == ["so", "far"]:
        at, length = at[2:], 4
    elif at[2:] in (["so", "far"], ["to", "date"]):
        length = 4
    else:
        return None
    if len(at) < 2 or at[0] not in ("this", "current") or UNIT_WORDS.get(at[1]) in (None, "day"):
        return None
    return length, TimeRange(relative=RelativePeriod(kind="current", unit=UNIT_WORDS[at[1]]))


def _open_ended(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """"since 2018", "after Q2 2024", "from 2018 onwards", "before 2015", "until March 2014",
    "up to 2014", "prior to May 3": a range open at one end."""
    word = words[i]
    offset = 2 if words[i:i + 2] in (["up", "to"], ["up", "until"], ["prior", "to"]) else 1
    if offset == 2:
        word = "before" if word == "prior" else "until"
    elif word == "starting" and words[i + 1:i + 2] in (["from"], ["in"]):
        offset = 2
    if word not in _UNTIL and word not in ("since", "after", "starting", "from"):
        return None
    found = span(words, i + offset, today)
    day = _date(words, i + offset, today) if word in _UNTIL | {"from"} else None  # else _since
    if day is not None and (found is None or day[0] > found[0]):
        length, start, end = day[0], day[1], day[1]
    elif found is not None:
        length, (start, end) = found[0], found[1].resolve(today)
    else:
        return None
    if word == "from":  # "orders from EU customers": "from" alone starts nothing
        if words[i + offset + length:i + offset + length + 1] not in (["onwards"], ["onward"]):
            return None
        length += 1
    if word in ("since", "starting", "from"):
        return offset + length, TimeRange(start=start)
    if word == "after":
        return offset + length, TimeRange(start=end + timedelta(days=1))
    if word == "before":
        if start <= _EARLIEST:  # nothing before the start of every open range
            return None
        return offset + length, TimeRange(end=start - timedelta(days=1))
    return offset + length, TimeRange(end=end)


def _date_range(words: list[str], i: int, today: date) -> tuple[int, TimeRange] | None:
    """"May 1 to May 5", "2026-05-01 through 2026-05-10": two dates, no "from"."""
    first = _date(words, i, today)
    if first is None:
        return None
    j = i + first[0]
    if j >= len(words) or words[j] not in _RANGE_END - {"and"}:
        return None
    second = _date(words, j + 1, today)
    if second is None or second[1] < first[1]:
        return None
    return j + 1 + second[0] - i, TimeRange(start=first[1], end=second[1])


_SPANS: tuple[Rule, ...] = (calendar_span, span_range, day_range)
_RULES: tuple[Rule, ...] = (_relative, _to_date, _since, _between, _in_year_or_month, _on_day,
                            _month_alone, _so_far, _open_ended, _date_range, *_SPANS)
