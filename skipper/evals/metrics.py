"""The numbers of an eval run: accuracy, validity, refusals, table selection, latency, LLM cost.

Definitions (every rate is ``null`` when its denominator is zero):

* ``accuracy``: correct cases / cases; a case is correct when every turn is.
* ``answer_accuracy``: execution accuracy on turns that expect an answer (the system answered
  and the result matched the gold, see ``skipper.evals.scoring``); ``decline_accuracy``: share
  of turns that expect ``refused``/``cannot_answer`` where the system declined (either way).
* ``precision``: of the turns the system answered (returned rows), the share that were right —
  an answer to a question that expects a decline counts as wrong. ``1 - precision`` is the rate
  of confident wrong answers, the defect that matters most.
* ``validity``: of the answerable turns where the system produced SQL, the share the guard
  accepted (guard pass rate); ``execution_errors`` counts accepted SQL that then failed.
* ``refusal_precision`` / ``refusal_recall``: a *decline* is ``refused`` or ``cannot_answer``;
  precision = declines that were expected / all declines, recall = expected declines that
  happened / all expected declines.
* ``table_precision`` / ``table_recall``: micro-averaged over answerable turns with both a gold
  SQL and predicted SQL: tables read by both / tables the prediction read (precision), / tables
  the gold read (recall). Names are compared lower-case and unqualified; CTEs are not tables.
* ``latency_ms``: p50 and p95 (nearest rank) of the system's time per turn, guard and execution
  included; ``llm_calls_per_question`` / ``llm_tokens_per_question``: means over turns.
* ``by_tag``: cases, correct and accuracy per tag.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from skipper.evals.results import CaseResult, TurnResult
from skipper.evals.systems import DECLINES


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def summarize(cases: list[CaseResult]) -> dict[str, Any]:
    turns: list[TurnResult] = [turn for case in cases for turn in case.turns]
    answerable = [t for t in turns if t.expect == "answer"]
    declinable = [t for t in turns if t.expect != "answer"]
    with_sql = [t for t in answerable if t.guard_passed is not None]
    declined = [t for t in turns if t.outcome in DECLINES]
    answered = [t for t in turns if t.outcome == "answer"]
    scored_tables = [t for t in answerable if t.gold_sql and t.predicted_sql
                     and t.guard_passed is not None]
    shared = sum(len(set(t.tables) & set(t.gold_tables)) for t in scored_tables)
    predicted_tables = sum(len(t.tables) for t in scored_tables)
    gold_tables = sum(len(t.gold_tables) for t in scored_tables)
    latencies = [t.latency_ms for t in turns if t.outcome != "missing"]
    by_tag: dict[str, dict[str, Any]] = {}
    for case in cases:
        for tag in case.tags or ["(untagged)"]:
            entry = by_tag.setdefault(tag, {"cases": 0, "correct": 0})
            entry["cases"] += 1
            entry["correct"] += int(case.correct)
    for entry in by_tag.values():
        entry["accuracy"] = _rate(entry["correct"], entry["cases"])
    correct = sum(1 for case in cases if case.correct)
    return {
        "cases": len(cases),
        "correct": correct,
        "accuracy": _rate(correct, len(cases)),
        "turns": len(turns),
        "answerable": len(answerable),
        "answer_correct": sum(1 for t in answerable if t.correct),
        "answer_accuracy": _rate(sum(1 for t in answerable if t.correct), len(answerable)),
        "answered": len(answered),
        "answered_correct": sum(1 for t in answered if t.correct),
        "precision": _rate(sum(1 for t in answered if t.correct), len(answered)),
        "declinable": len(declinable),
        "decline_correct": sum(1 for t in declinable if t.correct),
        "decline_accuracy": _rate(sum(1 for t in declinable if t.correct), len(declinable)),
        "validity": _rate(sum(1 for t in with_sql if t.guard_passed), len(with_sql)),
        "execution_errors": sum(1 for t in turns if t.outcome == "error"),
        "gold_errors": sum(1 for t in turns if t.gold_error),
        "refusal_precision": _rate(sum(1 for t in declined if t.expect != "answer"),
                                   len(declined)),
        "refusal_recall": _rate(sum(1 for t in declinable if t.outcome in DECLINES),
                                len(declinable)),
        "table_precision": _rate(shared, predicted_tables),
        "table_recall": _rate(shared, gold_tables),
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "llm_calls_per_question": _rate(sum(t.llm_calls for t in turns), len(turns)),
        "llm_tokens_per_question": _rate(sum(t.llm_tokens for t in turns), len(turns)),
        "outcomes": dict(Counter(t.outcome for t in turns)),
        "by_tag": dict(sorted(by_tag.items())),
    }
