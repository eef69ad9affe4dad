"""The time grammar on its own: quarters, halves, month/year/day ranges and open ranges, read from
a question's words by ``match_period`` against a fixed today, and numbers that are not periods."""

from __future__ import annotations

from datetime import date

import pytest

from skipper.planner.periods import match_period
from skipper.planner.query import TimeRange
from skipper.planner.words import tokens

AUTUMN = date(2025, 10, 1)  # Q4 and H2 have just started
WINTER = date(2025, 1, 5)  # only Q1 and H1 of 2025 have started


def words(phrase: str) -> list[str]:
    return [t.text for t in tokens(phrase)]


def read(phrase: str, today: date) -> tuple[int, TimeRange] | None:
    return match_period(words(phrase), 0, today)


def periods_in(question: str, today: date) -> list[tuple[str, tuple[date, date]]]:
    """Every period of a question, read left to right the way the scanner reads them."""
    said = words(question)
    found: list[tuple[str, tuple[date, date]]] = []
    i = 0
    while i < len(said):
        match = match_period(said, i, today)
        if match is None:
            i += 1
            continue
        length, time_range = match
        assert time_range.label is not None
        found.append((time_range.label, time_range.resolve(today)))
        i += length
    return found


@pytest.mark.parametrize(("today", "phrase", "start", "end"), [
    # quarters
    (AUTUMN, "Q2 2025", "2025-04-01", "2025-06-30"),
    (AUTUMN, "2025 Q2", "2025-04-01", "2025-06-30"),
    (AUTUMN, "Q2 of 2024", "2024-04-01", "2024-06-30"),
    (AUTUMN, "Q2", "2025-04-01", "2025-06-30"),
    (AUTUMN, "Q4", "2025-10-01", "2025-12-31"),
    (WINTER, "Q2", "2024-04-01", "2024-06-30"),
    (WINTER, "Q1", "2025-01-01", "2025-03-31"),
    (AUTUMN, "the second quarter of 2025", "2025-04-01", "2025-06-30"),
    (AUTUMN, "second quarter", "2025-04-01", "2025-06-30"),
    (WINTER, "second quarter", "2024-04-01", "2024-06-30"),
    (AUTUMN, "2nd quarter", "2025-04-01", "2025-06-30"),
    (AUTUMN, "the 3rd quarter of 2019", "2019-07-01", "2019-09-30"),
    (AUTUMN, "first quarter", "2025-01-01", "2025-03-31"),
    (AUTUMN, "third quarter", "2025-07-01", "2025-09-30"),
    (AUTUMN, "fourth quarter", "2025-10-01", "2025-12-31"),
    (WINTER, "fourth quarter", "2024-10-01", "2024-12-31"),
    (WINTER, "the second quarter of this year", "2025-04-01", "2025-06-30"),
    (AUTUMN, "the second quarter of last year", "2024-04-01", "2024-06-30"),
    (AUTUMN, "Q3 last year", "2024-07-01", "2024-09-30"),
    (AUTUMN, "the last quarter of 2024", "2024-10-01", "2024-12-31"),
    (AUTUMN, "in Q3", "2025-07-01", "2025-09-30"),
    (AUTUMN, "during Q1 2024", "2024-01-01", "2024-03-31"),
    # halves
    (AUTUMN, "H1 2025", "2025-01-01", "2025-06-30"),
    (AUTUMN, "2024 H2", "2024-07-01", "2024-12-31"),
    (AUTUMN, "first half of 2025", "2025-01-01", "2025-06-30"),
    (AUTUMN, "second half of 2016", "2016-07-01", "2016-12-31"),
    (AUTUMN, "the first half of this year", "2025-01-01", "2025-06-30"),
    (AUTUMN, "in the 2nd half of last year", "2024-07-01", "2024-12-31"),
    (AUTUMN, "H2", "2025-07-01", "2025-12-31"),
    (WINTER, "H2", "2024-07-01", "2024-12-31"),
    (WINTER, "first half", "2025-01-01", "2025-06-30"),
    # month ranges
    (AUTUMN, "between February and May 2025", "2025-02-01", "2025-05-31"),
    (AUTUMN, "from February to May 2025", "2025-02-01", "2025-05-31"),
    (AUTUMN, "February to May", "2025-02-01", "2025-05-31"),
    (WINTER, "February to May", "2024-02-01", "2024-05-31"),
    (AUTUMN, "from September to October", "2025-09-01", "2025-10-31"),
    (AUTUMN, "September to November", "2024-09-01", "2024-11-30"),
    (AUTUMN, "Feb-May 2025", "2025-02-01", "2025-05-31"),
    (AUTUMN, "from November 2024 to February 2025", "2024-11-01", "2025-02-28"),
    (AUTUMN, "November to February 2025", "2024-11-01", "2025-02-28"),
    (AUTUMN, "from December 2023 to January", "2023-12-01", "2024-01-31"),
    (AUTUMN, "November to February", "2024-11-01", "2025-02-28"),
    (WINTER, "November to January", "2024-11-01", "2025-01-31"),
    (WINTER, "November to February", "2023-11-01", "2024-02-29"),
    (AUTUMN, "in March through June 2024", "2024-03-01", "2024-06-30"),
    (AUTUMN, "Q1-Q3 2025", "2025-01-01", "2025-09-30"),
    (AUTUMN, "from Q3 2024 to Q1 2025", "2024-07-01", "2025-03-31"),
    # year ranges and open ranges
    (AUTUMN, "between 2015 and 2017", "2015-01-01", "2017-12-31"),
    (AUTUMN, "from 2015 to 2017", "2015-01-01", "2017-12-31"),
    (AUTUMN, "2015 through 2017", "2015-01-01", "2017-12-31"),
    (AUTUMN, "2015-2017", "2015-01-01", "2017-12-31"),
    (AUTUMN, "since 2018", "2018-01-01", "2025-10-01"),
    (AUTUMN, "after 2018", "2019-01-01", "2025-10-01"),
    (AUTUMN, "from 2018 onwards", "2018-01-01", "2025-10-01"),
    (AUTUMN, "from May 3 onwards", "2025-05-03", "2025-10-01"),
    (AUTUMN, "since Q2 2024", "2024-04-01", "2025-10-01"),
    (AUTUMN, "since March", "2025-03-01", "2025-10-01"),
    (AUTUMN, "before 2015", "1900-01-01", "2014-12-31"),
    (AUTUMN, "until 2014", "1900-01-01", "2014-12-31"),
    (AUTUMN, "up to 2014", "1900-01-01", "2014-12-31"),
    (AUTUMN, "prior to H2 2020", "1900-01-01", "2020-06-30"),
    (AUTUMN, "before May 3", "1900-01-01", "2025-05-02"),
    (AUTUMN, "until May 3rd 2024", "1900-01-01", "2024-05-03"),
    # days of one month
    (AUTUMN, "from 1 to 15 August 2025", "2025-08-01", "2025-08-15"),
    (AUTUMN, "1-15 August 2025", "2025-08-01", "2025-08-15"),
    (AUTUMN, "between 3 and 17 September 2025", "2025-09-03", "2025-09-17"),
    (AUTUMN, "August 1 to 15, 2025", "2025-08-01", "2025-08-15"),
    (AUTUMN, "August 1st to 15th 2024", "2024-08-01", "2024-08-15"),
    (AUTUMN, "from 3 to 17 September", "2025-09-03", "2025-09-17"),
    (AUTUMN, "from 3 to 17 October", "2024-10-03", "2024-10-17"),
    (WINTER, "from 3 to 17 September", "2024-09-03", "2024-09-17"),
    (AUTUMN, "between August 3 and 17", "2025-08-03", "2025-08-17"),
    (AUTUMN, "May 1 to May 5", "2025-05-01", "2025-05-05"),
    # to date
    (AUTUMN, "last year", "2024-01-01", "2024-12-31"),
    (AUTUMN, "this year so far", "2025-01-01", "2025-10-01"),
    (AUTUMN, "so far this year", "2025-01-01", "2025-10-01"),
    (AUTUMN, "this quarter to date", "2025-10-01", "2025-10-01"),
    # as before
    (AUTUMN, "in 2024", "2024-01-01", "2024-12-31"),
    (AUTUMN, "in May", "2025-05-01", "2025-05-31"),
    (AUTUMN, "last quarter", "2025-07-01", "2025-09-30"),
    (AUTUMN, "since May 3", "2025-05-03", "2025-10-01"),
    (AUTUMN, "between 2025-05-01 and 2025-05-15", "2025-05-01", "2025-05-15"),
])
def test_phrase_reads_as_period(today: date, phrase: str, start: str, end: str) -> None:
    found = read(phrase, today)
    assert found is not None, phrase
    length, time_range = found
    assert length == len(words(phrase)), f"{phrase!r} read only {length} words"
    assert time_range.resolve(today) == (date.fromisoformat(start), date.fromisoformat(end))


