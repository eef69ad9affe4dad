"""The catalog planner: a plain-English question -> SemanticQuery -> SQL, with no model.

It understands a question only in the catalog's own words. When a word maps to nothing, or to
two things it cannot tell apart, it says so (``cannot_answer``) and suggests the closest catalog
terms; it never runs SQL for a question it did not fully understand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.clock import Clock
from skipper.errors import PlannerError, SkipperError
from skipper.planner.compiler import Compiler
from skipper.planner.grammar import DATA_OBJECTS, FOLLOW_UP_CUES
from skipper.planner.interpretation import interpret
from skipper.planner.query import SemanticQuery
from skipper.planner.reader import Intent, Reader
from skipper.planner.resolution import Resolver
from skipper.planner.scanner import scan
from skipper.planner.summary import describe, summarize
from skipper.planner.terms import Terms
from skipper.planner.vocabulary import Meaning, Vocabulary
from skipper.planner.words import fold_accents, tokens


class Plan(BaseModel):
    """What a planner made of a question: a query to run, or why it cannot answer."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "cannot_answer", "needs_clarification"]
    question: str
    planner: str = "catalog"
    semantic_query: SemanticQuery | None = None
    sql: str | None = None
    message: str = ""
    suggestions: list[str] = Field(default_factory=list)
    unknown_words: list[str] = Field(default_factory=list)
    corrections: list[str] = Field(default_factory=list, description="Typos read as catalog words.")
    verified_query: bool = Field(
        default=False, description="Answered by a verified query of the catalog."
    )
    interpretation: str | None = Field(
        default=None, description="The question as understood: what, exact dates, filters, "
                                  "breakdowns, ordering.")
    choices: list[str] = Field(
        default_factory=list,
        description="For needs_clarification: rephrasings, one per reading, each answerable "
                    "as is.")


