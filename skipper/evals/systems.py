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

Outcome = Literal["answer", "refused", "cannot_answer", "needs_clarification", "error",
                  "missing"]
# Not answering, either way: a question that needs clarifying is not answered (and, for a
# question the data cannot answer, asking which reading is meant is as good as declining).
DECLINES: tuple[Outcome, ...] = ("refused", "cannot_answer", "needs_clarification")


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
    semantic_query: Any = None  # what a follow-up question refines


class Conversation(Protocol):
    def ask(self, question: str, *, user: str | None) -> Response: ...


class System(Protocol):
    """Answers the questions of one case, turn by turn, with a Skipper on the case's target."""

    name: str

    def conversation(self, skipper: Any, case_id: str) -> Conversation: ...


def turn_key(case_id: str, turn: int) -> str:
    """The predictions-file key of a turn: the case id, then ``id#2``, ``id#3`` for follow-ups."""
    return case_id if turn == 1 else f"{case_id}#{turn}"


def _respond(call: Any, sql_of: str | None = None, audit: Any = None) -> Response:
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
    calls, tokens = llm_usage(answer, audit)
    status = getattr(answer, "status", "ok")
    if status in ("cannot_answer", "needs_clarification"):
        outcome: Outcome = "cannot_answer" if status == "cannot_answer" else "needs_clarification"
        return Response(outcome, sql=None, message=getattr(answer, "message", None),
                        latency_ms=latency, llm_calls=calls, llm_tokens=tokens)
    return Response(
        "answer", sql=answer.sql, columns=list(answer.columns), rows=list(answer.rows),
        row_count=answer.row_count, truncated=answer.truncated, latency_ms=latency,
        llm_calls=calls, llm_tokens=tokens,
        semantic_query=getattr(answer, "semantic_query", None),
    )


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def llm_usage(answer: Any, audit: Any = None) -> tuple[int, int]:
    """LLM calls and tokens an answer cost: the LLM planner records them in the audit
    record's ``extra["llm"]`` (``llm_calls``, ``total_tokens``). Zero when the answer did not
    come from a model (the catalog planner, a predictions file)."""
    planner = str(getattr(answer, "planner", None) or "")
    audit_id = getattr(answer, "audit_id", None)
    if audit is None or not audit_id or "llm" not in planner:
        return 0, 0
    try:
        stats = audit.get(audit_id).extra.get("llm") or {}
    except SkipperError:
        return 0, 0
    tokens = stats.get("total_tokens") or (
        (stats.get("prompt_tokens") or 0) + (stats.get("completion_tokens") or 0))
    return int(stats.get("llm_calls") or 0), int(tokens or 0)


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
    """A Skipper planner (``catalog``, ``llm`` or ``auto``; None for Skipper's default)
    answering through ``Skipper.ask``; each follow-up refines the previous turn's semantic query.
    """

    def __init__(self, planner: str | None = None) -> None:
        self.planner = planner
        self.name = f"planner:{planner or 'default'}"

    def conversation(self, skipper: Any, case_id: str) -> Conversation:
        return _PlannerConversation(self, skipper)


class _PlannerConversation:
    """Turns of one case through ``Skipper.ask``, each follow-up refining the last answer's
    semantic query (what ``Skipper.session()`` does, with the planner chosen)."""

    def __init__(self, planner: Planner, skipper: Any) -> None:
        self.planner = planner
        self.skipper = skipper
        self.previous: Any = None

    def ask(self, question: str, *, user: str | None) -> Response:
        options: dict[str, Any] = {"user": user}
        if self.planner.planner is not None:
            options["planner"] = self.planner.planner
        if self.previous is not None:
            options["previous"] = self.previous
        response = _respond(lambda: self.skipper.ask(question, **options),
                            audit=getattr(self.skipper, "audit", None))
        if response.semantic_query is not None:
            self.previous = response.semantic_query
        return response
