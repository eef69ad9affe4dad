"""A small runner for planner eval files (evals/demo.yaml): plan each question, compare results.

Results are compared as multisets of rows, in order only when the gold SQL's outermost query has
ORDER BY, with columns matched by their values (names and order do not matter) and numbers equal
within a relative tolerance. The full eval suite (``skipper eval``) builds on the same files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import permutations
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.clock import FixedClock
from skipper.planner.planner import CatalogPlanner
from skipper.planner.query import SemanticQuery

Row = tuple[Any, ...]
TOLERANCE = 1e-6


@dataclass
class Outcome:
    id: str
    question: str
    expect: str
    status: str
    correct: bool
    sql: str | None = None
    gold_sql: str | None = None
    why: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def rate(self, answerable: bool) -> float:
        chosen = [o for o in self.outcomes if (o.expect == "answer") == answerable]
        return sum(o.correct for o in chosen) / len(chosen) if chosen else 1.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    def describe_failures(self) -> str:
        lines = []
        for o in self.failures:
            lines.append(f"- {o.id}: {o.question!r} expected {o.expect}, got {o.status}: {o.why}")
            if o.sql:
                lines.append("    planned: " + " ".join(o.sql.split()))
        return "\n".join(lines)


def run_file(
    path: str | Path,
    database: str | Path,
    *,
    check: Callable[[str], None] | None = None,
) -> Report:
    """Run every case of an eval file against ``database`` (already built at the file's as_of).

    ``check`` is called with each planned SQL before it runs (e.g. the guard), and may raise.
    """
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    catalog = Catalog.load((Path(path).parent / spec["catalog"]).resolve())
    as_of = spec["as_of"] if isinstance(spec["as_of"], date) else date.fromisoformat(spec["as_of"])
    planner = CatalogPlanner(catalog, FixedClock(as_of))
    report = Report()
    with duckdb.connect(str(database), read_only=True) as connection:
        for case in spec["cases"]:
            previous: SemanticQuery | None = None
            turns = [case, *case.get("turns", [])]
            for number, turn in enumerate(turns):
                case_id = case["id"] if number == 0 else f"{case['id']}#{number}"
                outcome, previous = _run_turn(case_id, turn, planner, connection, previous, check)
                report.outcomes.append(outcome)
    return report


def _run_turn(
    case_id: str,
    turn: dict[str, Any],
    planner: CatalogPlanner,
    connection: duckdb.DuckDBPyConnection,
    previous: SemanticQuery | None,
    check: Callable[[str], None] | None,
) -> tuple[Outcome, SemanticQuery | None]:
    expect = turn.get("expect", "answer")
    plan = planner.plan(turn["question"], previous=previous)
    outcome = Outcome(case_id, turn["question"], expect, plan.status, False, plan.sql,
                      turn.get("gold_sql"), plan.message)
    if expect != "answer":
        outcome.correct = plan.status == "cannot_answer"
        return outcome, plan.semantic_query
    if plan.status != "ok" or plan.sql is None:
        return outcome, previous
    try:
        if check is not None:
            check(plan.sql)
        predicted = connection.execute(plan.sql).fetchall()
        gold = connection.execute(turn["gold_sql"]).fetchall()
    except Exception as error:  # noqa: BLE001 - any failure is a wrong answer, reported
        outcome.why = f"{type(error).__name__}: {error}"
        return outcome, plan.semantic_query
    outcome.correct = same_result(gold, predicted, ordered=is_ordered(turn["gold_sql"]))
    if not outcome.correct:
        outcome.why = f"gold {_preview(gold)} vs planned {_preview(predicted)}"
    return outcome, plan.semantic_query


def is_ordered(sql: str) -> bool:
    """Whether the outermost query of ``sql`` has ORDER BY."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return isinstance(tree, exp.Query) and tree.args.get("order") is not None


def same_result(gold: Sequence[Row], predicted: Sequence[Row], *, ordered: bool) -> bool:
    """Equal results: some matching of columns makes the rows equal as multisets (or lists)."""
    if len(gold) != len(predicted):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if any(len(r) != width for r in predicted):
        return False
    gold_rows = [tuple(_normal(v) for v in r) for r in gold]
    predicted_rows = [tuple(_normal(v) for v in r) for r in predicted]
    options = [
        [j for j in range(width) if _column_matches(gold_rows, predicted_rows, i, j)]
        for i in range(width)
    ]
    if any(not o for o in options):
        return False
    for order in permutations(range(width)):
        if not all(order[i] in options[i] for i in range(width)):
            continue
        aligned = [tuple(r[j] for j in order) for r in predicted_rows]
        if _rows_equal(gold_rows, aligned, ordered=ordered):
            return True
    return False


def _column_matches(gold: list[Row], predicted: list[Row], i: int, j: int) -> bool:
    left = sorted((r[i] for r in gold), key=_sort_key)
    right = sorted((r[j] for r in predicted), key=_sort_key)
    return all(_close(a, b) for a, b in zip(left, right, strict=True))


def _rows_equal(gold: list[Row], predicted: list[Row], *, ordered: bool) -> bool:
    if ordered:
        return all(_row_close(a, b) for a, b in zip(gold, predicted, strict=True))
    left = sorted(gold, key=lambda r: tuple(_sort_key(v) for v in r))
    right = sorted(predicted, key=lambda r: tuple(_sort_key(v) for v in r))
    if all(_row_close(a, b) for a, b in zip(left, right, strict=True)):
        return True
    remaining = list(predicted)  # float noise can reorder a sort: match greedily
    for row in gold:
        match = next((k for k, other in enumerate(remaining) if _row_close(row, other)), None)
        if match is None:
            return False
        remaining.pop(match)
    return True


def _row_close(a: Row, b: Row) -> bool:
    return all(_close(x, y) for x, y in zip(a, b, strict=True))


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=1e-9)
    return bool(a == b)


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (Decimal, int, float)):
        return float(value)
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def _preview(rows: Sequence[Row], limit: int = 3) -> str:
    shown = [tuple(_normal(v) for v in r) for r in rows[:limit]]
    more = f" ... ({len(rows)} rows)" if len(rows) > limit else f" ({len(rows)} rows)"
    return str(shown) + more
