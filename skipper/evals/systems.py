"""The systems under evaluation: a Skipper planner, or SQL predicted by any other tool.

Either way, SQL reaches the data only through ``Skipper.sql`` (guard, sandbox, audit), so a
prediction the guard refuses ends as ``refused`` and never runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from skipper.errors import EvalError, GuardError, SkipperError

Outcome = Literal["answer", "refused", "cannot_answer", "error", "missing"]
DECLINES: tuple[Outcome, ...] = ("refused", "cannot_answer")


@dataclass
class Response:
    """What the system did with one question."""

    outcome: Outcome
    sql: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None
    message: str | None = None
    latency_ms: float = 0.0
    llm_calls: int = 0
    llm_tokens: int = 0


class Conversation(Protocol):
    def ask(self, question: str, *, user: str | None) -> Response: ...


class System(Protocol):
    """Answers the questions of one case, turn by turn, with a Skipper on the case's target."""

    name: str

    def conversation(self, skipper: Any, case_id: str) -> Conversation: ...


def turn_key(case_id: str, turn: int) -> str:
    """The predictions-file key of a turn: the case id, then ``id#2``, ``id#3`` for follow-ups."""
    return case_id if turn == 1 else f"{case_id}#{turn}"


def _respond(call: Any, sql_of: Any = None) -> Response:
    """Run ``call()`` (returning an Answer) and turn what happens into a Response."""
    started = time.perf_counter()
    try:
        answer = call()
    except GuardError as error:
        return Response("refused", sql=sql_of, error={"code": error.code, "message": error.message},
                        latency_ms=_since(started))
    except SkipperError as error:
        return Response("error", sql=sql_of, error={"code": error.code, "message": error.message},
                        latency_ms=_since(started))
    except Exception as error:  # a crash of the system under test is its error, not the eval's
        return Response("error", sql=sql_of, latency_ms=_since(started), error={
            "code": "eval.system_crashed", "message": f"{type(error).__name__}: {error}"})
    latency = _since(started)
    calls, tokens = llm_usage(answer)
    if getattr(answer, "status", "ok") == "cannot_answer":
        return Response("cannot_answer", sql=None, message=getattr(answer, "message", None),
                        latency_ms=latency, llm_calls=calls, llm_tokens=tokens)
    return Response(
        "answer", sql=answer.sql, columns=list(answer.columns), rows=list(answer.rows),
        row_count=answer.row_count, truncated=answer.truncated, latency_ms=latency,
        llm_calls=calls, llm_tokens=tokens,
    )


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def llm_usage(answer: Any) -> tuple[int, int]:
    """LLM calls and tokens an answer cost, read from ``answer.usage`` (a mapping or object
    with ``llm_calls``/``calls`` and ``tokens``/``total_tokens`` or input + output tokens) or
    from ``answer.timings``; zero when the answer does not say (the catalog planner)."""
    for source in (getattr(answer, "usage", None), getattr(answer, "timings", None)):
        if source is None:
            continue
        get = source.get if isinstance(source, dict) else (
            lambda key, default=None, s=source: getattr(s, key, default))
        calls = get("llm_calls", None) or get("calls", None) or 0
        tokens = get("llm_tokens", None) or get("tokens", None) or get("total_tokens", None)
        if tokens is None:
            tokens = (get("input_tokens", 0) or 0) + (get("output_tokens", 0) or 0) + (
                get("prompt_tokens", 0) or 0) + (get("completion_tokens", 0) or 0)
        if calls or tokens:
            return int(calls), int(tokens)
    return 0, 0


# ---- predictions from another system --------------------------------------------------------