def test_open_ranges_stay_open() -> None:
    since = read("since 2018", AUTUMN)
    before = read("before 2015", AUTUMN)
    assert since is not None and since[1].end is None
    assert before is not None and before[1].start is None


@pytest.mark.parametrize("phrase", [
    "top 5", "over 100", "between 10 and 20 orders", "from 5 to 10 items", "5 to 10",
    "between 1950 and 3000 dollars", "2025", "orders from business customers", "from 2018",
    "may", "q5", "h3", "fifth quarter", "third half", "1-15 orders",
    "from 2017 to 2015", "between May 2025 and February 2025", "from 20 to 10 August",
    "1-31 February 2025", "from 2024 to March", "before 1900", "from May 3",
])
def test_not_a_period(phrase: str) -> None:
    assert read(phrase, AUTUMN) is None, phrase


@pytest.mark.parametrize(("phrase", "length"), [
    ("feb may", 1),  # "may" is also a verb: no range without a year
    ("q2 sales", 1),
    ("first half of customers", 2),
    ("last quarter by region", 2),
    ("in 2024 by month", 2),
    ("since 2018 2019", 2),
])
def test_reads_only_the_period(phrase: str, length: int) -> None:
    found = read(phrase, AUTUMN)
    assert found is not None and found[0] == length


