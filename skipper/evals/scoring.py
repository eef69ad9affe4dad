"""Execution accuracy: does a predicted result equal the gold result, under stated semantics.

Two semantics, both run on plain Python rows (what DuckDB and Arrow return):

``spider`` (the default) follows the Spider test-suite evaluation (Zhong et al., 2020):

* The results must have the same number of columns. Column names are ignored, and so is column
  order: the prediction is correct when *some* permutation of its columns makes it equal to the
  gold. (Candidates are found column by column first, so wide results stay cheap; at most
  ``PERMUTATION_BUDGET`` full assignments are tried.)
* Rows are a **multiset**: duplicates count, so a prediction that loses a row, or repeats one,
  is wrong even when the set of distinct rows is right.
* Row order matters only when the gold is *ordered* (its outermost query has ``ORDER BY``).
  Then the prediction must list the same rows in the gold's order, where rows that tie on every
  ``ORDER BY`` key may come in any order among themselves (``tie blocks``). When ``LIMIT`` cuts
  through a group of tied rows, any of the tied rows may fill the remaining places
  (``tail_pool``): "the top 1 customer" with two customers tied is answered correctly by either.
  Spider's own script compares ordered results strictly position by position; we are more
  lenient only where the SQL itself leaves the order undefined.
* Both results empty counts as a match, whatever the columns (as in Spider's and BIRD's scripts).
* A case's ``ordered: true|false`` overrides the ORDER BY rule; written-out ``expected_rows`` are
  unordered unless the case says ``ordered: true`` (then strictly, row by row).

``skipper.evals.gold`` finds the tie blocks: ORDER BY keys that are output columns (by name,
position or expression; ``ORDER BY ALL``) are read from the gold's rows, other keys are appended
to a copy of the gold as extra columns, and a LIMIT is lifted on that copy until the group of
rows tied with the last one ends. The copy must reproduce the gold (checked by scoring the gold
against its own reference); when it does not, or keys cannot be read (a set operation ordered by
an expression), order is compared strictly and the case notes say so.

``bird`` follows BIRD's evaluation (Li et al., 2023): ``set(predicted) == set(gold)`` over row
tuples. Duplicates and row order are ignored; column order is *not* (no permutation matching).
Numbers still compare within the tolerance; set ``tolerance: 0`` for BIRD's exact equality.

A gold that draws an unseeded random sample (``USING SAMPLE`` / ``TABLESAMPLE`` without a seed)
has no single right answer; its reference carries the ``population`` the sample is drawn from,
and any prediction whose rows are a sub-multiset of that population (under some column
permutation) is correct; under ``bird``, a subset of it (columns in the gold's order).

Values are compared after normalisation (``skipper.evals.matching.normalize_value``):

* ``NULL`` equals ``NULL``; ``NaN`` equals ``NaN``.
* Numbers compare by value across types: ``DECIMAL 1.50`` equals ``DOUBLE 1.5``, and
  ``BIGINT 3`` equals ``DOUBLE 3.0``. Booleans are not numbers (``true`` differs from ``1``).
* Two integers (including integral decimals and floats) compare exactly. When either side has a
  fractional part they are equal when ``|a - b| <= tolerance * max(1, |a|, |b|)``: relative for
  large magnitudes, absolute below one (so a float sum of ``5.5e-17`` still equals ``0``). The
  default tolerance is ``1e-6``; ``0`` demands exact equality. Tolerance applies to top-level
  cells; numbers inside lists and structs compare exactly.
* A timestamp at midnight equals the date of that day (``DATE`` vs ``TIMESTAMP`` spellings of
  the same day); time-zone-aware timestamps compare in UTC. Strings compare exactly (case and
  spaces matter). Lists, structs and maps compare element by element.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from skipper.evals.matching import (
    Row,
    distinct,
    is_number,
    multiset_equal,
    multiset_includes,
    normalize_rows,
    unmatched,
    values_close,
)

Semantics = Literal["spider", "bird"]
SEMANTICS: tuple[Semantics, ...] = ("spider", "bird")
DEFAULT_TOLERANCE = 1e-6

# How many full column assignments the permutation search tries before giving up.
PERMUTATION_BUDGET = 200
DIFF_ROWS = 20


@dataclass(frozen=True)
class Reference:
    """What a correct answer looks like: the gold rows and the freedom the gold SQL leaves.

    ``blocks`` (ordered golds only) are half-open ranges of ``rows`` whose members tie on every
    ``ORDER BY`` key; ``None`` means every row is its own block (strict order). ``tail_pool`` holds
    every row tied with the last block when ``LIMIT`` cut that group short. ``population`` is set
    for sampled golds: the rows the sample is drawn from.
    """

    columns: list[str]
    rows: list[Row]
    ordered: bool = False
    blocks: list[tuple[int, int]] | None = None
    tail_pool: list[Row] | None = None
    population: list[Row] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    """The outcome of comparing one prediction with its reference, with a readable reason."""

    correct: bool
    reason: str
    permutation: tuple[int, ...] | None = None
    only_in_gold: list[Row] = field(default_factory=list)
    only_in_predicted: list[Row] = field(default_factory=list)
    only_in_gold_count: int = 0
    only_in_predicted_count: int = 0


# ---- one alignment -------------------------------------------------------------------------


def _project(rows: Sequence[Row], columns: Sequence[int]) -> list[Row]:
    return [tuple(row[i] for i in columns) for row in rows]


Check = Callable[[Sequence[int], Sequence[int]], bool]


class _Column:
    """One result column's values, summarised for fast multiset comparison."""

    def __init__(self, values: list[Any]) -> None:
        self.counts = Counter(values)
        self.size = len(values)
        numbers = [v for v in values if is_number(v)]
        self.fractional = any(isinstance(v, float) for v in numbers)
        self.others = Counter(v for v in values if not is_number(v))
        self.numbers = sorted(float(v) for v in numbers) if self.fractional else None

    def matches(self, other: _Column, tolerance: float) -> bool | None:
        """Equal as multisets (numbers within tolerance)? None when only a slow check can say."""
        if self.size != other.size:
            return False
        if self.counts == other.counts:
            return True
        if not (self.fractional or other.fractional) or tolerance <= 0:
            return False
        if self.others != other.others:
            return False
        mine = self.numbers if self.numbers is not None else sorted(
            float(v) for v in self.counts.elements() if is_number(v))
        theirs = other.numbers if other.numbers is not None else sorted(
            float(v) for v in other.counts.elements() if is_number(v))
        # In one dimension, pairing both sides in sorted order is the best pairing there is.
        return all(values_close(a, b, tolerance) for a, b in zip(mine, theirs, strict=True))


