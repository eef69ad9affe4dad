"""What an eval run found, per turn and per case, and how it is written as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skipper.answer import json_value

SAMPLE_ROWS = 10


@dataclass
class TurnResult:
    """One question scored: what was expected, what the system did, and why it is (in)correct."""

    question: str
    expect: str
    outcome: str
    correct: bool
    reason: str
    predicted_sql: str | None = None
    gold_sql: str | None = None
    error: dict[str, str] | None = None
    gold_error: dict[str, str] | None = None
    latency_ms: float = 0.0
    llm_calls: int = 0
    llm_tokens: int = 0
    guard_passed: bool | None = None
    tables: list[str] = field(default_factory=list)
    gold_tables: list[str] = field(default_factory=list)
    gold_columns: list[str] = field(default_factory=list)
    gold_rows: list[tuple[Any, ...]] = field(default_factory=list)
    gold_row_count: int | None = None
    predicted_columns: list[str] = field(default_factory=list)
    predicted_rows: list[tuple[Any, ...]] = field(default_factory=list)
    predicted_row_count: int | None = None
    only_in_gold: list[tuple[Any, ...]] = field(default_factory=list)
    only_in_predicted: list[tuple[Any, ...]] = field(default_factory=list)
    only_in_gold_count: int = 0
    only_in_predicted_count: int = 0
    ordered: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "expect": self.expect,
            "outcome": self.outcome,
            "correct": self.correct,
            "reason": self.reason,
            "predicted_sql": self.predicted_sql,
            "gold_sql": self.gold_sql,
            "error": self.error,
            "gold_error": self.gold_error,
            "latency_ms": self.latency_ms,
            "llm_calls": self.llm_calls,
            "llm_tokens": self.llm_tokens,
            "guard_passed": self.guard_passed,
            "tables": self.tables,
            "gold_tables": self.gold_tables,
            "ordered": self.ordered,
            "gold": _result(self.gold_columns, self.gold_rows, self.gold_row_count),
            "predicted": _result(self.predicted_columns, self.predicted_rows,
                                 self.predicted_row_count),
            "diff": {
                "only_in_gold": _rows(self.only_in_gold),
                "only_in_gold_count": self.only_in_gold_count,
                "only_in_predicted": _rows(self.only_in_predicted),
                "only_in_predicted_count": self.only_in_predicted_count,
            },
            "notes": self.notes,
        }


def _rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [[json_value(v) for v in row] for row in rows]


def _result(columns: list[str], rows: list[tuple[Any, ...]], count: int | None
            ) -> dict[str, Any] | None:
    if count is None:
        return None
    return {"columns": columns, "rows": _rows(rows[:SAMPLE_ROWS]), "row_count": count}


@dataclass
class CaseResult:
    """A case: correct when every one of its turns is."""

    id: str
    db: str
    tags: list[str]
    user: str | None
    turns: list[TurnResult]
    line: int | None = None

    @property
    def correct(self) -> bool:
        return all(turn.correct for turn in self.turns)

    @property
    def first(self) -> TurnResult:
        return self.turns[0]

    @property
    def failed_turn(self) -> TurnResult | None:
        return next((turn for turn in self.turns if not turn.correct), None)

    def to_dict(self) -> dict[str, Any]:
        first = self.first
        out: dict[str, Any] = {
            "id": self.id,
            "correct": self.correct,
            "outcome": first.outcome,
            "expect": first.expect,
            "question": first.question,
            "tags": self.tags,
            "db": self.db,
            "user": self.user,
            "line": self.line,
        }
        out.update({k: v for k, v in first.to_dict().items() if k not in out})
        out["latency_ms"] = round(sum(turn.latency_ms for turn in self.turns), 3)
        if len(self.turns) > 1:
            out["turns"] = [turn.to_dict() for turn in self.turns]
        return out
