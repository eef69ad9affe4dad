"""The words a catalog knows: every phrase of its metrics, dimensions, values, segments, tables.

Nothing here knows any particular catalog. Declared semantics (metrics, dimensions, segments,
glossary, column values) outrank what is merely implied by table and column names and synonyms.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from lemminflect import getAllLemmas
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from skipper.catalog import Catalog, Column, Table
from skipper.planner.grammar import GRAIN_WORDS, KEYWORDS, STOP_WORDS
from skipper.planner.places import country_aliases
from skipper.planner.terms import Terms, kind_of
from skipper.planner.verbs import inflections, metric_verbs
from skipper.planner.words import Token, humanise, phrase_key, tokens

Kind = Literal["metric", "dimension", "value", "segment", "table", "verb", "measure"]
_HIDDEN_TAGS = {"pii", "id", "weight", "secret"}


@dataclass(frozen=True)
class Meaning:
    """One thing a phrase can stand for."""

    kind: Kind
    name: str  # metric, dimension, segment or table name
    table: str
    value: str | int | bool | None = None
    declared: bool = True  # from the semantic layer, not just a table or column's synonyms
    # Segments a glossary term brings along: ((segment, exclude), ...) — "customers" are
    # accounts excluding internal ones.
    implies: tuple[tuple[str, bool], ...] = ()
    term: str | None = None  # the glossary term that defined this meaning

    def describe(self) -> str:
        if self.kind == "value":
            return f"{self.name} {self.value}"
        return f"{self.kind} {self.name}"


class Vocabulary:
    """Phrase -> meanings, looked up by stemmed words, longest phrase first."""

    def __init__(
        self, catalog: Catalog, terms: Terms,
        values: dict[tuple[str, str], list[str]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.terms = terms
        self._read_values = {(t.lower(), c.lower()): v for (t, c), v in (values or {}).items()}
        self._phrases: dict[tuple[str, ...], set[Meaning]] = defaultdict(set)
        self._labels: dict[str, str] = {}  # suggestion text -> kind
        self._entity_metric: dict[str, str] = {}
        self._value_words: dict[Meaning, set[tuple[str, ...]]] = defaultdict(set)
        self._value_word_set: set[str] = set()
        self._build()
        self.max_len = max((len(k) for k in self._phrases), default=1)
        self.words = sorted({w for key in self._phrases for w in key})

    # ---- building -----------------------------------------------------------------------
    def _add(self, text: str, meaning: Meaning, *, suggest: bool = True) -> None:
        key = phrase_key(text)
        if not key:
            return
        self._phrases[key].add(meaning)
        if suggest:
            self._labels.setdefault(humanise(text), meaning.kind)

    def _build(self) -> None:
        catalog = self.catalog
        for metric in catalog.metrics:
            meaning = Meaning("metric", metric.name, metric.table)
            for text in [metric.name, metric.label or "", *metric.synonyms]:
                if text:
                    self._add(text, meaning)
            resolved = self.terms.metric(metric.name)
            for verb in metric_verbs(metric.verbs, metric.time_column):
                for form in inflections(verb):
                    self._add(form, Meaning("verb", metric.name, metric.table), suggest=False)
            if resolved.entity_count and not metric.filters:
                self._entity_metric.setdefault(metric.table.lower(), metric.name)
        covered: dict[tuple[str, str], list[str]] = defaultdict(list)
        for dimension in catalog.dimensions:
            meaning = Meaning("dimension", dimension.name, dimension.table)
            for text in [dimension.name, dimension.label or "", *dimension.synonyms]:
                if text:
                    self._add(text, meaning)
            column = self.terms.dimension(dimension.name).column
            if column is not None:
                covered[(dimension.table.lower(), column.name.lower())].append(dimension.name)
                for text in [column.label or "", *column.synonyms]:
                    if text:
                        self._add(text, meaning, suggest=False)
        for segment in catalog.segments:
            meaning = Meaning("segment", segment.name, segment.table)
            for text in [segment.name, segment.label or "", *segment.synonyms]:
                if text:
                    self._add(text, meaning)
        for table in catalog.tables:
            self._add_table(table, covered)
        for term in catalog.glossary:
            implies = (*((s, True) for s in term.excluding), *((s, False) for s in term.within))
            meanings = [m for ref in term.refers_to for m in self._meanings_of(ref)]
            if implies:
                meanings = [replace(m, implies=implies, term=term.term) for m in meanings]
            for text in [term.term, *term.synonyms]:
                if implies:  # the term's rule is what the word means: no reading without it
                    key = phrase_key(text)
                    plain = {(m.kind, m.name) for m in meanings}
                    self._phrases[key] = {m for m in self._phrases.get(key, set())
                                          if (m.kind, m.name) not in plain}
                for meaning in meanings:
                    self._add(text, meaning)

    def _add_table(self, table: Table, covered: dict[tuple[str, str], list[str]]) -> None:
        entity = Meaning("table", table.name, table.name, declared=False)
        for text in [table.name, table.label or "", *table.synonyms]:
            if text:
                self._add(text, entity, suggest=False)
        for column in table.columns:
            if _HIDDEN_TAGS & {t.lower() for t in column.tags}:
                continue
            if kind_of(column) == "number" and not column.values:
                measure = Meaning("measure", f"{table.name}.{column.name}", table.name,
                                  declared=False)
                for text in [column.name, column.label or "", *column.synonyms]:
                    if text:  # a number column: what "average X", "the largest X" apply to
                        self._add(text, measure, suggest=False)
            names = covered.get((table.name.lower(), column.name.lower())) or []
            if not names:
                implicit = Meaning("dimension", f"{table.name}.{column.name}", table.name,
                                   declared=False)
                named = column.values or column.label or column.synonyms
                if named and "measure" not in {t.lower() for t in column.tags}:
                    for text in [column.name, column.label or "", *column.synonyms]:
                        if text:
                            self._add(text, implicit, suggest=False)
                names = [implicit.name]
            self._add_values(table, column, names)

    def _add_values(self, table: Table, column: Column, dimensions: list[str]) -> None:
        values = column.values
        if not values:  # read from the data: a value that is also an English word ("IN",
            # "US", "May") or a planner keyword would swallow that word in every question
            read = self._read_values.get((table.name.lower(), column.name.lower())) or []
            values = [v for v in read if _safe_read_value(v)]
        if not values or kind_of(column) == "boolean":
            return
        strings = tuple(v for v in values if isinstance(v, str))
        aliases = _country_aliases(strings) if len(strings) >= 2 else None
        for value in values:
            if isinstance(value, bool):
                continue
            for name in dimensions:
                meaning = Meaning("value", name, table.name, value=value)
                self._add(str(value), meaning)
                self._value_words[meaning].add(tuple(t.text for t in tokens(str(value))))
                self._value_word_set.update(t.stem for t in tokens(str(value)))
                for alias in (aliases or {}).get(str(value), []):  # "French" -> FR
                    self._add(alias, meaning, suggest=False)
                    self._value_words[meaning].add(tuple(t.text for t in tokens(alias)))

    def _meanings_of(self, ref: str) -> list[Meaning]:
        catalog = self.catalog
        if (metric := catalog.find_metric(ref)) is not None:
            return [Meaning("metric", metric.name, metric.table)]
        if (dimension := catalog.find_dimension(ref)) is not None:
            return [Meaning("dimension", dimension.name, dimension.table)]
        if (segment := catalog.find_segment(ref)) is not None:
            return [Meaning("segment", segment.name, segment.table)]
        if (table := catalog.find_table(ref)) is not None:
            return [Meaning("table", table.name, table.name)]
        return []

    # ---- lookups ------------------------------------------------------------------------
    def match(self, words: list[Token], i: int) -> tuple[int, set[Meaning]]:
        """The longest phrase starting at ``words[i]``: (length, meanings), (0, set()) if none.

        A declared phrase (metric, dimension, value, segment, glossary) wins over a longer one
        only implied by a table's or column's name, so a table labelled "DNS queries per day"
        does not hide the metric "DNS queries" followed by "per day".
        """
        stems = [w.stem for w in words]
        implicit: tuple[int, set[Meaning]] = (0, set())
        for length in range(min(self.max_len, len(stems) - i), 0, -1):
            meanings = self._phrases.get(tuple(stems[i:i + length]))
            if meanings:  # a value is matched as written: 'opens' is not the status 'open'
                texts = tuple(w.text for w in words[i:i + length])
                meanings = {m for m in meanings
                            if m.kind != "value" or texts in self._value_words[m]}
            if meanings:
                declared = {m for m in meanings if m.declared}
                if declared:
                    return length, declared
                if not implicit[0]:
                    implicit = (length, set(meanings))
        return implicit

    def knows(self, word: str) -> bool:
        return (word,) in self._phrases or word in self._word_set

    @property
    def _word_set(self) -> set[str]:
        cached: set[str] | None = getattr(self, "_cached_words", None)
        if cached is None:
            cached = set(self.words)
            self._cached_words = cached
        return cached

    def entity_metric(self, table: str) -> str | None:
        """The metric that counts a table's rows ("how many domains"), if the catalog has one."""
        return self._entity_metric.get(table.lower())

    def correct(self, word: str, extra: list[str]) -> str | None:
        """The one known word within a small edit distance of ``word`` (a typo), or None.
        An English word ("bring") is not a typo of another ("being")."""
        if len(word) < 4 or not word.isalpha() or getAllLemmas(word):
            return None
        limit = 2 if len(word) >= 8 else 1
        candidates = [*self.words, *extra]
        found = process.extract(word, candidates, scorer=OSA.distance, score_cutoff=limit,
                                limit=5)
        if not found:
            return None
        best = min(score for _, score, _ in found)
        winners = {choice for choice, score, _ in found if score == best}
        if len(winners) != 1:
            return None
        winner = winners.pop()
        if len(winner) < 4:  # "dept" is not the agency code DEP: short words are codes
            return None
        if best > 1 and winner in self._value_word_set:
            return None  # "brazilian" is not a misspelt "brasilia": values need a closer match
        return winner if abs(len(winner) - len(word)) <= limit and winner[0] == word[0] else None

    def suggest(self, word: str, limit: int = 3) -> list[str]:
        """The catalog terms closest to a word the planner did not understand."""
        labels = list(self._labels)
        found = process.extract(word, labels, scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
        return [choice for choice, _, _ in found]

    def headline_terms(self, limit: int = 6) -> list[str]:
        """A few metric names to offer when nothing is close."""
        return [humanise(m.label or m.name).lower() for m in self.catalog.metrics[:limit]]


def _safe_read_value(value: object) -> bool:
    words = [t.text for t in tokens(str(value))]
    if not words:
        return False
    word = words[0]
    return len(words) > 1 or not (len(word) <= 3 or word in STOP_WORDS
                                  or (word,) in KEYWORDS or word in GRAIN_WORDS)


@lru_cache(maxsize=1024)
def _country_aliases(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    """Catalogs repeat the same few value lists over many columns: read each once."""
    return country_aliases(values)