def _spider_check(reference: Reference, gold: list[Row], predicted: list[Row],
                  tail_pool: list[Row] | None, population: list[Row] | None,
                  tolerance: float) -> Check:
    """``check(gold_columns, predicted_columns)``: do the results agree on these columns?"""

    columns: dict[tuple[str, int], _Column] = {}

    def column(side: str, rows: list[Row], index: int) -> _Column:
        if (side, index) not in columns:
            columns[side, index] = _Column([row[index] for row in rows])
        return columns[side, index]

    def check(gold_cols: Sequence[int], pred_cols: Sequence[int]) -> bool:
        if len(gold_cols) == 1 and not reference.ordered and population is None:
            # One column of an unordered result: a cheap, cached comparison of its values.
            verdict = column("gold", gold, gold_cols[0]).matches(
                column("predicted", predicted, pred_cols[0]), tolerance)
            if verdict is not None:
                return verdict
        pred = _project(predicted, pred_cols)
        if population is not None:
            return multiset_includes(_project(population, gold_cols), pred, tolerance)
        ref = _project(gold, gold_cols)
        if len(ref) != len(pred):
            return False
        if not reference.ordered:
            return multiset_equal(ref, pred, tolerance)
        blocks = reference.blocks or [(i, i + 1) for i in range(len(ref))]
        for number, (start, end) in enumerate(blocks):
            if number == len(blocks) - 1 and tail_pool is not None:
                if not multiset_includes(_project(tail_pool, gold_cols), pred[start:end],
                                         tolerance):
                    return False
            elif not multiset_equal(ref[start:end], pred[start:end], tolerance):
                return False
        return True

    return check


