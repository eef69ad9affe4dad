"""The grounding a model gets: the relevant tables, metrics and examples, within a token budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.catalog.models import (
    Dimension,
    GlossaryTerm,
    Metric,
    Relationship,
    Segment,
    Table,
    VerifiedQuery,
    format_duration,
)
from skipper.llm.prompt import Prompts
from skipper.llm.retrieval import EVERYTHING, CatalogIndex, Ranking, Visibility
from skipper.llm.tokens import TokenCounter

#: The detail each rank of table starts at (0 = everything, 2 = names and types); a table
#: that does not fit drops to a terser detail before it is left out.
START_DETAIL = (0, 1, 1)
MAX_EXAMPLES = 3
MAX_SEMANTIC_LINES = 14


@dataclass
class Context:
    """The rendered grounding, what it holds, and what it costs."""

    text: str
    tokens: int
    tables: list[str]
    detail: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)


@dataclass
class _Block:
    section: int
    rank: int
    text: str
    tokens: int
    table: str | None = None
    detail: int | None = None
    examples: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)


class ContextBuilder:
    """Renders catalog entries through the prompt templates, counting tokens offline."""

    def __init__(
        self, catalog: Catalog, index: CatalogIndex, prompts: Prompts, counter: TokenCounter
    ) -> None:
        self.catalog = catalog
        self.index = index
        self.prompts = prompts
        self.counter = counter
        self._keys = {t.name: _key_columns(catalog, t) for t in catalog.tables}
        self._read: dict[tuple[str, str | None], list[tuple[str, str]]] = {}

    # ---- one table ---------------------------------------------------------------------------
    def render_table(
        self,
        table: Table,
        *,
        detail: int = 0,
        focus: set[str] | None = None,
        visibility: Visibility = EVERYTHING,
        rows: int | None = None,
        distinct: Mapping[str, str] | None = None,
    ) -> str:
        shown = table if self._lineage_visible(table, visibility) else _without_lineage(table)
        return self.prompts.render(
            "table.j2",
            table=shown,
            detail=detail,
            focus=(focus or set()) | self._keys.get(table.name, set()),
            columns=[c for c in table.columns if visibility.column(table.name, c.name)],
            relationships=self._relationships(table, visibility),
            sla=format_duration(table.freshness.sla) if table.freshness else "",
            fresh_note=None,
            rows=rows if rows is not None else table.row_count,
            distinct=dict(distinct or {}),
        )

    def render_semantics(
        self,
        *,
        metrics: list[Metric],
        dimensions: list[Dimension],
        segments: list[Segment],
        glossary: list[GlossaryTerm],
    ) -> str:
        return self.prompts.render("semantics.j2", metrics=metrics, dimensions=dimensions,
                                   segments=segments, glossary=glossary)

    # ---- the grounding for one question --------------------------------------------------------
    def build(
        self, question: str, *, budget: int, visibility: Visibility = EVERYTHING
    ) -> Context:
        """The most relevant entries for ``question`` that fit in ``budget`` tokens."""
        ranking = self.index.search(question, visibility=visibility)
        blocks: list[_Block] = []
        left = budget

        def take(block: _Block | None) -> bool:
            nonlocal left
            if block is None or block.tokens > left:
                return False
            blocks.append(block)
            left -= block.tokens
            return True

        ranked = [name for name, _ in ranking.tables]
        semantic = self._semantic_block(ranking, ranked[:4], visibility)
        examples = self._examples_block(ranking)
        for rank, name in enumerate(ranked):
            if rank == 1:
                take(semantic)
                take(examples)
            table = self.catalog.table(name)
            start = START_DETAIL[rank] if rank < len(START_DETAIL) else 2
            for detail in range(start, 3):
                text = self.render_table(table, detail=detail, visibility=visibility,
                                         focus=ranking.matched_columns(name))
                if take(_Block(0, rank, text, self.counter.count(text) + 1, name, detail)):
                    break
            else:
                if left < 40:  # not even a terse table fits any more
                    break
        if len(ranked) <= 1:
            take(semantic)
            take(examples)
        blocks.sort(key=lambda b: (b.section, b.rank))
        text = "\n\n".join(b.text for b in blocks) or (
            "No catalog entry matched the question's words; call search_catalog with other words.")
        tables = [b.table for b in blocks if b.table]
        return Context(
            text=text,
            tokens=self.counter.count(text),
            tables=tables,  # type: ignore[arg-type]
            detail={b.table: b.detail for b in blocks if b.table and b.detail is not None},
            examples=[e for b in blocks for e in b.examples],
            metrics=[m for b in blocks for m in b.metrics],
        )

    def _semantic_block(
        self, ranking: Ranking, top: list[str], visibility: Visibility
    ) -> _Block | None:
        hits = {(h.document.kind, h.document.name) for h in ranking.hits}

        def relevant(kind: str, name: str, table: str) -> bool:
            return (kind, name) in hits or table in top[:1]

        metrics = [m for m in self.catalog.metrics
                   if relevant("metric", m.name, m.table) and self.entry_visible(m, visibility)]
        dimensions = [d for d in self.catalog.dimensions if d.table in top
                      and self.entry_visible(d, visibility)]
        segments = [s for s in self.catalog.segments
                    if relevant("segment", s.name, s.table) and self.entry_visible(s, visibility)]
        glossary = [g for g in self.catalog.glossary
                    if ("glossary", g.term) in hits and self._term_visible(g, visibility)]
        metrics = _best_first(metrics, ranking, "metric")[:MAX_SEMANTIC_LINES]
        glossary = _best_first(glossary, ranking, "glossary")[:5]
        if not (metrics or segments or glossary):
            return None
        text = self.render_semantics(metrics=metrics, dimensions=dimensions[:30],
                                     segments=segments[:10], glossary=glossary)
        return _Block(1, 0, text, self.counter.count(text) + 1, metrics=[m.name for m in metrics])

    def _examples_block(self, ranking: Ranking) -> _Block | None:
        chosen: list[VerifiedQuery] = []
        for hit in ranking.of_kind("example"):
            # One shared word is noise; an example must share two (or all, for short questions).
            shared = len(set(self.index.tokenize(hit.document.text)) & ranking.query)
            if shared >= min(2, len(ranking.query)) and len(chosen) < MAX_EXAMPLES:
                chosen.append(self.index.example_queries[hit.document.name])
        if not chosen:
            return None
        text = self.prompts.render("examples.j2", examples=chosen)
        return _Block(2, 0, text, self.counter.count(text) + 1,
                      examples=[q.question for q in chosen])

    # ---- visibility ---------------------------------------------------------------------------
    def _relationships(self, table: Table, visibility: Visibility) -> list[Relationship]:
        return [r for r in table.relationships if visibility.table(r.table)
                and all(visibility.column(t, c) for t, c in self._columns_in(r.on))]

    def _lineage_visible(self, table: Table, visibility: Visibility) -> bool:
        if table.lineage is None:
            return True
        return all(visibility.table(t) for t in table.lineage.upstream)

    def entry_visible(self, entry: Metric | Dimension | Segment, visibility: Visibility) -> bool:
        if not visibility.table(entry.table):
            return False
        if visibility.everything:
            return True
        snippets: list[str] = []
        if isinstance(entry, Metric):
            snippets = [entry.expr, *entry.filters]
        elif isinstance(entry, Dimension):
            snippets = [entry.sql]
        else:
            snippets = [entry.filter]
        return all(visibility.column(entry.table, c) for s in snippets
                   for _, c in self._columns_in(s, default=entry.table))

    def _columns_in(self, sql: str, default: str | None = None) -> list[tuple[str, str]]:
        """``_columns_in`` parsed once per snippet: visibility checks run on every question."""
        key = (sql, default)
        if key not in self._read:
            self._read[key] = _columns_in(self.catalog, sql, default)
        return self._read[key]

    def _term_visible(self, term: GlossaryTerm, visibility: Visibility) -> bool:
        doc_tables = [t for ref in term.refers_to for t in self.catalog.tables_of(ref)]
        return all(visibility.table(t) for t in doc_tables)


def _best_first(items: list[Any], ranking: Ranking, kind: str) -> list[Any]:
    score = {h.document.name: h.score for h in ranking.hits if h.document.kind == kind}
    key = "term" if kind == "glossary" else "name"
    return sorted(items, key=lambda i: -score.get(getattr(i, key), 0.0))


def _columns_in(catalog: Catalog, sql: str, default: str | None = None) -> list[tuple[str, str]]:
    """(table, column) pairs an expression reads; unqualified columns belong to ``default``."""
    try:
        tree = sqlglot.parse_one(sql, read=catalog.dialect)
    except sqlglot.errors.SqlglotError:
        return []
    pairs = []
    for column in tree.find_all(exp.Column):
        table = column.table or default
        if table:
            pairs.append((table, column.name))
    return pairs


def _key_columns(catalog: Catalog, table: Table) -> set[str]:
    """Columns always worth describing: keys, join keys, time, sampling weight."""
    keys = set(table.primary_key)
    for rel in table.relationships:
        keys.update(c for t, c in _columns_in(catalog, rel.on) if t == table.name)
    if table.freshness and table.freshness.column:
        keys.add(table.freshness.column)
    if table.sampling and table.sampling.weight_column:
        keys.add(table.sampling.weight_column)
    return keys


def _without_lineage(table: Table) -> Table:
    return table.model_copy(update={"lineage": None})