class CatalogPlanner:
    """Plans questions against one catalog; ``clock`` says what "today" is."""

    name = "catalog"

    def __init__(
        self, catalog: Catalog, clock: Clock,
        values: dict[tuple[str, str], list[str]] | None = None,
    ) -> None:
        """``values``: distinct values of text columns read from the data
        (skipper.planner.values), so names the catalog does not list still map."""
        self.catalog = catalog
        self.clock = clock
        self.terms = Terms(catalog)
        self.compiler = Compiler(catalog, self.terms)
        self.vocabulary = Vocabulary(catalog, self.terms, values or {})
        self._verified = {
            _normalise(q.question): q for q in catalog.verified_queries
        }

    # ---- planning -----------------------------------------------------------------------
    def plan(self, question: str, previous: SemanticQuery | None = None) -> Plan:
        """Understand ``question`` (refining ``previous``, the last turn's query, if given).

        A question with two readings the catalog cannot settle comes back
        ``needs_clarification`` with each reading rephrased as a question that plans as is."""
        return self._plan(question, previous, clarify=True)

    def _plan(self, question: str, previous: SemanticQuery | None, *, clarify: bool) -> Plan:
        words = tokens(question)
        if not words:
            return self._cannot(question, "Ask a question about the data, e.g. "
                                f"'{self._example()}'.")
        verified = self._verified.get(_normalise(question))
        if verified is not None and previous is None:
            said = (f"The catalog's verified query for '{verified.question}'"
                    + (f", verified by {verified.verified_by}" if verified.verified_by else "")
                    + ".")
            return Plan(status="ok", question=question, sql=verified.sql, verified_query=True,
                        message=f"Answered with the catalog's verified query for "
                                f"'{verified.question}'.",
                        interpretation=said)
        scanned = scan(question, self.vocabulary, self.clock.today(), words)
        corrections = [f"{typo} -> {fixed}" for typo, fixed in scanned.corrections]
        reader = Reader(scanned.items, self._is_time, self._is_entity,
                        [w.text for w in scanned.words])
        reader.is_average = self._is_average
        reader.is_boolean = lambda meaning: (meaning.kind == "dimension"
                                             and self.terms.dimension(meaning.name).kind
                                             == "boolean")
        reader.distinct_column = self._distinct_column
        intent = reader.read()
        refusal = self._refusal(intent, [w.text for w in scanned.words], previous)
        if refusal is not None:
            return refusal.model_copy(update={"question": question, "corrections": corrections})
        if intent.unknown:
            return self._not_understood(question, intent.unknown, corrections)
        if intent.problems:
            cannot = self._cannot(question, _sentence(intent.problems[0]),
                                  corrections=corrections)
            if clarify and intent.readings:
                return self._clarify(cannot, previous, *intent.readings[0])
            return cannot
        if previous is not None:
            _keep_previous_metric(intent)
        elif _only_refines(intent, [w.text for w in scanned.words]):
            return self._cannot(
                question, "This reads like a follow-up ('only …', 'by …', 'what about …'), but "
                "there is no earlier question in this conversation to refine; ask the whole "
                f"question, e.g. '{self._example()}'.", corrections=corrections)
        followup = previous is not None and _is_followup(intent, scanned.words[0].text)
        resolver = Resolver(self.catalog, self.terms, self.compiler.graph, self.vocabulary,
                            self.clock.today())
        try:
            query = resolver.build(intent, previous if followup else None)
        except PlannerError as error:
            cannot = self._cannot(question, _sentence(error.message), corrections=corrections,
                                  suggestions=list(error.details.get("suggestions", [])))
            reading = error.details.get("reading")
            if clarify and reading is not None:
                return self._clarify(cannot, previous, *reading)
            return cannot
        except ValidationError as error:
            problem = error.errors()[0]["msg"].removeprefix("Value error, ")
            return self._cannot(question, _sentence(problem), corrections=corrections)
        unit = self._unit_problem(query, intent.units)
        if unit is not None:
            return self._cannot(question, unit, corrections=corrections)
        if followup and previous is not None and query == previous:
            return self._cannot(
                question, "I read nothing in this follow-up that changes the previous question "
                "(a word I skip as filler may be what you meant); ask the whole question.",
                corrections=corrections)
        future = _after_today(query, self.clock.today())
        if future is not None:
            return self._cannot(question, future, corrections=corrections)
        return self.plan_query(query, question=question, corrections=corrections,
                               notes=resolver.notes)

    def plan_query(
        self, query: SemanticQuery, *, question: str = "", corrections: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> Plan:
        """Compile a semantic query (from this planner, the LLM planner or a person)."""
        try:
            sql = self.compile(query)
        except SkipperError as error:
            return self._cannot(question, _sentence(error.message), corrections=list(corrections),
                                query=query)
        today = self.clock.today()
        message = describe(query, self.catalog, self.terms, today)
        reading = interpret(query, self.catalog, self.terms, today, list(notes))
        if corrections:
            read = f" (read {', '.join(repr(c) for c in corrections)})"
            message += read
            reading += read
        return Plan(status="ok", question=question, semantic_query=query, sql=sql,
                    message=message, corrections=list(corrections), interpretation=reading)

    def compile(self, query: SemanticQuery) -> str:
        tree = self.compiler.compile(query, self.clock.today())
        return tree.sql(dialect=self.catalog.dialect, pretty=True, copy=False)  # a fresh tree

    def summarize(
        self, plan: Plan, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int
    ) -> str:
        """One sentence, in words, saying what the result shows."""
        return summarize(plan.semantic_query, self.catalog, self.terms, self.clock.today(),
                         list(columns), [list(r) for r in rows], row_count)

    # ---- asking which reading is meant -----------------------------------------------------
    def _clarify(
        self, cannot: Plan, previous: SemanticQuery | None, words: str, phrases: list[str]
    ) -> Plan:
        """Each reading of ``words`` as the question rephrased; those that plan are offered."""
        choices: list[str] = []
        planned: set[str] = set()
        for phrase in phrases:
            choice = rephrase(cannot.question, words, phrase)
            if choice is None or choice in choices:
                continue
            plan = self._plan(choice, previous, clarify=False)
            if plan.status == "ok" and plan.sql is not None and plan.sql not in planned:
                planned.add(plan.sql)
                choices.append(choice)
        if len(choices) < 2:
            return cannot  # one reading left or none: still not the question asked, decline
        return cannot.model_copy(update={
            "status": "needs_clarification",
            "message": cannot.message,  # each surface asks "Which did you mean?"
            "choices": choices,
        })

    # ---- refusing -----------------------------------------------------------------------
    def _refusal(
        self, intent: Intent, words: list[str], previous: SemanticQuery | None
    ) -> Plan | None:
        verb = intent.change_verb
        if verb is None and intent.removal_verb is not None:
            touches_data = any(w in DATA_OBJECTS for w in words)
            if previous is None or touches_data:
                verb = intent.removal_verb
        if verb is None:
            return None
        return Plan(
            status="cannot_answer", question="",
            message=(f"Skipper only reads data and cannot {verb} anything: this question asks "
                     "to change data or the database. Ask a question about the data instead, "
                     f"e.g. '{self._example()}'."),
            unknown_words=[verb],
            suggestions=self.vocabulary.headline_terms(3),
        )

    def _not_understood(self, question: str, unknown: list[str], corrections: list[str]) -> Plan:
        suggestions: list[str] = []
        for word in unknown:
            for term in self.vocabulary.suggest(word):
                if term not in suggestions:
                    suggestions.append(term)
        if not suggestions:
            suggestions = self.vocabulary.headline_terms()
        quoted = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown))
        plural = "s" if len(set(unknown)) > 1 else ""
        message = (
            f"I did not understand the word{plural} {quoted}: the catalog has no metric, "
            f"dimension, value or segment by that name. Closest catalog terms: "
            f"{', '.join(suggestions)}."
        )
        return Plan(status="cannot_answer", question=question, message=message,
                    unknown_words=list(dict.fromkeys(unknown)), suggestions=suggestions,
                    corrections=corrections)

    def _cannot(
        self,
        question: str,
        message: str,
        *,
        corrections: list[str] | None = None,
        suggestions: list[str] | None = None,
        query: SemanticQuery | None = None,
    ) -> Plan:
        return Plan(status="cannot_answer", question=question, message=message,
                    suggestions=suggestions or [], corrections=corrections or [],
                    semantic_query=query)

    def _example(self) -> str:
        metric = self.catalog.metrics[0] if self.catalog.metrics else None
        if metric is None:
            return "how many rows ...?"
        return f"{(metric.label or metric.name).lower()} in the last 7 days"

    # ---- what a meaning is --------------------------------------------------------------
    def _is_time(self, meaning: Meaning) -> bool:
        return meaning.kind == "dimension" and self.terms.is_time(meaning.name)

    def _unit_problem(self, query: SemanticQuery, units: list[str]) -> str | None:
        """"in days": only where the metric says it is in days (the catalog has no unit
        conversions, and a figure in the wrong unit is a wrong answer)."""
        for unit in units:
            singular = unit.removesuffix("s")
            said = " ".join(
                f"{m.label} {m.name} {m.source.description} {m.source.format}".lower()
                for m in (self.terms.metric(name) for name in query.metrics))
            said = said.replace("usd", "usd dollars").replace("percent", "percent")
            if singular not in said:
                return (f"The catalog does not say the figure is in {unit}, and Skipper does "
                        "not convert units; ask without 'in " + unit + "'.")
        return None

    def _is_average(self, meaning: Meaning) -> bool:
        return meaning.kind == "metric" and isinstance(self.terms.metric(meaning.name).expr,
                                                       (exp.Avg, exp.Median))

    def _distinct_column(self, meaning: Meaning) -> str | None:
        """The column a dimension reads, for "how many distinct <dimension>"."""
        if meaning.kind != "dimension":
            return None
        dimension = self.terms.dimension(meaning.name)
        if dimension.column is None:
            return None
        return f"{dimension.table.name}.{dimension.column.name}"

    def _is_entity(self, meaning: Meaning) -> bool:
        if meaning.kind == "table":
            return True
        if meaning.kind == "metric":
            return self.terms.metric(meaning.name).entity_count
        return False


