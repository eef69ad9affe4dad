"""Finding what a question is about: BM25 over tables, columns, metrics, glossary and examples."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import bm25s
import numpy as np
import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.catalog.models import VerifiedQuery

Kind = Literal["table", "column", "metric", "dimension", "segment", "glossary", "example"]

#: How much a matching entry of each kind says about its table(s).
WEIGHTS: dict[str, float] = {
    "table": 1.0, "column": 0.7, "metric": 0.9, "dimension": 0.5, "segment": 0.5,
    "glossary": 0.5, "example": 0.5,
}
#: A table joined to a well-matching one gets this share of its score (questions rarely name
#: every table they need: "spend by region" needs accounts for the region).
NEIGHBOUR_SHARE = 0.35

_STOPWORD_TEXT = """
a an and are as at be been by can could did do does for from get give had has have how i in is
it its me my of on or our please show tell that the their them there these they this those to
us was we were what when where which who whom why will with would you your vs versus than then
per each many much list
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[A-Za-z]+|\d+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True)
class Visibility:
    """What one user may see. ``tables=None`` means every catalog table.

    Governance computes this per user; retrieval, rendering and the tools drop everything
    outside it, so a forbidden table or column never reaches a prompt.
    """

    tables: frozenset[str] | None = None
    hidden_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        visible_tables: Iterable[str] | None = None,
        hidden_columns: Mapping[str, Iterable[str]] | None = None,
    ) -> Visibility:
        tables = None if visible_tables is None else frozenset(t.lower() for t in visible_tables)
        hidden = {t.lower(): frozenset(c.lower() for c in cols)
                  for t, cols in (hidden_columns or {}).items()}
        return cls(tables=tables, hidden_columns=hidden)

    def table(self, name: str) -> bool:
        return self.tables is None or name.lower() in self.tables

    def column(self, table: str, column: str) -> bool:
        return self.table(table) and column.lower() not in self.hidden_columns.get(
            table.lower(), frozenset())

    @property
    def everything(self) -> bool:
        return self.tables is None and not any(self.hidden_columns.values())


EVERYTHING = Visibility()


@dataclass(frozen=True)
class Document:
    """One searchable catalog entry and the tables (and column) it is about."""

    kind: Kind
    name: str
    tables: tuple[str, ...]
    columns: tuple[tuple[str, str], ...] = ()
    text: str = ""


@dataclass
class Hit:
    document: Document
    score: float


@dataclass
class Ranking:
    """Tables best first, and the matching entries behind them."""

    tables: list[tuple[str, float]]
    hits: list[Hit]
    query: set[str] = field(default_factory=set)

    def matched_columns(self, table: str) -> set[str]:
        return {column for hit in self.hits if hit.document.kind == "column"
                for t, column in hit.document.columns if t == table}

    def of_kind(self, kind: Kind) -> list[Hit]:
        return [hit for hit in self.hits if hit.document.kind == kind]


class Tokenizer:
    """Lower-case word stems; ``snake_case`` and ``camelCase`` identifiers split into words."""

    def __init__(self) -> None:
        self._stem = _stemmer()

    def __call__(self, text: str) -> list[str]:
        words = _WORD.findall(_CAMEL.sub(" ", text.replace("_", " ")))
        kept = [w.lower() for w in words]
        return self._stem([w for w in kept if w not in _STOPWORDS])


class _Bm25:
    """A BM25 index over token lists; scores every document for one query."""

    def __init__(self, corpus: Sequence[list[str]]) -> None:
        self.size = len(corpus)
        self._index: bm25s.BM25 | None = None
        if corpus:
            self._index = bm25s.BM25()
            self._index.index([tokens or ["\u2205"] for tokens in corpus], show_progress=False)

    def scores(self, query: list[str]) -> np.ndarray:
        if self._index is None or not query:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._index.get_scores(query), dtype=np.float32)


class CatalogIndex:
    """BM25 over every catalog entry, plus a second small index of verified examples.

    Examples (the catalog's verified queries and remembered ones) change at run time, so they
    have their own index; rebuilding it never touches the big one.
    """

    def __init__(self, catalog: Catalog, examples: Sequence[VerifiedQuery] = ()) -> None:
        self.catalog = catalog
        self.tokenize = Tokenizer()
        self.documents = list(catalog_documents(catalog))
        self._main = _Bm25([self.tokenize(d.text) for d in self.documents])
        self._neighbours = _neighbours(catalog)
        self.set_examples(examples)

    def set_examples(self, extra: Sequence[VerifiedQuery]) -> None:
        """Index the catalog's verified queries and ``extra`` ones (remembered answers)."""
        known = {v.question for v in self.catalog.verified_queries}
        queries = [*self.catalog.verified_queries, *(q for q in extra if q.question not in known)]
        self.examples = [example_document(self.catalog, q) for q in queries]
        self.example_queries = {d.name: q for d, q in zip(self.examples, queries, strict=True)}
        self._examples = _Bm25([self.tokenize(d.text) for d in self.examples])

    def search(
        self, text: str, *, visibility: Visibility = EVERYTHING, limit: int | None = None
    ) -> Ranking:
        """Tables ranked for ``text``, and the entries that matched, within ``visibility``."""
        query = self.tokenize(text)
        hits = _hits(self.documents, self._main.scores(query), visibility)
        hits += _hits(self.examples, self._examples.scores(query), visibility)
        hits.sort(key=lambda h: -h.score)
        scores: dict[str, float] = defaultdict(float)
        best_column: dict[str, float] = {}
        for hit in hits:
            weight = WEIGHTS[hit.document.kind]
            share = hit.score * weight / len(hit.document.tables)
            for table in hit.document.tables:
                if hit.document.kind == "column":
                    # The best column counts fully, the others a little: wide tables with many
                    # loosely matching columns must not outrank the table the question names.
                    if table not in best_column:
                        best_column[table] = share
                        scores[table] += share
                    else:
                        scores[table] += 0.15 * share
                else:
                    scores[table] += share
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        for table, score in ranked[:5]:
            for other in self._neighbours.get(table, ()):
                if visibility.table(other):
                    scores[other] += NEIGHBOUR_SHARE * score
        tables = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return Ranking(tables=tables[:limit] if limit else tables, hits=hits, query=set(query))