@pytest.mark.parametrize(("question", "expected"), [
    ("revenue in Q3 2025 by region",
     [("in q3 2025", ("2025-07-01", "2025-09-30"))]),
    ("top 5 customers with between 10 and 20 orders", []),
    ("orders over 100 dollars in the first half of 2025",
     [("in first half of 2025", ("2025-01-01", "2025-06-30"))]),
    ("orders 1-15 August 2025 vs last year",
     [("1 15 august 2025", ("2025-08-01", "2025-08-15")),
      ("last year", ("2024-01-01", "2024-12-31"))]),
    ("what was spend from February to May compared with last year",
     [("from february to may", ("2025-02-01", "2025-05-31")),
      ("last year", ("2024-01-01", "2024-12-31"))]),
    ("sales from January to March vs April to June",
     [("from january to march", ("2025-01-01", "2025-03-31")),
      ("april to june", ("2025-04-01", "2025-06-30"))]),
    ("tickets on August 1st to 15th, 2025",
     [("on august 1st to 15th, 2025", ("2025-08-01", "2025-08-15"))]),
    ("revenue since 2018 by year", [("since 2018", ("2018-01-01", "2025-10-01"))]),
])
def test_periods_of_a_question(question: str, expected: list[tuple[str, tuple[str, str]]]) -> None:
    assert periods_in(question, AUTUMN) == [
        (label, (date.fromisoformat(start), date.fromisoformat(end)))
        for label, (start, end) in expected]


@pytest.mark.parametrize("question", [
    "compare spend 2024 to 2025",
    "how did revenue change from February to May",
    "revenue growth between 2024 and 2025",
])
def test_a_comparison_is_not_a_range(question: str) -> None:
    """The "to" or "and" of a comparison joins two periods to compare, it does not span them."""
    for _label, (start, end) in periods_in(question, AUTUMN):
        assert (end - start).days < 40  # February alone at most, never Feb-May or 2024-2025
