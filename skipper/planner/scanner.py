"""Scanning a question into items: catalog phrases, time expressions, keywords, unknown words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from skipper.planner.grammar import (
    CHANGE_VERBS,
    GRAIN_WORDS,
    KEYWORDS,
    STOP_WORDS,
)
from skipper.planner.periods import NUMBER_WORDS, UNIT_WORDS, match_period, number
from skipper.planner.query import Grain, TimeRange
from skipper.planner.vocabulary import Meaning, Vocabulary
from skipper.planner.words import Token, stem

_RANK_WORDS = {"top": "desc", "first": "desc", "highest": "desc", "largest": "desc",
               "biggest": "desc", "best": "desc", "busiest": "desc", "heaviest": "desc",
               "bottom": "asc", "lowest": "asc", "smallest": "asc", "least": "asc",
               "fewest": "asc", "worst": "asc", "quietest": "asc"}
_ASKING = {"show", "give", "tell", "let", "help", "get", "send", "for"}
_KEYWORD_LEN = max(len(k) for k in KEYWORDS)


# Words of the planner's own grammar that a typo may also be corrected to.
_EXTRA = [*(" ".join(k) for k in KEYWORDS if len(k) == 1), *GRAIN_WORDS, *UNIT_WORDS,
          *NUMBER_WORDS, "today", "yesterday", "since", "between", "excluding"]


@dataclass
class Item:
    """A piece of a question and what it is."""

    kind: str  # term | time | grain | number | rank | change | unknown | a keyword kind
    text: str
    start: int
    meanings: set[Meaning] = field(default_factory=set)
    time: TimeRange | None = None
    grain: Grain | None = None
    n: int | None = None
    direction: str | None = None
    plural: bool = False


@dataclass
class Scan:
    items: list[Item]
    corrections: list[tuple[str, str]]
    words: list[Token]


def scan(question: str, vocabulary: Vocabulary, today: date, words: list[Token]) -> Scan:
    """Split a question into the longest known pieces, correcting small typos on the way."""
    words = list(words)
    items: list[Item] = []
    corrections: list[tuple[str, str]] = []
    extra = _EXTRA
    i = 0
    while i < len(words):
        item = _read(words, i, vocabulary, today)
        if item is None:
            fixed = vocabulary.correct(words[i].stem, extra) or vocabulary.correct(
                words[i].text, extra)
            if fixed is not None and fixed != words[i].stem:
                corrections.append((words[i].text, fixed))
                words[i] = Token(fixed, stem(fixed))
                continue
            ahead = _correct_ahead(words, i, vocabulary, today, extra)
            if ahead is not None:  # "nitrogen dioxde": the typo is in the phrase's 2nd word
                j, fixed = ahead
                corrections.append((words[j].text, fixed))
                words[j] = Token(fixed, stem(fixed))
                continue
            item = Item("unknown", words[i].text, i)
            if words[i].stem in CHANGE_VERBS or words[i].text in CHANGE_VERBS:
                item.kind = "change"
            length = 1
        else:
            length = _length(item, words)
        if item.kind != "stop":
            items.append(item)
        i += length
    return Scan(items, corrections, words)


# "in days", "in hours", "in USD": the unit a question wants a figure in.
UNITS = frozenset({"seconds", "minutes", "hours", "days", "weeks", "months", "years", "dollars",
                   "usd", "euros", "eur", "miles", "kilometers", "kilometres", "km", "percent",
                   "cents", "gb", "mb", "bytes"})


def _correct_ahead(
    words: list[Token], i: int, vocabulary: Vocabulary, today: date, extra: list[str]
) -> tuple[int, str] | None:
    """A correction of one of the next two words that makes a catalog phrase start at ``i``."""
    for j in range(i + 1, min(i + 3, len(words))):
        fixed = vocabulary.correct(words[j].stem, extra) or vocabulary.correct(words[j].text, extra)
        if fixed is None or fixed == words[j].stem:
            continue
        trial = [*words[:j], Token(fixed, stem(fixed)), *words[j + 1:]]
        item = _read(trial, i, vocabulary, today)
        if item is not None and item.kind == "term" and _length(item, trial) > j - i:
            return j, fixed
    return None


def _length(item: Item, words: list[Token]) -> int:
    if item.kind == "unit":
        return 2
    return max(1, len(item.text.split()))


def _read(words: list[Token], i: int, vocabulary: Vocabulary, today: date) -> Item | None:
    texts = [w.text for w in words]
    stems = [w.stem for w in words]
    candidates: list[tuple[int, int, Item]] = []  # (length, priority, item)

    if texts[i] == "in" and i + 1 < len(texts) and texts[i + 1] in UNITS:
        return Item("unit", texts[i + 1], i, plural=True)  # "in days": the unit of a figure
    found = match_period(texts, i, today)
    if found is not None:
        length, time_range = found
        candidates.append((length, 3, Item("time", " ".join(texts[i:i + length]), i,
                                           time=time_range)))
    rank = _rank(texts, i)
    if rank is not None:
        candidates.append((rank[0], 3, rank[1]))
    for length in range(min(_KEYWORD_LEN, len(stems) - i), 0, -1):
        for key in (tuple(texts[i:i + length]), tuple(stems[i:i + length])):
            kind = KEYWORDS.get(key)
            if kind == "sort" and key != tuple(texts[i:i + length]):
                kind = None  # "orders by status": the orders, not "order by"
            if kind is not None:
                candidates.append((length, 2, Item(kind, " ".join(texts[i:i + length]), i)))
                break
        else:
            continue
        break
    grain = GRAIN_WORDS.get(texts[i])
    if grain is not None:
        candidates.append((1, 2, Item("grain", texts[i], i, grain=grain)))
    length, meanings = vocabulary.match(words, i)
    if length:
        plural = any(w.plural for w in words[i:i + length])
        candidates.append((length, 1, Item("term", " ".join(texts[i:i + length]), i,
                                           meanings=meanings, plural=plural)))
    value = number(texts[i])
    if value is not None and not candidates:
        candidates.append((1, 0, Item("number", texts[i], i, n=value)))
    if not candidates:
        if texts[i] in STOP_WORDS or stems[i] in STOP_WORDS:
            return Item("stop", texts[i], i)
        if texts[i] == "us" and i > 0 and texts[i - 1] in _ASKING:  # "show us", not "the US"
            return Item("stop", texts[i], i)
        return None
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    return candidates[0][2]


def _rank(texts: list[str], i: int) -> tuple[int, Item] | None:
    """"top 10", "bottom 5", "10 largest", "the 3 busiest"."""
    word = texts[i]
    nxt = texts[i + 1] if i + 1 < len(texts) else ""
    if word in _RANK_WORDS and number(nxt) is not None:
        n = number(nxt)
        return 2, Item("rank", f"{word} {nxt}", i, n=n, direction=_RANK_WORDS[word])
    if number(word) is not None and nxt in _RANK_WORDS and nxt not in ("top", "first", "last"):
        return 2, Item("rank", f"{word} {nxt}", i, n=number(word), direction=_RANK_WORDS[nxt])
    if word in ("which", "what") and number(nxt) is not None:  # "which 5 websites ... most"
        return 2, Item("rank", f"{word} {nxt}", i, n=number(nxt), direction=None)
    if word in ("limit", "limited") and number(nxt) is not None:
        return 2, Item("rank", f"{word} {nxt}", i, n=number(nxt), direction=None)
    return None