def _hits(documents: Sequence[Document], scores: np.ndarray, visibility: Visibility) -> list[Hit]:
    found = []
    for i in np.flatnonzero(scores > 0):
        document = documents[int(i)]
        if not document.tables:
            continue
        if not all(visibility.table(t) for t in document.tables):
            continue
        if not all(visibility.column(t, c) for t, c in document.columns):
            continue
        found.append(Hit(document, float(scores[i])))
    return found


# ---- documents ---------------------------------------------------------------------------------


def catalog_documents(catalog: Catalog) -> Iterable[Document]:
    """Every searchable entry of ``catalog`` except verified queries (see example_document)."""
    for table in catalog.tables:
        words = [table.name, table.name, table.label or "", *table.synonyms, *table.synonyms,
                 table.description, table.grain or ""]
        yield Document("table", table.name, (table.name,), text=" ".join(words))
        for column in table.columns:
            values = " ".join(str(v) for v in column.values or [])
            words = [column.name, column.label or "", *column.synonyms, column.description, values]
            yield Document("column", f"{table.name}.{column.name}", (table.name,),
                           ((table.name, column.name),), text=" ".join(words))
    for metric in catalog.metrics:
        yield Document("metric", metric.name, (metric.table,),
                       _columns_of(catalog, metric.table, [metric.expr, *metric.filters]),
                       text=" ".join([metric.name, metric.label or "", *metric.synonyms,
                                      metric.description]))
    for dimension in catalog.dimensions:
        yield Document("dimension", dimension.name, (dimension.table,),
                       _columns_of(catalog, dimension.table, [dimension.sql]),
                       text=" ".join([dimension.name, dimension.label or "",
                                      *dimension.synonyms, dimension.description]))
    for segment in catalog.segments:
        yield Document("segment", segment.name, (segment.table,),
                       _columns_of(catalog, segment.table, [segment.filter]),
                       text=" ".join([segment.name, segment.label or "", *segment.synonyms,
                                      segment.description]))
    for term in catalog.glossary:
        tables = tuple(dict.fromkeys(
            t for ref in term.refers_to for t in catalog.tables_of(ref)))
        yield Document("glossary", term.term, tables,
                       text=" ".join([term.term, *term.synonyms, term.definition]))


def example_document(catalog: Catalog, query: VerifiedQuery) -> Document:
    tables, columns = _read_by(catalog, query.sql)
    return Document("example", query.question, tables, columns, text=query.question)


def _columns_of(
    catalog: Catalog, table: str, snippets: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """The columns of ``table`` that catalog SQL snippets read (to hide them with the column)."""
    found = catalog.find_table(table)
    if found is None:
        return ()
    names: set[str] = set()
    for snippet in snippets:
        try:
            tree = sqlglot.parse_one(snippet, read=catalog.dialect)
        except sqlglot.errors.SqlglotError:
            continue
        names.update(c.name.lower() for c in tree.find_all(exp.Column))
    return tuple((found.name, c.name) for c in found.columns if c.name.lower() in names)


def _read_by(
    catalog: Catalog, sql: str
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Catalog tables a query names, and every (table, column) whose name it mentions."""
    try:
        tree = sqlglot.parse_one(sql, read=catalog.dialect)
    except sqlglot.errors.SqlglotError:
        return (), ()
    tables = tuple(dict.fromkeys(t.name for ref in tree.find_all(exp.Table)
                                 if (t := catalog.find_table(ref.name)) is not None))
    names = {c.name.lower() for c in tree.find_all(exp.Column)}
    # Conservative on purpose: any column of a read table with a mentioned name counts, so an
    # example over a hidden column is never shown.
    columns = tuple((t, c.name) for t in tables for c in catalog.table(t).columns
                    if c.name.lower() in names)
    return tables, columns


def _neighbours(catalog: Catalog) -> dict[str, list[str]]:
    joined: dict[str, list[str]] = defaultdict(list)
    for table in catalog.tables:
        for rel in table.relationships:
            other = catalog.find_table(rel.table)
            if other is None:
                continue
            joined[table.name].append(other.name)
            joined[other.name].append(table.name)
    return dict(joined)


def _stemmer() -> Callable[[list[str]], list[str]]:
    try:
        import Stemmer
    except ImportError:  # PyStemmer is in the llm extra; without it, a crude plural rule
        return lambda words: [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]
    stemmer = Stemmer.Stemmer("english")
    stem = functools.lru_cache(maxsize=65536)(stemmer.stemWord)
    return lambda words: [stem(w) for w in words]
