"""The LLM planner: retrieval, then a short tool loop, ending in SQL that the guard accepted."""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skipper.catalog import Catalog
from skipper.catalog.models import VerifiedQuery
from skipper.clock import Clock
from skipper.errors import LLMError, LLMGaveUpError, LLMResponseError, LLMTimeoutError
from skipper.llm.client import ChatClient, Completion, ToolCall, Usage
from skipper.llm.config import LLMConfig
from skipper.llm.context import ContextBuilder
from skipper.llm.prompt import Prompts, default_prompts
from skipper.llm.retrieval import EVERYTHING, CatalogIndex, Visibility
from skipper.llm.tokens import TokenCounter, default_counter
from skipper.llm.tools import RunSQL, Toolbox, ToolResult
from skipper.planner import CatalogPlanner, Plan, SemanticQuery

MAX_EXPLANATION_CHARS = 1000


@dataclass
class LLMStats:
    """What one question cost: the audit record's ``extra["llm"]``."""

    model: str
    endpoint: str
    prompt_version: str
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0
    attempts: int = 0
    tool_calls: Counter[str] = field(default_factory=Counter)
    repairs: int = 0
    refusals: int = 0
    context_tokens: int = 0
    context_tables: list[str] = field(default_factory=list)
    token_counter: str = ""
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "endpoint": self.endpoint,
            "prompt_version": self.prompt_version,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
            "llm_calls": self.llm_calls,
            "http_attempts": self.attempts,
            "tool_calls": dict(self.tool_calls),
            "tool_call_count": sum(self.tool_calls.values()),
            "repairs": self.repairs,
            "refusals": self.refusals,
            "context_tokens": self.context_tokens,
            "context_tables": self.context_tables,
            "token_counter": self.token_counter,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass
class LLMResult:
    plan: Plan
    stats: LLMStats