def rephrase(question: str, words: str, phrase: str) -> str | None:
    """``question`` with the first occurrence of ``words`` (as the planner read them: lower
    case, accents folded) replaced by ``phrase``; None when they cannot be found."""
    folded = fold_accents(question.lower())
    parts = [re.escape(w) for w in words.split()]
    pattern = re.compile(r"(?<![^\W_])" + r"[\W_]+".join(parts) + r"(?![^\W_])")
    found = pattern.search(folded)
    if found is None:
        return None
    source = question if len(folded) == len(question) else folded
    return source[:found.start()] + phrase + source[found.end():]


def _normalise(question: str) -> str:
    return " ".join(t.text for t in tokens(question) if t.text not in {",", ";"})


# Openings that continue a conversation ("and PM2.5?", "what about April?") and openings that
# narrow a question ("only business customers", "by carrier").
_CONTINUING = frozenset({"and", "also", "now", "then", "instead", "but", "same", "again", "plus",
                         "what about", "how about"})
_REFINING = frozenset({"only", "just", "by", "per", "except", "excluding", "without"})


def _only_refines(intent: Intent, words: list[str]) -> bool:
    """"only business customers", "by carrier please", "and PM2.5?" with nothing before: a
    refinement of a question that is not there (read alone it would be another question)."""
    if not words:
        return False
    pair = " ".join(words[:2])
    if pair in _CONTINUING or words[0] in _CONTINUING:
        return True
    if words[0] not in _REFINING:
        return False
    return not any(not m.weak for m in intent.metrics) and not intent.howmany


def _after_today(query: SemanticQuery, today: date) -> str | None:
    """A period that starts after today has no data yet: say so rather than answer 0."""
    compared = query.compare.range if query.compare else None
    for time_range, what in ((query.time_range, "The period"),
                             (compared, "The compared period")):
        if time_range is None:
            continue
        start, end = time_range.resolve(today)
        if start > today:
            return (f"{what} asked about ({start.isoformat()} to {end.isoformat()}) is after "
                    f"today ({today.isoformat()}): there is no data for it yet.")
    return None


def _keep_previous_metric(intent: Intent) -> None:
    """In a follow-up, "only enterprise accounts" filters the entity: 'accounts' names what
    'enterprise' filters, it does not replace the metric with an account count ("how many
    enterprise accounts" still asks for the count)."""
    if intent.howmany or not intent.metrics or not all(m.weak for m in intent.metrics):
        return
    filtered = {m.table for mention in [*intent.filters, *intent.segments]
                for m in mention.meanings}
    if filtered and all({m.table for m in mention.meanings} <= filtered
                        for mention in intent.metrics):
        intent.metrics = []


def _is_followup(intent: Intent, first_word: str) -> bool:
    return (
        not intent.metrics
        or first_word in FOLLOW_UP_CUES
        or intent.instead
        or intent.also
        or bool(intent.removals)
    )


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