def _permutations(candidates: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Assignments of distinct predicted columns to gold columns, identity-first."""
    chosen: list[int] = []
    used: set[int] = set()

    def walk(i: int) -> Iterator[tuple[int, ...]]:
        if i == len(candidates):
            yield tuple(chosen)
            return
        for j in candidates[i]:
            if j not in used:
                chosen.append(j)
                used.add(j)
                yield from walk(i + 1)
                chosen.pop()
                used.discard(j)

    return walk(0)


class _ColumnFits:
    """Which predicted columns match each gold column on their own (computed once, lazily)."""

    def __init__(self, width: int, check: Check) -> None:
        self.width = width
        self.check = check
        self._fits: dict[int, list[int]] = {}

    def of(self, i: int) -> list[int]:
        if i not in self._fits:
            fits = [j for j in range(self.width) if self.check((i,), (j,))]
            # The gold's own position first: the natural alignment is the likeliest.
            self._fits[i] = [i] + [j for j in fits if j != i] if i in fits else fits
        return self._fits[i]


def _align(width: int, check: Check, fits: _ColumnFits) -> tuple[int, ...] | None:
    """A permutation of predicted columns under which ``check`` passes, or None."""
    identity = tuple(range(width))
    if check(identity, identity):
        return identity
    candidates: list[list[int]] = []
    for i in range(width):
        if not fits.of(i):
            return None
        candidates.append(fits.of(i))
    for permutation in itertools.islice(_permutations(candidates), PERMUTATION_BUDGET):
        if permutation != identity and check(identity, permutation):
            return permutation
    return None


def _best_effort_alignment(width: int, fits: _ColumnFits) -> tuple[int, ...]:
    """For the diff of a wrong answer: pair columns that match on their own, else keep order."""
    used: set[int] = set()
    out: list[int] = []
    for i in range(width):
        pick = next((j for j in fits.of(i) if j not in used), None)
        out.append(-1 if pick is None else pick)
        if pick is not None:
            used.add(pick)
    free = iter(j for j in range(width) if j not in used)
    return tuple(j if j >= 0 else next(free) for j in out)


# ---- the comparison ------------------------------------------------------------------------


def compare(
    reference: Reference,
    predicted_rows: Sequence[Sequence[Any]],
    *,
    predicted_columns: Sequence[str] | None = None,
    semantics: Semantics = "spider",
    tolerance: float = DEFAULT_TOLERANCE,
) -> Verdict:
    """Compare a predicted result with the reference under ``semantics`` (module docstring)."""
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r}; use one of {', '.join(SEMANTICS)}")
    gold = normalize_rows(reference.rows)
    predicted = normalize_rows(predicted_rows)
    population = normalize_rows(reference.population) if reference.population is not None else None
    tail_pool = normalize_rows(reference.tail_pool) if reference.tail_pool is not None else None
    if not gold and not predicted and population is None:
        return Verdict(True, "both results are empty")
    gold_width = _width(gold or population or []) or len(reference.columns)
    pred_width = _width(predicted) or len(predicted_columns or ())
    if gold_width != pred_width:
        return _diff(
            Verdict(False, f"the gold result has {gold_width} column(s), the prediction "
                           f"{pred_width}"),
            gold, predicted, None, tolerance)
    if semantics == "bird":
        identity = tuple(range(gold_width))
        if population is not None:
            if multiset_includes(distinct(population), distinct(predicted), tolerance):
                return Verdict(True, "every predicted row comes from the sampled population",
                               permutation=identity)
            verdict = _diff(Verdict(False, "some predicted rows are not in the sampled "
                                           "population"),
                            distinct(population), distinct(predicted), identity, tolerance)
            verdict.only_in_gold, verdict.only_in_gold_count = [], 0
            return verdict
        if multiset_equal(distinct(gold), distinct(predicted), tolerance):
            return Verdict(True, "same set of rows", permutation=identity)
        return _diff(Verdict(False, "the sets of rows differ (BIRD semantics)"),
                     distinct(gold), distinct(predicted), identity, tolerance)
    check = _spider_check(reference, gold, predicted, tail_pool, population, tolerance)
    fits = _ColumnFits(gold_width, check)
    permutation = _align(gold_width, check, fits)
    if permutation is not None:
        if population is not None:
            reason = "every predicted row comes from the sampled population"
        elif reference.ordered:
            reason = "same rows in the same order"
        else:
            reason = "same multiset of rows"
        if permutation != tuple(range(gold_width)):
            reason += " (columns in another order)"
        return Verdict(True, reason, permutation=permutation)
    alignment = _best_effort_alignment(gold_width, fits)
    reason = _why(reference, gold, predicted, population, alignment, tolerance)
    verdict = _diff(Verdict(False, reason), population if population is not None else gold,
                    predicted, alignment, tolerance)
    if population is not None:
        # Population rows the sample skipped are not mistakes; only strays are.
        verdict.only_in_gold, verdict.only_in_gold_count = [], 0
    return verdict


def _width(rows: Sequence[Row]) -> int:
    return len(rows[0]) if rows else 0


def _why(reference: Reference, gold: list[Row], predicted: list[Row],
         population: list[Row] | None, alignment: tuple[int, ...], tolerance: float) -> str:
    if population is not None:
        return "some predicted rows are not in the population the gold samples from"
    if len(gold) != len(predicted):
        return f"the gold result has {len(gold)} row(s), the prediction {len(predicted)}"
    aligned = _project(predicted, alignment)
    if reference.ordered and multiset_equal(gold, aligned, tolerance):
        return "same rows, but not in the gold's ORDER BY order"
    return "same number of rows, but different values"


def _diff(verdict: Verdict, gold: Sequence[Row], predicted: Sequence[Row],
          alignment: tuple[int, ...] | None, tolerance: float) -> Verdict:
    """Fill in the rows only in gold and only in the prediction (multiset difference)."""
    if alignment is not None and predicted and len(alignment) == _width(predicted):
        predicted = _project(predicted, alignment)
    only_gold, only_pred = unmatched(gold, predicted, tolerance)
    verdict.only_in_gold_count = len(only_gold)
    verdict.only_in_predicted_count = len(only_pred)
    verdict.only_in_gold = only_gold[:DIFF_ROWS]
    verdict.only_in_predicted = only_pred[:DIFF_ROWS]
    verdict.permutation = alignment
    return verdict
