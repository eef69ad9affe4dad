"""Planned results checked against gold SQL by the eval suite's own rules (skipper.evals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skipper.evals.gold import GoldDatabase, reference_for
from skipper.evals.scoring import DEFAULT_TOLERANCE, Reference, compare

SHOWN_ROWS = 5


def assert_matches_gold(gold: GoldDatabase, gold_sql: str, rows: Sequence[Sequence[Any]], *,
                        columns: Sequence[str] | None = None, context: str = "") -> Reference:
    """Assert that ``rows`` answer ``gold_sql`` correctly, as ``skipper eval`` would score them.

    Spider semantics (``skipper.evals.scoring``): the same multiset of rows under some order of
    the columns, numbers equal within the default tolerance, and the gold's row order when its
    outermost query has ORDER BY (rows tied on every ORDER BY key may come in any order). Returns
    the gold's reference, so a test can also check the gold itself (e.g. that it has rows).
    """
    reference = reference_for(gold, gold_sql, tolerance=DEFAULT_TOLERANCE)
    verdict = compare(reference, rows, predicted_columns=columns, tolerance=DEFAULT_TOLERANCE)
    assert verdict.correct, "\n".join(part for part in (
        context,
        f"{verdict.reason} (gold {'ordered' if reference.ordered else 'unordered'})",
        f"only in gold ({verdict.only_in_gold_count}): {verdict.only_in_gold[:SHOWN_ROWS]}",
        f"only in planned ({verdict.only_in_predicted_count}): "
        f"{verdict.only_in_predicted[:SHOWN_ROWS]}",
        f"gold {reference.rows[:SHOWN_ROWS]}",
        f"planned {list(rows[:SHOWN_ROWS])}",
    ) if part)
    return reference
