"""Matching result rows: cells normalised across types, numbers within a tolerance, and
multisets of rows paired one to one (the building blocks of ``skipper.evals.scoring``)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Row = tuple[Any, ...]

# How many pairwise comparisons the inexact row matcher may spend: bounds pathological results.
INEXACT_BUDGET = 200_000


# ---- values --------------------------------------------------------------------------------


class _Nan:
    """One NaN that equals itself, so NaN cells can be counted like any other value."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Nan)

    def __hash__(self) -> int:
        return hash("NaN")

    def __repr__(self) -> str:
        return "NaN"


NAN = _Nan()


@dataclass(frozen=True)
class _Flag:
    """A boolean that does not compare equal to the numbers 0 and 1."""

    value: bool

    def __repr__(self) -> str:
        return "true" if self.value else "false"


def normalize_value(value: Any) -> Any:
    """The canonical, hashable form of one result cell (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _Flag(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return NAN
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return NAN
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if value.time() == dt.time(0):
            return value.date()
        return value
    if isinstance(value, (dt.date, dt.time, dt.timedelta, bytes)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return tuple((str(k), normalize_value(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(normalize_value(v) for v in value)
    return str(value)


def normalize_rows(rows: Sequence[Sequence[Any]]) -> list[Row]:
    return [tuple(normalize_value(v) for v in row) for row in rows]


def is_number(value: Any) -> bool:
    # Normalised cells never hold bools (they become _Flag), so a type check is enough.
    return type(value) in (int, float)


def values_close(a: Any, b: Any, tolerance: float) -> bool:
    """Equality of two normalised cells, with the numeric tolerance of the module docstring."""
    if a == b:
        return True
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            return False
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))
    return False


def rows_close(a: Row, b: Row, tolerance: float) -> bool:
    if len(a) != len(b):
        return False
    return all(values_close(x, y, tolerance) for x, y in zip(a, b, strict=True))


def _inexact_key(row: Row) -> Row:
    """The parts of a row that must match exactly even under tolerance (numbers blanked)."""
    return tuple(None if is_number(v) else v for v in row)


# ---- multisets -----------------------------------------------------------------------------


def unmatched(big: Sequence[Row], small: Sequence[Row], tolerance: float
               ) -> tuple[list[Row], list[Row]]:
    """Rows of ``big`` and of ``small`` left over after pairing equal rows one to one.

    Exact pairs are taken first (hashing). Only rows holding fractional numbers can still pair
    within tolerance; those are paired among rows that agree on every non-numeric cell, first by
    walking both sides in sorted order, then greedily (with a budget) for what is left.
    """
    counts = Counter(big)
    rest_small: list[Row] = []
    for row in small:
        if counts[row] > 0:
            counts[row] -= 1
        else:
            rest_small.append(row)
    rest_big: list[Row] = []
    for row in big:
        if counts[row] > 0:
            counts[row] -= 1
            rest_big.append(row)
    if not rest_small or not rest_big or tolerance <= 0 or not (
            has_fraction(rest_small) or has_fraction(rest_big)):
        return rest_big, rest_small
    big_groups: dict[Row, list[Row]] = {}
    for row in rest_big:
        big_groups.setdefault(_inexact_key(row), []).append(row)
    small_groups: dict[Row, list[Row]] = {}
    for row in rest_small:
        small_groups.setdefault(_inexact_key(row), []).append(row)
    left_big: list[Row] = []
    left_small: list[Row] = []
    budget = INEXACT_BUDGET
    one_number = all(len(row) == 1 for row in rest_small)
    for key, bigs in big_groups.items():
        smalls = small_groups.pop(key, [])
        bigs, smalls = _merge(bigs, smalls, tolerance)
        if one_number:  # the sorted walk is already the best pairing in one dimension
            left_big.extend(bigs)
            left_small.extend(smalls)
            continue
        for row in smalls:
            match = None
            for i, other in enumerate(bigs[: max(0, budget)]):
                if rows_close(row, other, tolerance):
                    match = i
                    break
            budget -= len(bigs) if match is None else match + 1
            if match is None:
                left_small.append(row)
            else:
                del bigs[match]
        left_big.extend(bigs)
    for smalls in small_groups.values():
        left_small.extend(smalls)
    return left_big, left_small


def has_fraction(rows: Sequence[Row]) -> bool:
    return any(isinstance(value, float) for row in rows for value in row)


def _numeric_order(row: Row) -> tuple[tuple[int, float], ...]:
    return tuple((1, float(v)) if is_number(v) else (0, 0.0) for v in row)


def _merge(bigs: list[Row], smalls: list[Row], tolerance: float) -> tuple[list[Row], list[Row]]:
    """Pair rows within tolerance by walking both sides in numeric order (exact in one
    dimension); return what stays unpaired on each side."""
    big_keys = sorted((_numeric_order(row), n) for n, row in enumerate(bigs))
    small_keys = sorted((_numeric_order(row), n) for n, row in enumerate(smalls))
    left_big: list[Row] = []
    left_small: list[Row] = []
    i = j = 0
    while i < len(big_keys) and j < len(small_keys):
        big, small = bigs[big_keys[i][1]], smalls[small_keys[j][1]]
        if rows_close(big, small, tolerance):
            i += 1
            j += 1
        elif big_keys[i][0] < small_keys[j][0]:
            left_big.append(big)
            i += 1
        else:
            left_small.append(small)
            j += 1
    left_big.extend(bigs[n] for _, n in big_keys[i:])
    left_small.extend(smalls[n] for _, n in small_keys[j:])
    return left_big, left_small


def multiset_equal(a: Sequence[Row], b: Sequence[Row], tolerance: float) -> bool:
    if len(a) != len(b):
        return False
    _, left = unmatched(a, b, tolerance)
    return not left


def multiset_includes(big: Sequence[Row], small: Sequence[Row], tolerance: float) -> bool:
    """Every row of ``small`` pairs with its own row of ``big``."""
    if len(small) > len(big):
        return False
    _, left = unmatched(big, small, tolerance)
    return not left


def distinct(rows: Sequence[Row]) -> list[Row]:
    return list(dict.fromkeys(rows))