class LLMPlanner:
    """Plans a question with a model over any OpenAI-compatible endpoint.

    The model sees only retrieved catalog entries the user may see, and can act only through
    the four tools; every SQL text it writes reaches the database through ``run`` (the guard).
    Refusals and errors go back to it for repair, within ``max_steps`` model calls, ``max_refusals``
    refused queries and ``wall_time_s`` seconds; past a bound it ends with a typed LLMError.
    """

    name = "llm"

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        chat: ChatClient,
        catalog_planner: CatalogPlanner,
        *,
        config: LLMConfig | None = None,
        prompts: Prompts | None = None,
        counter: TokenCounter | None = None,
        examples: Sequence[VerifiedQuery] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.chat = chat
        self.config = config or chat.config
        self.catalog_planner = catalog_planner
        self.prompts = prompts or default_prompts()
        self.counter = counter or default_counter()
        self.index = CatalogIndex(catalog, examples)
        self.builder = ContextBuilder(catalog, self.index, self.prompts, self.counter)
        self.cache: dict[tuple[str, ...], Any] = {}
        self._monotonic = monotonic

    @classmethod
    def build(
        cls,
        option: LLMPlanner | ChatClient | LLMConfig,
        catalog: Catalog,
        clock: Clock,
        catalog_planner: CatalogPlanner,
        *,
        examples: Sequence[VerifiedQuery] = (),
    ) -> LLMPlanner:
        """A planner from a resolved ``Skipper(llm=...)`` option: a planner is used as is, a
        config or client is wrapped (``skipper.llm.build_planner`` resolves False/None/True)."""
        if isinstance(option, LLMPlanner):
            return option
        chat = option if isinstance(option, ChatClient) else ChatClient(option)
        return cls(catalog, clock, chat, catalog_planner, examples=examples)

    def remember(self, examples: Sequence[VerifiedQuery]) -> None:
        """Use these verified question→SQL pairs as examples from now on."""
        self.index.set_examples(examples)

    def first_messages(
        self, question: str, *, visibility: Visibility = EVERYTHING,
        previous: SemanticQuery | None = None,
    ) -> tuple[list[dict[str, Any]], Any]:
        """The system and user messages that open a conversation, and the context inside."""
        context = self.builder.build(question, budget=self.config.token_budget,
                                     visibility=visibility)
        system = self.prompts.render("system.j2", catalog_name=self.catalog.name,
                                     dialect=self.catalog.dialect, today=self.clock.today())
        user = self.prompts.render(
            "question.j2", question=question, context=context.text,
            previous=previous.model_dump_json(exclude_defaults=True) if previous else None)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], context

    def plan(
        self,
        question: str,
        *,
        run: RunSQL,
        user: str | None = None,
        previous: SemanticQuery | None = None,
        visibility: Visibility = EVERYTHING,
    ) -> LLMResult:
        started = self._monotonic()
        deadline = started + self.config.wall_time_s
        stats = LLMStats(model=self.config.model, endpoint=self.config.url,
                         prompt_version=self.prompts.version, token_counter=self.counter.name)
        try:
            return self._plan(question, run, user, previous, visibility, deadline, stats)
        except LLMError as error:
            stats.latency_ms = (self._monotonic() - started) * 1000
            error.details["llm"] = stats.to_dict()
            raise
        finally:
            stats.latency_ms = (self._monotonic() - started) * 1000

    def _plan(
        self,
        question: str,
        run: RunSQL,
        user: str | None,
        previous: SemanticQuery | None,
        visibility: Visibility,
        deadline: float,
        stats: LLMStats,
    ) -> LLMResult:
        messages, context = self.first_messages(question, visibility=visibility,
                                                previous=previous)
        stats.context_tokens = context.tokens
        stats.context_tables = context.tables
        tools = Toolbox(self.catalog, self.index, self.builder, self.prompts,
                        self.catalog_planner.plan_query, run, visibility, self.cache,
                        cache_key=f"{user or ''}|{self.catalog.version}")
        malformed_in_a_row = 0
        for _step in range(self.config.max_steps):
            if self._monotonic() >= deadline:
                raise LLMTimeoutError(f"no answer within the wall time of "
                                      f"{self.config.wall_time_s:g}s; raise "
                                      f"LLMConfig.wall_time_s or ask a narrower question")
            completion = self.chat.complete(messages, self.prompts.tools, deadline=deadline)
            stats.llm_calls += 1
            stats.attempts += completion.attempts
            stats.usage.add(completion.usage)
            messages.append(completion.as_message())
            results = self._results(completion, tools, stats)
            for call, result in results:
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": result.content})
            stats.refusals = tools.refusals
            final = next((r.final for _, r in results if r.final is not None), None)
            if final is not None:
                return LLMResult(self._plan_of(question, final), stats)
            if tools.refusals >= self.config.max_refusals:
                raise LLMGaveUpError(
                    f"the model kept writing SQL the guard refused ({tools.refusals} times; "
                    f"last: {tools.last_refusal}); nothing it wrote was executed. Rephrase the "
                    f"question in the catalog's terms, or use planner='catalog'.",
                    code="llm.refused_sql")
            if not results or any(r.outcome == "malformed" for _, r in results):
                malformed_in_a_row += 1
                stats.repairs += 1
                if malformed_in_a_row > 1:
                    raise LLMResponseError(
                        "the model answered twice in a row without a usable tool call "
                        f"(model {self.config.model}); it may not support tool calling",
                        code="llm.bad_response")
                if not results:
                    messages.append({"role": "user", "content": tools.malformed(
                        "you answered without calling a tool.").content})
            else:
                malformed_in_a_row = 0
                stats.repairs += sum(r.outcome in ("refused", "failed", "suspicious")
                                     for _, r in results)
        raise LLMGaveUpError(
            f"the model did not reach an answer in {self.config.max_steps} steps; nothing "
            f"unchecked was executed. Ask a narrower question, or raise LLMConfig.max_steps.",
            code="llm.step_limit")

    def _results(
        self, completion: Completion, tools: Toolbox, stats: LLMStats
    ) -> list[tuple[ToolCall, ToolResult]]:
        results = []
        for call in completion.tool_calls:
            stats.tool_calls[call.name or "?"] += 1
            arguments = _arguments(call.arguments)
            if arguments is None:
                result = tools.malformed(f"the arguments of {call.name or 'the call'} are not a "
                                         "JSON object.")
            else:
                result = tools.call(call.name, arguments)
            results.append((call, result))
        return results

    def _plan_of(self, question: str, final: Any) -> Plan:
        explanation = untrusted_text(final.explanation)
        if not final.answerable:
            return Plan(status="cannot_answer", question=question, planner=self.name,
                        message=explanation or "The model found no way to answer this from "
                                               "the catalog.")
        return Plan(status="ok", question=question, planner=self.name, sql=final.sql,
                    semantic_query=final.semantic_query, message=explanation)


def _arguments(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def untrusted_text(text: str) -> str:
    """Model prose made safe to show: control characters out, whitespace tidied, length cut."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " "
                      for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > MAX_EXPLANATION_CHARS:
        cleaned = cleaned[: MAX_EXPLANATION_CHARS - 1].rstrip() + "…"
    return cleaned