class Predictions:
    """SQL predicted by any system, as a JSON object ``{case_id: sql}``.

    A ``null`` value means the system declined to answer (``cannot_answer``); a case missing from
    the file ends as ``missing``. Follow-up turns use the keys ``<id>#2``, ``<id>#3``, …
    """

    name = "predictions"

    def __init__(self, predictions: dict[str, str | None], source: str = "predictions") -> None:
        self.predictions = predictions
        self.source = source

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise EvalError(f"cannot read the predictions file {path}: {error.strerror}",
                            code="eval.predictions_invalid") from None
        except json.JSONDecodeError as error:
            raise EvalError(f"{path}:{error.lineno}: the predictions file is not valid JSON "
                            f"({error.msg})", code="eval.predictions_invalid") from None
        if not isinstance(data, dict):
            raise EvalError(f"{path}: predictions must be a JSON object {{case_id: sql}}",
                            code="eval.predictions_invalid")
        for key, value in data.items():
            if value is not None and not isinstance(value, str):
                raise EvalError(f"{path}: the prediction for {key!r} must be SQL text or null",
                                code="eval.predictions_invalid")
        return cls(data, source=str(path))

    def conversation(self, skipper: Any, case_id: str) -> Conversation:
        return _PredictedConversation(self, skipper, case_id)


class _PredictedConversation:
    def __init__(self, predictions: Predictions, skipper: Any, case_id: str) -> None:
        self.predictions = predictions
        self.skipper = skipper
        self.case_id = case_id
        self.turn = 0

    def ask(self, question: str, *, user: str | None) -> Response:
        self.turn += 1
        key = turn_key(self.case_id, self.turn)
        if key not in self.predictions.predictions:
            return Response("missing", message=f"no prediction for {key!r}")
        sql = self.predictions.predictions[key]
        if sql is None or not sql.strip():
            return Response("cannot_answer", message="the system gave no SQL")
        response = _respond(
            lambda: self.skipper.sql(sql, user=user, question=question, planner="predictions"),
            sql_of=sql,
        )
        if response.outcome == "answer":
            response.sql = sql
        return response


# ---- a Skipper planner ------------------------------------------------------------------------


class Planner:
    """A Skipper planner (``catalog``, ``llm``, ``auto``) answering through ``Skipper.ask``;
    follow-ups go through one ``Skipper.session()`` per case.

    Where ``Skipper.ask`` is not available, the catalog planner is driven directly
    (``CatalogPlanner.plan`` then ``Skipper.sql``), follow-ups refining the previous turn's
    semantic query.
    """

    def __init__(self, planner: str | None = None) -> None:
        self.planner = planner
        self.name = f"planner:{planner or 'default'}"

    def conversation(self, skipper: Any, case_id: str) -> Conversation:
        if hasattr(skipper, "ask"):
            return _PlannerConversation(self, skipper)
        if self.planner not in (None, "catalog", "auto"):
            raise EvalError(f"the {self.planner} planner needs Skipper.ask, which this version "
                            "does not have; score a predictions file instead (--predictions)",
                            code="eval.no_planner")
        return _CatalogPlannerConversation(skipper)


class _PlannerConversation:
    def __init__(self, planner: Planner, skipper: Any) -> None:
        self.planner = planner
        self.skipper = skipper
        self.session: Any = None

    def ask(self, question: str, *, user: str | None) -> Response:
        options: dict[str, Any] = {"user": user}
        if self.planner.planner is not None:
            options["planner"] = self.planner.planner
        if self.session is None:
            self.session = self.skipper.session() if hasattr(self.skipper, "session") else None
        target = self.session if self.session is not None else self.skipper
        return _respond(lambda: target.ask(question, **options))


class _CatalogPlannerConversation:
    def __init__(self, skipper: Any) -> None:
        from skipper.planner import CatalogPlanner

        self.skipper = skipper
        self.planner = CatalogPlanner(skipper.catalog, skipper.clock)
        self.previous: Any = None

    def ask(self, question: str, *, user: str | None) -> Response:
        started = time.perf_counter()
        try:
            plan = self.planner.plan(question, previous=self.previous)
        except SkipperError as error:
            return Response("error", error={"code": error.code, "message": error.message},
                            latency_ms=_since(started))
        if plan.status != "ok" or not plan.sql:
            return Response("cannot_answer", message=plan.message, latency_ms=_since(started))
        self.previous = plan.semantic_query or self.previous
        sql = plan.sql
        response = _respond(lambda: self.skipper.sql(sql, user=user, question=question,
                                                     planner="catalog"), sql_of=sql)
        response.latency_ms = _since(started)
        return response
