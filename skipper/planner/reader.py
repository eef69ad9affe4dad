"""Reading scanned items into an intent: which phrases are metrics, breakdowns, filters, periods.

The reader decides each phrase's *role* from the words around it ("by X" is a breakdown,
"excluding X" an exclusion, "how many X" a count); which catalog term a phrase names, when it
could name several, is settled later against the metrics' tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from skipper.planner.grammar import STOP_WORDS
from skipper.planner.query import Grain, TimeRange
from skipper.planner.scanner import Item
from skipper.planner.verbs import past_tense
from skipper.planner.vocabulary import Meaning


@dataclass
class Mention:
    """A catalog phrase in a role, with the meanings it may still have."""

    item: Item
    meanings: set[Meaning]
    negate: bool = False
    grain: Grain | None = None
    period: TimeRange | None = None

    @property
    def text(self) -> str:
        return self.item.text


@dataclass
class MetricMention(Mention):
    weak: bool = False  # counts the rows of a table ("accounts"): may just name what is filtered
    conjoined: bool = False  # "tickets and domains": listed with another metric
    head: bool = False  # right after "how many"
    dimensions: set[Meaning] = field(default_factory=set)  # its reading as a breakdown


@dataclass
class Intent:
    metrics: list[MetricMention] = field(default_factory=list)
    breakdowns: list[Mention] = field(default_factory=list)
    filters: list[Mention] = field(default_factory=list)  # values, and time dims with a period
    segments: list[Mention] = field(default_factory=list)
    removals: list[Mention] = field(default_factory=list)
    removed_grains: list[Grain] = field(default_factory=list)
    versus: list[tuple[Item, Item]] = field(default_factory=list)  # "EU vs NA"
    includes: list[Mention] = field(default_factory=list)
    time_range: TimeRange | None = None
    compare: bool = False
    compare_kind: str | None = None
    compare_range: TimeRange | None = None
    compare_change: bool = False  # "the change", "growth": show the difference too
    compare_word: bool = False  # "compared", "vs", "versus" ... said
    order_metric: MetricMention | None = None
    direction: str | None = None
    superlative: bool = False
    limit: int | None = None
    instead: bool = False
    also: bool = False
    listing: bool = False
    howmany: bool = False
    unknown: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    change_verb: str | None = None
    removal_verb: str | None = None
    singular_target: bool = False
    verbs: list[Mention] = field(default_factory=list)  # "opened", "did we ship": events
    named: list[MetricMention] = field(default_factory=list)  # every metric noun, kept or not
    aggregated_superlative: bool = False  # "the largest subtotal": max, so no ranking
    units: list[str] = field(default_factory=list)  # "in days": checked against the metric
    share_at: int | None = None  # where "share of" / "percentage of" was said
    per: tuple[str, Grain] | None = None  # "average daily X": (avg, day)
    list_words: list[str] = field(default_factory=list)  # "list", "which", "what" ...
    # Words with two readings the grammar cannot settle: (the words as scanned, [rephrasings]).
    readings: list[tuple[str, list[str]]] = field(default_factory=list)


_AGGREGATES = {"avg": "avg", "median": "median", "min": "min", "max": "max",
               "distinct": "count_distinct"}

# Comparison words that ask for the difference, not just the two periods side by side.
_CHANGE_WORDS = frozenset({"change", "changed", "difference", "delta", "growth", "grown", "grew",
                           "increase", "decrease"})

# Words before a verb-or-value word that settle which it is: a state ("still open", "status
# open") or an event with its subject or auxiliary ("did we open", "have been opened").
_STATE_CUES = frozenset({"is", "are", "was", "were", "still", "currently", "being", "remain",
                         "remains", "stay", "stays", "status", "marked", "as", "now", "left",
                         "in", "set", "state"})
_SUBJECT_CUES = frozenset({"did", "do", "does", "we", "they", "you", "i", "get", "got", "have",
                           "has", "had", "been", "be", "to", "will", "would", "people", "users",
                           "customers"})


GRAIN_NOUNS = frozenset({"day", "week", "month", "quarter", "year"})
_MOST_WORDS = {"highest": "desc", "largest": "desc", "biggest": "desc", "maximum": "desc",
               "max": "desc", "lowest": "asc", "smallest": "asc", "minimum": "asc", "min": "asc"}
_AUXILIARIES = frozenset({"did", "do", "does", "have", "has", "had", "will", "would", "were",
                         "was"})


class Reader:
    """Walks the items once, keeping the mode set by the last keyword ("by", "excluding" ...)."""

    def __init__(
        self,
        items: list[Item],
        is_time_dimension: Callable[[Meaning], bool],
        is_entity_count: Callable[[Meaning], bool],
        words: list[str] | None = None,
    ) -> None:
        self.items = items
        self.words = words or []
        self.is_average: Callable[[Meaning], bool] = lambda meaning: False
        self.is_boolean: Callable[[Meaning], bool] = lambda meaning: False
        self.distinct_column: Callable[[Meaning], str | None] = lambda meaning: None
        self.is_time = is_time_dimension
        self.is_entity = is_entity_count
        self.intent = Intent()
        self.mode: str | None = None
        self.by_run = 0
        self.bound: set[int] = set()
        self.last_metric: int | None = None
        self.last_content: int | None = None
        self.aggregate: tuple[str, Item] | None = None  # "average" waiting for its column
        self.per: tuple[str, Item, Item] | None = None  # "average" of a metric per period

    def read(self) -> Intent:
        for index, item in enumerate(self.items):
            self._item(index, item)
            if item.kind not in ("and",):
                self.last_content = index if item.kind == "term" else self.last_content
        if self.aggregate is not None:
            word = self.aggregate[1].text
            self.intent.problems.append(f"'{word}' needs a number column to apply to")
        if self.per is not None:
            self._per_period()
        intent = self.intent
        grains = [b for b in intent.breakdowns if not b.meanings and b.grain is not None]
        asks_which = any(w not in ("what", "what are") for w in intent.list_words) or any(
            self.items[i - 1].kind == "list" for i, it in enumerate(self.items)
            if i > 0 and grains and it is grains[0].item)  # "what day had the most"
        if (intent.superlative and not asks_which and intent.limit is None
                and intent.per is None and len(grains) == 1 and len(intent.breakdowns) == 1
                and intent.order_metric is None):
            if grains[0].item.text in GRAIN_NOUNS:  # "our busiest day": which day
                intent.limit = 1
            else:  # "the lowest daily revenue in May": revenue per day, the lowest day's
                intent.breakdowns.remove(grains[0])
                intent.per = ("max" if intent.direction == "desc" else "min",  # type: ignore[assignment]
                              grains[0].grain)
                intent.superlative = False
        self._choose_metrics()
        self._events()
        return self.intent

    # ---- one item -----------------------------------------------------------------------
    def _item(self, index: int, item: Item) -> None:
        intent = self.intent
        kind = item.kind
        if kind == "unknown" or kind == "number":
            intent.unknown.append(item.text)
        elif kind == "change":
            intent.change_verb = intent.change_verb or item.text
        elif kind in ("by", "sort"):
            self.mode, self.by_run = kind, 0
        elif kind == "include" and index > 0 and item.text in ("included", "too") and (
                self.items[index - 1].kind == "term"):
            self._included_after(self.items[index - 1])  # "test accounts included"
        elif kind in ("not", "remove", "include"):
            self.mode = kind
            if kind == "remove":
                intent.removal_verb = intent.removal_verb or item.text
        elif kind == "only":
            self.mode = None
        elif kind == "instead":
            intent.instead = True
        elif kind == "also":
            intent.also = True
        elif kind == "list":
            intent.listing = True
            intent.list_words.append(item.text)
        elif kind == "howmany":
            intent.howmany = True
        elif kind == "share":
            if intent.share_at is None:
                intent.share_at = item.start
        elif kind == "unit":
            intent.units.append(item.text)
        elif kind in _AGGREGATES:
            self.aggregate = (_AGGREGATES[kind], item)
        elif kind == "rank":
            intent.limit = item.n
            if item.direction:
                intent.direction = item.direction
            self.mode = "top"
        elif kind in ("most", "least"):
            intent.direction = "desc" if kind == "most" else "asc"
            intent.superlative = True
        elif kind == "compare":
            intent.compare_word = True
            if item.text.split()[0] in _CHANGE_WORDS:
                intent.compare_change = True
            pair = self._versus(index)
            if pair is not None:
                intent.versus.append(pair)
            else:
                intent.compare = True
        elif kind in ("previous_period", "previous_year"):
            intent.compare, intent.compare_kind = True, kind
        elif kind == "time":
            self._time(index, item)
        elif kind == "grain":
            self._grain(index, item)
        elif kind == "term":
            self._term(index, item)

    def _time(self, index: int, item: Item) -> None:
        intent = self.intent
        assert item.time is not None
        if index in self.bound:
            return
        rel = item.time.relative
        if self.mode == "by" and self.by_run == 0 and rel is not None and rel.kind == "last_n":
            # "in each of the last 3 months": the period, and its months
            if not any(b.grain == rel.unit and not b.meanings for b in intent.breakdowns):
                intent.breakdowns.append(Mention(item, set(), grain=rel.unit))
            self.mode = None
        if intent.compare and intent.time_range is not None and intent.compare_range is None:
            intent.compare_range = item.time
        elif intent.time_range is None:
            intent.time_range = item.time
        elif intent.compare and intent.compare_range is None:
            intent.compare_range = item.time
        else:
            intent.problems.append(
                f"the question names two periods ({intent.time_range.label} and {item.text}); "
                "ask about one, or say 'compared to' for a comparison"
            )

    def _versus(self, index: int) -> tuple[Item, Item] | None:
        """"EU vs NA": two values side by side, not a comparison of periods."""
        if not 0 < index < len(self.items) - 1:
            return None
        left, right = self.items[index - 1], self.items[index + 1]
        if left.kind == right.kind == "term":
            left_dims = {m.name for m in left.meanings if m.kind == "value"}
            right_dims = {m.name for m in right.meanings if m.kind == "value"}
            if left_dims & right_dims:
                return left, right
        return None

    def _grain(self, index: int, item: Item) -> None:
        intent = self.intent
        assert item.grain is not None
        if self.mode in ("not", "remove"):
            intent.removed_grains.append(item.grain)
            return
        previous = intent.breakdowns[-1] if intent.breakdowns else None
        if (
            previous is not None
            and previous.grain is None
            and previous.meanings
            and self.last_content == index - 1
            and all(self.is_time(m) for m in previous.meanings)
        ):
            previous.grain = item.grain
            return
        if not any(b.grain == item.grain and not b.meanings for b in intent.breakdowns):
            intent.breakdowns.append(Mention(item, set(), grain=item.grain))
            if item.text == item.grain:  # "which day had the most": one day
                intent.singular_target = True
        self.by_run += 1

    def _term(self, index: int, item: Item) -> None:
        if self.mode in ("by", "sort") and self.by_run > 0 and index > 0 and self.items[
                index - 1].kind != "and" and self.items[index - 1].kind != "grain":
            self.mode = None  # "by region and plan" continues; "by sea freight have been" not
        meanings = self._verb_or_value(index, item)
        if not meanings:
            return
        meanings = self._aggregated(index, item, meanings)
        if not meanings:
            return
        first = item.text.split()[0]
        if first in _MOST_WORDS and any(m.kind == "metric" for m in meanings) and any(
                w not in ("what", "what are") for w in self.intent.list_words):
            self.intent.superlative = True  # "the highest PM2.5" named as a metric
            self.intent.direction = _MOST_WORDS[first]
        values = {m for m in meanings if m.kind == "value"}
        segments = {m for m in meanings if m.kind == "segment"}
        dims = {m for m in meanings if m.kind == "dimension"}
        metrics = {m for m in meanings if m.kind in ("metric", "table")}
        value_dims = {m.name.lower() for m in values}
        dims = {d for d in dims if d.name.lower() not in value_dims}  # "P1": a value, not a dim
        mode = self.mode
        intent = self.intent
        before = self.items[index - 1] if index > 0 else None
        after_modifier = (
            before is not None and before.kind == "term"
            and any(m.kind in ("value", "segment") for m in before.meanings)
        )
        if (
            mode in ("not", "remove", "include") and after_modifier and metrics
            and not values and not segments and all(self.is_entity(m) for m in metrics)
        ):
            return  # "excluding free accounts": 'accounts' names what 'free' filters
        if mode in ("not", "remove"):
            target = values or segments or dims or metrics
            mention = Mention(item, target, negate=True)
            if mode == "remove" or (not values and not segments):
                intent.removals.append(mention)
            elif values:
                intent.filters.append(mention)
            else:
                intent.segments.append(mention)
            return
        if mode == "include" and (values or segments):
            intent.includes.append(Mention(item, values or segments))
            self.mode = None
            return
        if mode in ("by", "sort") and segments and dims and self.by_run == 0:
            dims = set()  # "opened by internal test accounts", "sent by sea freight": by whom
        nxt = self.items[index + 1] if index + 1 < len(self.items) else None
        if (mode in ("by", "sort", "top") and dims and all(self.is_time(d) for d in dims)
                and nxt is not None and nxt.kind == "time" and not values and not metrics):
            mode = self.mode = None  # "by channel for tickets opened last quarter": a period
        if mode in ("by", "sort", "top") and dims:
            intent.breakdowns.append(Mention(item, dims))
            self.by_run += 1
            if mode == "top":
                self.mode = None
                intent.singular_target = not item.plural
            return
        if (values or segments) and item.text.endswith("ed") and index + 1 < len(
                self.items) and self.items[index + 1].kind == "time":
            intent.problems.append(  # "orders were placed on 2025-09-15": the event or status?
                f"'{item.text}' before a date could be the event or a status; say 'with status "
                f"{item.text}' for the status")
            return
        if mode in ("by", "sort") and (values or segments) and not dims:
            self.mode = None  # "spend by enterprise customers": by whom, not a breakdown
            if values:
                intent.filters.append(Mention(item, values))
            else:
                intent.segments.append(Mention(item, segments))
            return
        if mode in ("by", "sort") and metrics and not values and not segments:
            ranking = mode == "sort" or intent.limit is not None or intent.superlative
            mention = self._metric(index, item, metrics, dims)
            if ranking or self.by_run == 0:
                intent.order_metric = mention
                mention.weak = False
                self._promote_breakdown(mention)
            self.mode = None
            return
        previous = self.items[index - 1] if index > 0 else None
        if metrics and dims and not values and not segments and previous is not None:
            opener = self._opener(index)
            if opener is not None and (not item.plural or opener.text in ("list", "name")):
                # "which country had the most cities", "which Cambodian city", "list the
                # Australian cities with their average": the group, not a count
                metrics = set()
            elif previous.kind in ("most", "least", "howmany"):
                dims = set()  # ... and the cities are counted
        if segments and metrics and not values and {m.table for m in segments} == {
                m.table for m in metrics}:
            # "customers": the count, or the segment of the same table. After another metric
            # ("orders from Canadian customers") it says whose; otherwise it is what is counted.
            if any(not m.weak and {x.table for x in m.meanings} != {x.table for x in metrics}
                   for m in intent.metrics):
                metrics = set()
            else:
                segments = set()
        if len([group for group in (values, segments, metrics) if group]) > 1:
            intent.problems.append(
                f"'{item.text}' could mean "
                + " or ".join(sorted(m.describe() for m in values | segments | metrics))
            )
            return
        if values:
            value_names = {m.name.lower() for m in values}
            last = intent.breakdowns[-1] if intent.breakdowns else None
            if (last is not None and last.item is before
                    and {m.name.lower() for m in last.meanings} & value_names):
                intent.breakdowns.pop()  # "with plan enterprise": 'plan' names the filter
            intent.filters.append(Mention(item, values))
        elif segments:
            intent.segments.append(Mention(item, segments))
        elif metrics:
            self._metric(index, item, metrics, dims)
        elif dims and all(self.is_time(d) for d in dims) and mode is None:
            pending = Mention(item, dims)
            item._pending = pending  # type: ignore[attr-defined]
            before = self.items[index - 1] if index > 0 else None
            if before is not None and before.kind == "time" and before.time is not None:
                if intent.time_range is before.time:
                    intent.time_range = None
                pending.period = before.time
                intent.filters.append(pending)
            elif index + 1 < len(self.items) and self.items[index + 1].kind == "time":
                nxt = self.items[index + 1]
                pending.period = nxt.time
                intent.filters.append(pending)
                self.bound.add(index + 1)
        elif dims:
            if before is not None and before.kind == "term" and {
                m.name.lower() for m in before.meanings if m.kind == "value"
            } & {d.name.lower() for d in dims}:
                return  # "on the enterprise plan": 'plan' names the filter
            if all(self.is_time(d) for d in dims) and mode is None:
                intent.problems.append(  # "parcels … that have been delivered"
                    f"'{item.text}' names a date; say which period ('{item.text} last week') "
                    f"or 'by {item.text}'")
                return
            intent.breakdowns.append(Mention(item, dims))
            intent.singular_target = intent.singular_target or not item.plural
        if mode == "top":
            self.mode = None

    def _aggregated(self, index: int, item: Item, meanings: set[Meaning]) -> set[Meaning]:
        """"average cost" -> avg(shipments.cost); "how many distinct cities" ->
        count_distinct(accounts.city); "the smallest subtotal" (nothing to rank) -> min. A
        number column named without one is not a question of its own."""
        intent = self.intent
        measures = {m for m in meanings if m.kind == "measure"}
        others = meanings - measures
        pending, self.aggregate = self.aggregate, None
        before = self.items[index - 1] if index > 0 else None
        if pending is None and measures and before is not None and before.kind in (
                "most", "least") and not others:
            pending = ("max" if before.kind == "most" else "min", before)
            if not intent.breakdowns:  # "the largest subtotal": the maximum, not a ranking
                intent.superlative = False
                intent.aggregated_superlative = True
            # "which city had the highest PM2.5": cities ranked by their highest value
        if pending is None:
            if measures and not others and item.text in STOP_WORDS:
                return set()  # "total taxi tips": the filler word, not the column 'total'
            if measures and not others:
                intent.problems.append(
                    f"'{item.text}' is a number column; say what to compute of it (average, "
                    "total, minimum, maximum, median)")
                return set()
            return others or meanings
        function, word = pending
        if function == "count_distinct":
            columns = {m for m in others if m.kind == "dimension"}
            names = {self.distinct_column(m) for m in columns} - {None}
        else:
            metrics = {m for m in others if m.kind == "metric"}
            if function == "avg" and metrics and all(self.is_average(m) for m in metrics):
                return metrics  # "average PM2.5" where the metric is an average already
            if metrics and not measures and function != "count_distinct":
                # "average daily requests", "median revenue per day": the metric per period,
                # then the average of those — settled once the period's grain is known
                self.per = (function, word, item)
                return others
            names = {m.name for m in measures}
        if len(names) != 1:
            intent.problems.append(
                f"'{word.text} {item.text}': "
                + ("which column is meant is not clear" if names else
                   f"'{item.text}' is not a column {word.text} applies to"))
            return set()
        column = names.pop()
        assert column is not None
        table = column.split(".", 1)[0]
        metric = Meaning("metric", f"{function}({column})", table)
        self._metric(index, item, {metric}, set())
        return set()

    def _opener(self, index: int) -> Item | None:
        """The "which"/"list" item a noun follows, over the adjectives between them."""
        at = index - 1
        while at >= 0 and self.items[at].kind == "term" and all(
                m.kind in ("value", "segment", "dimension") for m in self.items[at].meanings
        ) and any(m.kind in ("value", "segment") for m in self.items[at].meanings):
            at -= 1
        if at >= 0 and self.items[at].kind == "list" and at < index:
            return self.items[at]
        return None

    def _included_after(self, before: Item) -> None:
        intent = self.intent
        for group in (intent.segments, intent.filters):
            for mention in list(group):
                if mention.item is before and not mention.negate:
                    group.remove(mention)
                    intent.includes.append(mention)
                    return
        # a noun the reader took for a metric ("test accounts" counted): an inclusion
        for mention in list(intent.metrics):
            segments = {m for m in before.meanings if m.kind == "segment"}
            if mention.item is before and segments:
                intent.metrics.remove(mention)
                intent.includes.append(Mention(before, segments))
                return

    def _per_period(self) -> None:
        """"average daily requests in June": requests per day, averaged over the days. One time
        grain must say the period ("daily", "per day"); anything else is not understood."""
        assert self.per is not None
        function, word, item = self.per
        intent = self.intent
        grains = [b for b in intent.breakdowns if not b.meanings and b.grain is not None]
        if len(grains) != 1:
            intent.problems.append(
                f"'{word.text} {item.text}': {word.text} over what? say e.g. "
                f"'{word.text} daily {item.text}' or '{word.text} {item.text} per month'")
            return
        intent.breakdowns.remove(grains[0])
        intent.per = (function, grains[0].grain)  # type: ignore[assignment]

    def _verb_or_value(self, index: int, item: Item) -> set[Meaning]:
        """Split off a metric's verb: "did we open", "tickets opened" name the event, not a
        value. A word that is both ("open": the verb, and a ticket status) is a value only where
        grammar puts one — after a copula or "status", or before the noun it describes — and a
        verb after a subject or auxiliary; anywhere else the question has two readings."""
        verbs = {m for m in item.meanings if m.kind == "verb"}
        if not verbs:
            return item.meanings
        rest = {m for m in item.meanings if m.kind != "verb"}
        nouns = {m for m in rest if m.kind in ("metric", "table")}
        if nouns:  # "orders": the noun, whatever verb it also is
            return rest
        values = {m for m in rest if m.kind == "value"}
        own = {m for m in rest if m.kind == "dimension" and m.name in {v.name for v in values}}
        if rest - values - own:  # a declared dimension or segment ("signed up": signup date)
            return rest
        if values:
            reading = self._grammar(index, item, verbs)
            if reading == "value":
                return values
            if reading is None:
                value = sorted(values, key=lambda m: str(m.value))[0]
                past = past_tense(item.text)
                self.intent.problems.append(
                    f"'{item.text}' could be what happened ({past}) or the value "
                    f"{value.value!r} of {value.name.replace('_', ' ')}"
                )
                self.intent.readings.append(
                    (item.text, [past, f"with {value.name.replace('_', ' ')} {value.value}"]))
                return set()
        self.intent.verbs.append(Mention(item, verbs))
        return set()

    def _grammar(self, index: int, item: Item, verbs: set[Meaning]) -> str | None:
        words = self.words
        before = words[item.start - 1] if 0 < item.start <= len(words) else ""
        if before in _STATE_CUES:
            return "value"
        if before in _SUBJECT_CUES:
            return "verb"
        earlier = words[item.start - 2] if item.start >= 2 else ""
        if earlier in _AUXILIARIES:
            return "verb"  # "did UPS ship", "have customers opened"
        later = index + 1  # "open tickets", "open P1 tickets": adjectives before their noun
        while later < len(self.items) and self.items[later].kind == "term" and any(
            m.kind in ("value", "segment") for m in self.items[later].meanings
        ) and not any(m.kind in ("metric", "table") for m in self.items[later].meanings):
            later += 1
        nxt = self.items[index + 1] if index + 1 < len(self.items) else None
        noun = self.items[later] if later < len(self.items) else None
        if noun is not None and noun.kind == "term" and any(
            m.kind in ("metric", "table") and m.table in {v.table for v in verbs}
            for m in noun.meanings
        ):
            return "value"
        if nxt is not None and nxt.kind == "and":
            return "value"  # "open or pending"
        previous = self.items[index - 1] if index > 0 else None
        if previous is not None and previous.kind == "and" and index >= 2 and any(
            m.kind == "value" for m in self.items[index - 2].meanings
        ):
            return "value"
        return None

    def _metric(
        self, index: int, item: Item, metrics: set[Meaning], dims: set[Meaning]
    ) -> MetricMention:
        intent = self.intent
        weak = all(self.is_entity(m) for m in metrics)
        conjoined = (
            self.last_metric is not None
            and index >= 2
            and self.items[index - 1].kind in ("and", "also")
            and self.last_metric == index - 2
        )
        head = intent.howmany and not any(m.head for m in intent.metrics)
        mention = MetricMention(item, metrics, weak=weak, conjoined=conjoined, head=head,
                                dimensions=dims)
        intent.metrics.append(mention)
        self.last_metric = index
        return mention

    def _promote_breakdown(self, order: MetricMention) -> None:
        """"customers by spend": the entity before "by" is what is ranked, not a count."""
        if self.intent.breakdowns:
            return
        for mention in reversed(self.intent.metrics):
            if mention is not order and mention.weak and mention.dimensions:
                self.intent.metrics.remove(mention)
                self.intent.breakdowns.append(Mention(mention.item, mention.dimensions))
                self.intent.singular_target = not mention.item.plural
                return

    def _events(self) -> None:
        """A verb names its metric's event: the metric itself when none is named ("how many did
        we ship"), a dating of it when it is named ("tickets opened last week"), and a question
        about something else when the named metrics are of other tables."""
        intent = self.intent
        for mention in intent.verbs:
            names = {m.name for m in mention.meanings}
            tables = {m.table for m in mention.meanings}
            if not intent.metrics:  # "how many did we ship": count the event's rows
                counts = {Meaning("metric", m.name, m.table) for m in mention.meanings
                          if self.is_entity(Meaning("metric", m.name, m.table))}
                if len(counts) != 1:
                    intent.problems.append(
                        f"'{mention.text}' does not say what to measure; name one of "
                        f"{', '.join(sorted(names))}")
                    continue
                intent.metrics.append(MetricMention(mention.item, counts))
                continue
            measured = {m.table for metric in intent.metrics for m in metric.meanings}
            if not measured & tables:
                intent.problems.append(
                    f"'{mention.text}' is what {', '.join(sorted(names))} do, but the question "
                    f"measures {', '.join(m.text for m in intent.metrics)}"
                )

    # ---- which metrics --------------------------------------------------------------------
    def _choose_metrics(self) -> None:
        self.intent.named = list(self.intent.metrics)
        self._choose()
        kept = {m.table for mention in self.intent.metrics for m in mention.meanings}
        said = kept | {m.table for mention in [*self.intent.filters, *self.intent.segments,
                                               *self.intent.breakdowns, *self.intent.verbs]
                       for m in mention.meanings}
        for mention in self.intent.named:
            if mention in self.intent.metrics:
                continue
            if self.intent.metrics and not {m.table for m in mention.meanings} & said and not any(
                    m.implies for m in mention.meanings):  # "customers" brings its glossary rule
                self.intent.problems.append(  # "cost of shipments of enterprise tickets"
                    f"'{mention.text}' is neither what is measured nor what is filtered; ask "
                    "about one thing at a time")
                return
            if any(m.name.startswith("count_distinct(") for k in self.intent.metrics
                   for m in k.meanings) and not {m.table for m in mention.meanings} <= kept:
                self.intent.problems.append(
                    f"counting distinct values 'among {mention.text}' would need them matched "
                    f"to {mention.text}; ask e.g. '{mention.text} by …' instead")
                return

    def _choose(self) -> None:
        """Keep the metrics asked for; drop entity nouns that only say what is filtered.

        In "R2 storage cost for enterprise accounts", "accounts" names what "enterprise"
        filters; in "tickets and domains" both are asked for.
        """
        intent = self.intent
        if (intent.superlative or intent.limit) and not intent.breakdowns and any(
            not m.weak for m in intent.metrics
        ):  # "which customer spent the most": rank customers
            ranked = next((m for m in intent.metrics if m.weak and m.dimensions), None)
            if ranked is not None:
                intent.metrics.remove(ranked)
                intent.breakdowns.append(Mention(ranked.item, ranked.dimensions))
                intent.singular_target = not ranked.item.plural
        strong = [m for m in intent.metrics if not m.weak]
        weak = [m for m in intent.metrics if m.weak]
        head = next((m for m in weak if m.head), None)
        if head is not None and strong and not any(m.conjoined for m in strong):
            intent.problems.append(
                f"'how many {head.text}' asks to count {head.text}, but the question also "
                f"measures {', '.join(m.text for m in strong)}; ask for one of them"
            )
        loose = [m for m in strong[1:] if not m.conjoined]
        if loose and intent.order_metric is None:  # "average tip for taxi passengers":
            intent.problems.append(  # two figures not asked for together
                f"the question names {strong[0].text} and {loose[0].text}; ask for one of them, "
                f"or for both ('{strong[0].text} and {loose[0].text}')")
        if strong:
            kept = strong + [m for m in weak if m.conjoined]
        elif weak:
            first = head or weak[0]
            kept = [first] + [m for m in weak if m is not first and m.conjoined]
        else:
            kept = []
        intent.metrics = [m for m in intent.metrics if m in kept]
