"""From an intent to a SemanticQuery: pick each phrase's catalog term, and merge follow-ups.

A phrase that could name several terms ("country": the account's billing country or the
visitor's country) names the one nearest the metrics' tables over the join graph; when two are
equally near, or none applies, the planner says so instead of picking.
"""

from __future__ import annotations

from datetime import date

from sqlglot import exp

from skipper.catalog import Catalog
from skipper.errors import PlannerError, SkipperError
from skipper.planner.joins import JoinGraph
from skipper.planner.places import country_of
from skipper.planner.query import (
    Breakdown,
    Comparison,
    Filter,
    Order,
    PerPeriod,
    SegmentRef,
    SemanticQuery,
    Share,
    TimeRange,
)
from skipper.planner.reader import Intent, Mention, MetricMention
from skipper.planner.terms import Terms
from skipper.planner.vocabulary import Meaning, Vocabulary
from skipper.planner.words import phrase_key

_LIST_VERBS = frozenset({"list", "enumerate", "names of", "name"})


class Resolver:
    def __init__(
        self,
        catalog: Catalog,
        terms: Terms,
        graph: JoinGraph,
        vocabulary: Vocabulary,
        today: date,
    ) -> None:
        self.catalog = catalog
        self.terms = terms
        self.graph = graph
        self.vocabulary = vocabulary
        self.today = today
        self._touched: set[str] = set()  # dimensions filtered by this question (merge, not replace)
        self._touched_segments: set[str] = set()  # segments this question names
        self.notes: list[str] = []  # glossary rules applied, said in the interpretation

    # ---- the query ----------------------------------------------------------------------
    def build(self, intent: Intent, previous: SemanticQuery | None) -> SemanticQuery:
        metrics = self._metrics(intent.metrics)
        listing = (
            intent.listing and not intent.howmany and not intent.superlative
            and not intent.breakdowns and intent.order_metric is None
            and len(intent.metrics) == 1 and intent.metrics[0].weak
            and bool(intent.metrics[0].dimensions)
        )
        explicit = any(w in _LIST_VERBS for w in intent.list_words)
        if explicit and not intent.howmany and all(m.weak for m in intent.metrics) and (
                not listing and not intent.breakdowns):
            named = [*intent.metrics, *intent.segments, *intent.filters]
            what = named[0].text if named else "…"
            raise PlannerError(  # "list the discontinued products": rows, not a count
                "listing the rows themselves is not something the catalog planner does; ask "
                f"'how many {what}', or for them by a dimension")
        base = SemanticQuery.model_construct(
            metrics=[], breakdowns=[], filters=[], segments=[], time_range=None, compare=None,
            order=[], limit=None, share=None, per=None, including=[],
        ) if previous is None else previous.model_copy(deep=True)
        if previous is None or metrics:
            if previous is not None and intent.also:
                metrics = list(dict.fromkeys([*base.metrics, *metrics]))
            base.metrics = metrics
        if not base.metrics and not listing and not (intent.listing and intent.breakdowns):
            base.metrics = self._implied_count(intent)
        distinct = listing or (intent.listing and intent.breakdowns and not base.metrics)
        if distinct and not explicit:
            listed = intent.metrics[0].item if listing else intent.breakdowns[0].item
            if not listed.plural:  # "what's our CSAT", "what's the total population"
                raise PlannerError(
                    f"'{listed.text}' is not a figure the catalog defines; to see its values "
                    f"ask 'list the {listed.text} values'")
        if listing:
            base.metrics = []
            intent.breakdowns.insert(0, Mention(intent.metrics[0].item,
                                                intent.metrics[0].dimensions))
        tables = self._tables(base.metrics, intent)
        self._event_periods(base.metrics, intent)
        self._removals(base, intent, tables)
        self._breakdowns(base, intent, tables, replace=intent.instead and previous is not None)
        self._filters(base, intent, tables)
        self._versus(base, intent, tables)
        self._segments(base, intent, tables)
        self._implied_segments(base, intent)
        self._period(base, intent, previous)
        self._ranking(base, intent)
        if intent.share_at is not None:
            self._share(base, intent, previous)
        if intent.per is not None:
            if previous is not None:
                raise PlannerError("ask a per-period average as a question of its own")
            base.per = PerPeriod.model_validate(
                {"function": intent.per[0], "grain": intent.per[1]})
        if not base.metrics and not base.breakdowns:
            raise PlannerError(
                "the question names no metric to measure; ask e.g. "
                f"{self._examples()}",
                suggestions=self.vocabulary.headline_terms(),
            )
        return SemanticQuery.model_validate(base.model_dump(mode="json", exclude_none=True))

    def _implied_count(self, intent: Intent) -> list[str]:
        """"paying accounts by region", "tickets closed last week": count what is filtered."""
        tables = []
        for mention in [*intent.segments, *intent.filters]:
            tables += sorted({m.table for m in mention.meanings})
        for table in tables:
            counted = self.vocabulary.entity_metric(table)
            if counted is not None:
                return [counted]
        return []

    def _examples(self) -> str:
        names = self.vocabulary.headline_terms(3)
        return " or ".join(f"'{n}'" for n in names) or "a metric of the catalog"

    def _metrics(self, mentions: list[MetricMention]) -> list[str]:
        names: list[str] = []
        for mention in mentions:
            found: set[str] = set()
            for meaning in mention.meanings:
                if meaning.kind == "metric":
                    found.add(meaning.name)
                else:
                    counted = self.vocabulary.entity_metric(meaning.table)
                    if counted is None:
                        raise PlannerError(
                            f"the catalog has no metric that counts {meaning.name}; "
                            f"try {self._examples()}",
                            suggestions=self.vocabulary.headline_terms(),
                        )
                    found.add(counted)
            if len(found) > 1:  # the metric named exactly so wins over synonyms of others
                said = phrase_key(mention.text)
                exact = {name for name in found
                         if said in (phrase_key(name), phrase_key(self.terms.metric(name).label))}
                if len(exact) == 1:
                    found = exact
            if len(found) > 1:
                raise PlannerError(
                    f"'{mention.text}' could be any of the metrics {', '.join(sorted(found))}; "
                    "name one",
                    suggestions=sorted(found),
                )
            names.extend(found)
        return list(dict.fromkeys(names))

    def _tables(self, metrics: list[str], intent: Intent) -> list[str]:
        tables = [self.terms.metric(m).table.name for m in metrics]
        if not tables and intent.breakdowns:
            first = intent.breakdowns[0]
            if first.meanings:
                candidates = {m.table for m in first.meanings}
                if len(candidates) == 1:
                    tables = list(candidates)
        return list(dict.fromkeys(tables))

    # ---- choosing among meanings --------------------------------------------------------
    def pick(
        self, mention: Mention, tables: list[str], *, to_one: bool, what: str
    ) -> Meaning | list[Meaning]:
        """The meaning nearest the metrics' tables; several values of one dimension stay a list."""
        meanings = mention.meanings
        if not tables:
            if len({(m.kind, m.name) for m in meanings}) == 1:
                return _one_or_values(meanings)
            raise self._ambiguous(mention, meanings)
        costs: dict[tuple[str, str], int] = {}
        reasons: list[str] = []
        for meaning in meanings:
            key = (meaning.kind, meaning.name)
            if key in costs:
                continue
            try:
                cost = 0
                for table in tables:
                    path = self.graph.path(table, meaning.table)
                    many = next((edge for edge in path if edge.to_many), None)
                    if to_one and many is not None:
                        raise PlannerError(
                            f"each {many.source} row matches many {many.target} rows, so "
                            f"{table} would be counted more than once")
                    cost += len(path)
                costs[key] = cost
            except SkipperError as error:
                reasons.append(error.message)
        if not costs:
            measures = ", ".join(tables)
            raise PlannerError(
                f"'{mention.text}' ({_describe(meanings)}) does not apply to {what} over "
                f"{measures}: {reasons[0] if reasons else 'no join path'}",
            )
        best = min(costs.values())
        winners = {key for key, cost in costs.items() if cost == best}
        if len(winners) > 1:  # the value written as the question says it beats an alias of it
            said = phrase_key(mention.text)
            exact: set[tuple[str, str]] = {
                (m.kind, m.name) for m in meanings if (m.kind, m.name) in winners
                and m.kind == "value" and phrase_key(str(m.value)) == said}
            if len(exact) == 1:
                winners = exact
        if len(winners) > 1:  # one country as a code and as a name in one table: the name
            chosen_values = [m for m in meanings if (m.kind, m.name) in winners]
            places = {country_of(str(m.value)) for m in chosen_values if m.kind == "value"}
            if (len(chosen_values) == len(winners) and len({m.table for m in chosen_values}) == 1
                    and len(places) == 1 and None not in places):
                longest = max(chosen_values, key=lambda m: len(str(m.value)))
                winners = {(longest.kind, longest.name)}
        if len(winners) > 1:
            raise self._ambiguous(mention, {m for m in meanings if (m.kind, m.name) in winners})
        kind, name = winners.pop()
        chosen = {m for m in meanings if (m.kind, m.name) == (kind, name)}
        return _one_or_values(chosen)

    def _ambiguous(self, mention: Mention, meanings: set[Meaning]) -> PlannerError:
        options = sorted({_label(m, self.terms) for m in meanings})
        phrases = sorted({_phrase(m, self.terms) for m in meanings})
        return PlannerError(
            f"'{mention.text}' could mean {' or '.join(options)}; say which",
            code="planner.ambiguous_term",
            suggestions=options,
            reading=(mention.text, phrases),
        )

    # ---- parts --------------------------------------------------------------------------
    def _breakdowns(
        self, query: SemanticQuery, intent: Intent, tables: list[str], *, replace: bool
    ) -> None:
        new: list[Breakdown] = []
        for mention in intent.breakdowns:
            if not mention.meanings:
                new.append(Breakdown(grain=mention.grain))
                continue
            chosen = self.pick(mention, tables, to_one=True, what="a breakdown")
            meaning = chosen[0] if isinstance(chosen, list) else chosen
            if meaning.kind != "dimension":
                raise PlannerError(f"cannot break down by '{mention.text}'")
            grain = mention.grain
            if grain is None and self.terms.dimension(meaning.name).kind == "time":
                grain = "day"
            new.append(Breakdown(dimension=meaning.name, grain=grain))
        if replace and new:
            query.breakdowns = []
        for breakdown in new:
            if all(b.key != breakdown.key for b in query.breakdowns):
                query.breakdowns.append(breakdown)

    def _filters(self, query: SemanticQuery, intent: Intent, tables: list[str]) -> None:
        for mention in intent.filters:
            chosen = self.pick(mention, tables, to_one=True, what="a filter")
            meanings = chosen if isinstance(chosen, list) else [chosen]
            dimension = meanings[0].name
            if meanings[0].kind == "dimension":
                if mention.period is None:
                    continue
                query.filters = [f for f in query.filters if f.dimension != dimension]
                query.filters.append(Filter(dimension=dimension, op="during",
                                            period=mention.period))
                continue
            values: list[str | int | float | bool] = [
                m.value for m in meanings if m.value is not None
            ]
            self._add_filter(query, dimension, values, mention.negate)
        for mention in intent.includes:
            chosen = self.pick(mention, tables, to_one=False, what="a filter")
            meanings = chosen if isinstance(chosen, list) else [chosen]
            if meanings[0].kind == "segment":
                name = meanings[0].name
                query.segments = [s for s in query.segments if s.segment != name]
                left_out = {s for m in query.metrics for s in self.terms.metric(m).source.excluding}
                if name in left_out:  # "including internal accounts": keep what is left out
                    query.including = list(dict.fromkeys([*query.including, name]))
                # otherwise nothing left them out: "test accounts included" changes nothing
                continue
            included: list[str | int | float | bool] = [
                m.value for m in meanings if m.value is not None
            ]
            values = included
            undone = False
            for item in list(query.filters):
                if item.dimension == meanings[0].name and item.op in ("not in", "!="):
                    kept = [v for v in item.values if v not in values]
                    undone = undone or len(kept) != len(item.values)
                    query.filters.remove(item)
                    if kept:
                        query.filters.append(Filter(dimension=item.dimension, op="not in",
                                                    values=kept))
            if not undone:  # "include pending domains too": widen the filter
                self._touched.add(meanings[0].name)
                self._add_filter(query, meanings[0].name, values, False)

    def _add_filter(
        self, query: SemanticQuery, dimension: str, values: list[str | int | float | bool],
        negate: bool,
    ) -> None:
        """Add values to this question's filter on a dimension; replace an earlier turn's."""
        if not negate and dimension not in self._touched:
            query.filters = [f for f in query.filters if f.dimension != dimension
                             or f.op in ("not in", "!=") and not set(f.values) & set(values)]
            columns = self._dimension_columns(dimension)
            query.segments = [  # an earlier turn's segment on the same column is replaced
                s for s in query.segments
                if s.segment in self._touched_segments or not columns
                or self._segment_columns(s.segment) != columns]
        self._touched.add(dimension)
        same = [f for f in query.filters if f.dimension == dimension]
        if not negate:
            positive = next((f for f in same if f.op == "in"), None)
            if positive is not None:
                positive.values = list(dict.fromkeys([*positive.values, *values]))
                return
        else:
            existing = next((f for f in same if f.op == "not in"), None)
            if existing is not None:
                existing.values = list(dict.fromkeys([*existing.values, *values]))
                return
        query.filters.append(Filter(dimension=dimension, op="not in" if negate else "in",
                                    values=values))

    def _versus(self, query: SemanticQuery, intent: Intent, tables: list[str]) -> None:
        """"requests in EU vs NA": filter to both and show them side by side."""
        for left, _ in intent.versus:
            chosen = self.pick(Mention(left, {m for m in left.meanings if m.kind == "value"}),
                               tables, to_one=True, what="a breakdown")
            meaning = chosen[0] if isinstance(chosen, list) else chosen
            if all(b.dimension != meaning.name for b in query.breakdowns):
                query.breakdowns.append(Breakdown(dimension=meaning.name))

    def _segments(self, query: SemanticQuery, intent: Intent, tables: list[str]) -> None:
        for mention in intent.segments:
            chosen = self.pick(mention, tables, to_one=False, what="a segment")
            meaning = chosen[0] if isinstance(chosen, list) else chosen
            columns = self._segment_columns(meaning.name)
            query.segments = [s for s in query.segments if s.segment != meaning.name and (
                s.segment in self._touched_segments or not columns
                or self._segment_columns(s.segment) != columns)]
            if columns:  # "and the delisted ones?" after "active products": replaced
                query.filters = [f for f in query.filters if f.dimension in self._touched
                                 or self._dimension_columns(f.dimension) != columns]
            query.segments.append(SegmentRef(segment=meaning.name, exclude=mention.negate))
            self._touched_segments.add(meaning.name)

    def _segment_columns(self, name: str) -> frozenset[tuple[str, str]]:
        """The columns a segment's filter reads (empty when it reads a subquery)."""
        try:
            _, table, predicate = self.terms.segment(name)
        except SkipperError:
            return frozenset()
        if predicate.find(exp.Select) is not None:
            return frozenset()
        return frozenset((c.table.lower() or table.name.lower(), c.name.lower())
                         for c in predicate.find_all(exp.Column))

    def _dimension_columns(self, name: str) -> frozenset[tuple[str, str]]:
        try:
            dimension = self.terms.dimension(name)
        except SkipperError:
            return frozenset()
        return frozenset((c.table.lower() or dimension.table.name.lower(), c.name.lower())
                         for c in dimension.expr.find_all(exp.Column))

    def _event_periods(self, metrics: list[str], intent: Intent) -> None:
        """"tickets opened this month": a period on the metrics' own time column is the
        question's period (and its main one when compared: "opened this month versus last
        month"), not a filter that would also cut the period it is compared with."""
        if not metrics:
            return
        columns = set()
        for name in metrics:
            metric = self.terms.metric(name)
            if metric.time_column is None:
                return
            columns.add((metric.table.name.lower(), metric.time_column.name.lower()))
        if len(columns) != 1:
            return
        for mention in list(intent.filters):
            if mention.period is None or not mention.meanings:
                continue
            dimensions = [self.terms.dimension(m.name) for m in mention.meanings
                          if m.kind == "dimension"]
            if len(dimensions) != len(mention.meanings) or not all(
                d.column is not None
                and (d.table.name.lower(), d.column.name.lower()) in columns
                for d in dimensions
            ):
                continue
            intent.filters.remove(mention)
            if intent.time_range is None:
                intent.time_range = mention.period
            elif intent.compare and intent.compare_range is None:
                intent.compare_range, intent.time_range = intent.time_range, mention.period
            else:
                intent.filters.append(mention)  # a third period: the filter says it
                return

    def _share(self, query: SemanticQuery, intent: Intent,
               previous: SemanticQuery | None) -> None:
        """"what share of orders were paid with PayPal": the conditions said after the metric
        pick the part; those before it ("Canadian city-years") narrow the whole too."""
        measured = [m for m in intent.metrics if m.item.start > (intent.share_at or 0)]
        if previous is not None or len(query.metrics) != 1 or not measured:
            raise PlannerError("say what to take a share of, e.g. 'what share of orders were "
                               "paid by card'")
        after = measured[0].item.start
        part = [m for m in intent.filters if m.item.start > after and m.period is None]
        dimensions = {meaning.name for mention in part for meaning in mention.meanings}
        filters = [f for f in query.filters if f.dimension in dimensions and f.op != "during"]
        parts = {meaning.name for mention in intent.segments if mention.item.start > after
                 for meaning in mention.meanings}
        segments = [s for s in query.segments if s.segment in parts]
        if not filters and not segments:
            raise PlannerError("say which part to take the share of, e.g. 'what share of "
                               "orders were paid by card'")
        query.filters = [f for f in query.filters if f not in filters]
        query.segments = [s for s in query.segments if s not in segments]
        query.share = Share(filters=filters, segments=segments)

    def _implied_segments(self, query: SemanticQuery, intent: Intent) -> None:
        """A glossary term's rule applies wherever the term is used ("customers": accounts
        excluding internal ones)."""
        mentions = [*intent.named, *intent.metrics, *intent.filters, *intent.segments]
        for mention in mentions:
            for meaning in mention.meanings:
                for name, exclude in meaning.implies:
                    if all(s.segment != name for s in query.segments):
                        query.segments.append(SegmentRef(segment=name, exclude=exclude))
                if meaning.term is not None:
                    term = next((t for t in self.catalog.glossary if t.term == meaning.term), None)
                    note = (f"'{mention.text}' read as the glossary defines "
                            f"'{meaning.term}': {term.definition.strip()}" if term else "")
                    if note and note not in self.notes:
                        self.notes.append(note)

    def _removals(self, query: SemanticQuery, intent: Intent, tables: list[str]) -> None:
        for grain in intent.removed_grains:
            query.breakdowns = [b for b in query.breakdowns if b.grain != grain or b.dimension]
        for mention in intent.removals:
            names = {m.name for m in mention.meanings}
            values = {m.value for m in mention.meanings if m.kind == "value"}
            before = query.model_dump()
            query.breakdowns = [b for b in query.breakdowns if b.dimension not in names]
            query.segments = [s for s in query.segments if s.segment not in names]
            if len(query.metrics) > 1:
                query.metrics = [m for m in query.metrics if m not in names]
            kept = []
            for item in query.filters:
                if item.dimension in names and (not values or set(item.values) <= values):
                    continue
                if item.dimension in names and values:
                    item.values = [v for v in item.values if v not in values]
                kept.append(item)
            query.filters = kept
            if query.model_dump() == before:
                raise PlannerError(
                    f"there is no '{mention.text}' in the previous question to remove",
                )

    def _period(self, query: SemanticQuery, intent: Intent,
                previous: SemanticQuery | None = None) -> None:
        if intent.time_range is not None:
            query.time_range = intent.time_range
        if not intent.compare:
            return
        if (previous is not None and intent.compare_kind == "previous_period"
                and not intent.compare_word and not intent.compare_change
                and intent.time_range is None and previous.time_range is not None):
            # "what about the day before?": the same question, one period earlier
            start, end = Comparison().resolve(previous.time_range, self.today)
            query.time_range = TimeRange(start=start, end=end,
                                         label=f"{start.isoformat()} to {end.isoformat()}")
            query.compare = None
            return
        if (intent.compare_kind is None and intent.compare_range is None
                and not intent.compare_change):
            # "compare the average NO2 of Austria and Belgium", "EU vs non-EU customers":
            # the things compared are not periods
            compared = [f for f in query.filters if f.op == "in" and len(f.values) > 1]
            if len(compared) == 1 and all(b.dimension != compared[0].dimension
                                          for b in query.breakdowns):
                query.breakdowns.append(Breakdown(dimension=compared[0].dimension))
                return
            raise PlannerError(
                "compare with what? name the other period ('versus last month') or the values "
                "side by side ('EU vs NA', 'Austria and Belgium')")
        self._compare(query, intent)
        if query.compare is not None and not intent.compare_change:
            query.compare = query.compare.model_copy(update={"changes": False})

    def _compare(self, query: SemanticQuery, intent: Intent) -> None:
        kind = intent.compare_kind
        target = intent.compare_range
        if kind == "previous_year":
            query.compare = Comparison(kind="previous_year")
        elif target is None or kind == "previous_period":
            query.compare = Comparison(kind="previous_period")
        elif target.relative is not None and target.relative.kind == "last_n":
            if query.time_range is None:
                query.time_range = target
            elif _length(query.time_range, self.today) != _length(target, self.today):
                raise PlannerError(
                    f"cannot compare {query.time_range.label or 'the period'} with the "
                    f"{target.label}: they differ in length; compare with 'the previous period'",
                )
            query.compare = Comparison(kind="previous_period")
        elif query.time_range is not None and (
            query.time_range.resolve(self.today) == target.resolve(self.today)
        ):  # "last month compared to the previous month": the month before that
            query.compare = Comparison(kind="previous_period")
        else:
            query.compare = Comparison(kind="range", range=target)
            if query.time_range is None and target.relative and target.relative.kind == "previous":
                unit = target.relative.unit
                query.time_range = TimeRange.model_validate(
                    {"relative": {"kind": "current", "unit": unit}, "label": f"this {unit}"})
        if query.time_range is None:
            raise PlannerError("say which period to compare, e.g. 'in the last 30 days'")

    def _ranking(self, query: SemanticQuery, intent: Intent) -> None:
        direction = intent.direction or "desc"
        if intent.order_metric is not None:
            name = self._metrics([intent.order_metric])[0]
            query.order = [Order(by=name, direction=direction)]  # type: ignore[arg-type]
        elif (intent.superlative or intent.limit) and query.metrics and query.breakdowns:
            query.order = [Order(by=query.metrics[0], direction=direction)]  # type: ignore[arg-type]
        if intent.limit is not None:
            query.limit = intent.limit
        elif (intent.superlative and intent.singular_target and intent.listing
              and query.breakdowns):
            query.limit = 1
        if intent.aggregated_superlative and query.breakdowns:
            raise PlannerError(
                "'the largest/smallest …' with a breakdown could rank the groups or take each "
                "group's maximum; ask 'maximum … by …' or 'which … has the highest …'")
        if (intent.superlative or intent.limit is not None) and (
            not query.breakdowns or not query.metrics or not query.order
        ):  # "the biggest customer in LATAM by spend" with no customer to rank: not a total
            raise PlannerError(
                "the question asks for the most or the least of something, but names nothing "
                "to rank by a metric; ask e.g. 'which plan has the most tickets'")


def _one_or_values(meanings: set[Meaning]) -> Meaning | list[Meaning]:
    if all(m.kind == "value" for m in meanings):
        return sorted(meanings, key=lambda m: str(m.value))
    return next(iter(meanings))


def _describe(meanings: set[Meaning]) -> str:
    return ", ".join(sorted(m.describe() for m in meanings))


def _label(meaning: Meaning, terms: Terms) -> str:
    if meaning.kind == "value":
        return f"{meaning.name} = {meaning.value}"
    return f"{meaning.kind} {meaning.name} ({meaning.table})"


def _phrase(meaning: Meaning, terms: Terms) -> str:
    """Words that name one meaning and nothing else, to put in a rephrased question."""
    try:
        if meaning.kind == "value":
            return f"{terms.dimension(meaning.name).label.lower()} {meaning.value}"
        if meaning.kind == "dimension":
            return terms.dimension(meaning.name).label.lower()
        if meaning.kind == "metric":
            return terms.metric(meaning.name).label.lower()
    except SkipperError:
        pass
    return meaning.name.replace("_", " ")


def _length(time_range: TimeRange, today: date) -> int:
    start, end = time_range.resolve(today)
    return (end - start).days + 1
