"""The model's four tools: search_catalog, describe_table, run_sql and final_answer.

Each has one job. Every SQL text — the model's or the introspection this module writes — goes
through ``run``, which guards, executes and audits it; nothing here touches the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlglot import exp

from skipper.answer import Answer, json_value
from skipper.catalog import Catalog
from skipper.catalog.models import Table
from skipper.errors import GuardError, SkipperError
from skipper.llm.context import ContextBuilder
from skipper.llm.prompt import Prompts, oneline
from skipper.llm.retrieval import EVERYTHING, CatalogIndex, Visibility
from skipper.planner import Plan, SemanticQuery

#: Runs one SQL text for a tool (its name is the second argument) and returns the Answer, or
#: raises the guard's or the engine's error. Skipper passes ``Skipper.sql``, so it is audited.
RunSQL = Callable[[str, str], Answer]

PREVIEW_ROWS = 10
MAX_CELL_CHARS = 80
DISTINCT_LIMIT = 25
DISTINCT_COLUMNS = 8
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR", "BOOLEAN", "BOOL")

Outcome = Literal["ok", "refused", "failed", "malformed", "suspicious", "final"]


@dataclass
class FinalAnswer:
    """What the model settled on: SQL (maybe compiled from a semantic query), or why not."""

    explanation: str
    sql: str | None = None
    semantic_query: SemanticQuery | None = None

    @property
    def answerable(self) -> bool:
        return self.sql is not None


@dataclass
class ToolResult:
    content: str
    outcome: Outcome = "ok"
    final: FinalAnswer | None = None


@dataclass
class Toolbox:
    """The tools for one question: one user's visibility, one run callable, shared caches."""

    catalog: Catalog
    index: CatalogIndex
    builder: ContextBuilder
    prompts: Prompts
    compile: Callable[[SemanticQuery], Plan]
    run: RunSQL
    visibility: Visibility = EVERYTHING
    cache: MutableMapping[tuple[str, ...], Any] = field(default_factory=dict)
    cache_key: str = ""
    investigated: bool = False
    refusals: int = 0
    last_refusal: str = ""

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        handler = {
            "search_catalog": self.search_catalog,
            "describe_table": self.describe_table,
            "run_sql": self.run_sql,
            "final_answer": self.final_answer,
        }.get(name)
        if handler is None:
            return self.malformed(f"there is no tool named {oneline(name, 60)!r}.")
        return handler(arguments)

    def malformed(self, message: str) -> ToolResult:
        return ToolResult(self.prompts.render("feedback.j2", kind="malformed", message=message,
                                              tools=self.prompts.tool_names), "malformed")

    # ---- search_catalog ----------------------------------------------------------------------
    def search_catalog(self, arguments: dict[str, Any]) -> ToolResult:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return self.malformed("search_catalog needs {\"query\": \"some words\"}.")
        ranking = self.index.search(query, visibility=self.visibility, limit=8)
        lines = ["Tables:"] if ranking.tables else ["Nothing matched; try other words."]
        for name, _ in ranking.tables:
            table = self.catalog.table(name)
            rows = self.cache.get(("rows", self.cache_key, name), table.row_count)
            count = f" ({rows:,} rows)" if rows is not None else ""
            lines.append(f"- {name}{count}: {oneline(table.label or table.description, 120)}")
        entries = [h for h in ranking.hits if h.document.kind != "table"][:10]
        if entries:
            lines.append("Matching entries:")
        for hit in entries:
            doc = hit.document
            where = f" (on {', '.join(doc.tables)})" if doc.kind != "column" else ""
            lines.append(f"- {doc.kind} {oneline(doc.name, 100)}{where}")
        return ToolResult("\n".join(lines))

    # ---- describe_table ----------------------------------------------------------------------
    def describe_table(self, arguments: dict[str, Any]) -> ToolResult:
        name = arguments.get("table")
        if not isinstance(name, str) or not name.strip():
            return self.malformed("describe_table needs {\"table\": \"name\"}.")
        table = self.catalog.find_table(name.strip().split(".")[-1])
        if table is None or not self.visibility.table(table.name):
            # The same words for a forbidden table as for a missing one: nothing is revealed.
            return ToolResult(self.prompts.render("feedback.j2", kind="unknown_table",
                                                  name=oneline(name, 60)), "failed")
        rows = self._row_count(table)
        text = self.builder.render_table(table, detail=0, visibility=self.visibility, rows=rows,
                                         distinct=self._distinct_values(table))
        metrics = [m for m in self.catalog.metrics if m.table == table.name
                   and self.builder.entry_visible(m, self.visibility)]
        dimensions = [d for d in self.catalog.dimensions if d.table == table.name
                      and self.builder.entry_visible(d, self.visibility)]
        segments = [s for s in self.catalog.segments if s.table == table.name
                    and self.builder.entry_visible(s, self.visibility)]
        semantics = self.builder.render_semantics(metrics=metrics, dimensions=dimensions,
                                                  segments=segments, glossary=[])
        return ToolResult(text + ("\n\n" + semantics if semantics else ""))

    def _row_count(self, table: Table) -> int | None:
        key = ("rows", self.cache_key, table.name)
        if key not in self.cache:
            sql = exp.select(exp.Count(this=exp.Star()).as_("n")).from_(table.name)
            answer = self._introspect(sql.sql(dialect=self.catalog.dialect))
            self.cache[key] = int(answer.rows[0][0]) if answer and answer.rows else None
        value = self.cache[key]
        return value if isinstance(value, int) else None

    def _distinct_values(self, table: Table) -> dict[str, str]:
        key = ("distinct", self.cache_key, table.name)
        if key in self.cache:
            return dict(self.cache[key])
        found: dict[str, str] = {}
        candidates = [c for c in table.columns
                      if c.values is None and not {"pii", "id"} & {t.lower() for t in c.tags}
                      and (c.type or "").upper().startswith(_TEXT_TYPES)
                      and self.visibility.column(table.name, c.name)][:DISTINCT_COLUMNS]
        for column in candidates:
            n = exp.Count(this=exp.Star())
            sql = (exp.select(exp.column(column.name).as_("value"), n.as_("n"))
                   .from_(table.name).group_by(exp.column(column.name))
                   .order_by(exp.Ordered(this=n.copy(), desc=True), exp.column(column.name))
                   .limit(DISTINCT_LIMIT + 1))
            answer = self._introspect(sql.sql(dialect=self.catalog.dialect))
            if answer is None:
                continue
            values = [json.dumps(oneline(json_value(v), 40)) for v, _ in answer.rows]
            if len(values) <= DISTINCT_LIMIT:
                found[column.name] = f"All values: {', '.join(values)}."
            else:
                found[column.name] = f"Over {DISTINCT_LIMIT} values; most common: " \
                                     f"{', '.join(values[:8])}."
        self.cache[key] = found
        return found

    def _introspect(self, sql: str) -> Answer | None:
        try:
            return self.run(sql, "describe_table")
        except SkipperError:
            return None  # a policy that hides it, a timeout: describe without it

    # ---- run_sql -----------------------------------------------------------------------------
    def run_sql(self, arguments: dict[str, Any]) -> ToolResult:
        sql = arguments.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return self.malformed("run_sql needs {\"sql\": \"SELECT ...\"}.")
        answer, failure = self._execute(sql, "run_sql")
        if failure is not None:
            return failure
        assert answer is not None
        warnings = suspicious(answer)
        if warnings:
            self.investigated = True
        return ToolResult(preview(answer, warnings))

    # ---- final_answer ------------------------------------------------------------------------
    def final_answer(self, arguments: dict[str, Any]) -> ToolResult:
        explanation = arguments.get("explanation", "")
        sql = arguments.get("sql")
        raw_query = arguments.get("semantic_query")
        if not isinstance(explanation, str):
            return self.malformed("final_answer's explanation must be a string.")
        if sql is not None and raw_query is not None:
            return self.malformed("give final_answer either sql or semantic_query, not both.")
        if sql is None and raw_query is None:
            return ToolResult("Noted: the question cannot be answered.", "final",
                              FinalAnswer(explanation=explanation))
        query: SemanticQuery | None = None
        if raw_query is not None:
            compiled = self._compile(raw_query)
            if isinstance(compiled, ToolResult):
                return compiled
            query, sql = compiled
        if not isinstance(sql, str) or not sql.strip():
            return self.malformed("final_answer's sql must be a non-empty string.")
        answer, failure = self._execute(sql, "final_answer")
        if failure is not None:
            return failure
        assert answer is not None
        warnings = suspicious(answer)
        if warnings and not self.investigated:
            self.investigated = True
            message = " ".join(warnings)
            return ToolResult(self.prompts.render("feedback.j2", kind="suspicious",
                                                  message=message), "suspicious")
        return ToolResult("Accepted.", "final",
                          FinalAnswer(explanation=explanation, sql=sql, semantic_query=query))

    def _compile(self, raw: Any) -> tuple[SemanticQuery, str] | ToolResult:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return self.malformed("semantic_query must be a JSON object.")
        try:
            query = SemanticQuery.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'semantic_query'}: {e['msg']}"
                for e in error.errors()[:3])
            return self._failed("planner.invalid_query", f"the semantic_query is invalid: "
                                f"{problems}.")
        plan = self.compile(query)
        if plan.status != "ok" or plan.sql is None:
            return self._failed("planner.cannot_compile", plan.message or "it does not compile.")
        return query, plan.sql

    def _execute(self, sql: str, tool: str) -> tuple[Answer | None, ToolResult | None]:
        try:
            return self.run(sql, tool), None
        except GuardError as error:
            self.refusals += 1
            self.last_refusal = f"{error.code}: {error.message}"
            return None, ToolResult(self.prompts.render(
                "feedback.j2", kind="refused", code=error.code, message=error.message), "refused")
        except SkipperError as error:
            return None, self._failed(error.code, error.message)

    def _failed(self, code: str, message: str) -> ToolResult:
        return ToolResult(self.prompts.render("feedback.j2", kind="failed", code=code,
                                              message=oneline(message, 600)), "failed")


def suspicious(answer: Answer) -> list[str]:
    """Why a result may be wrong: no rows at all, or a column that is NULL in every row."""
    if answer.row_count == 0:
        return ["The query returned no rows."]
    empty = [name for name, column in zip(answer.columns, answer.table.columns, strict=True)
             if column.null_count == len(column)]
    if empty:
        return [f"Column(s) {', '.join(empty)} are NULL in every returned row."]
    return []


def preview(answer: Answer, warnings: list[str]) -> str:
    """The first rows as JSON; every value is data, cut short, never instructions."""
    rows = [[_cell(v) for v in row] for row in answer.rows[:PREVIEW_ROWS]]
    body: dict[str, Any] = {"columns": answer.columns, "rows": rows, "row_count": answer.row_count}
    if answer.row_count > len(rows):
        body["note"] = f"showing {len(rows)} of {answer.row_count} rows"
    if answer.caveats:
        body["caveats"] = [oneline(c, 300) for c in answer.caveats]
    if warnings:
        body["warnings"] = warnings
    return json.dumps(body, ensure_ascii=False, default=str)


def _cell(value: Any) -> Any:
    value = json_value(value)
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[: MAX_CELL_CHARS - 1] + "…"
    return value
