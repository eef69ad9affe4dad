"""How DuckDB compares names: case-insensitively for ASCII letters only.

DuckDB folds ``A``-``Z`` and nothing else, so ``"ÄX"`` names the table ``"Äx"`` but ``"äx"`` does
not, and ``"support_tic\\u212aets"`` (KELVIN SIGN) is not ``support_tickets``. Python's
``str.lower`` folds far more (U+212A to ``k``, U+0130 to ``i̇``), so two names Python calls
equal can be two relations to DuckDB. Every comparison of identifiers in the guard, the policy
and the catalog uses ``fold``, never ``lower``.
"""

from __future__ import annotations

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: str) -> str:
    """``name`` as DuckDB compares it: ASCII upper-case letters lowered, every other
    character (non-ASCII letters included) kept as it is."""
    return name.translate(_ASCII_LOWER)


def same(a: str, b: str) -> bool:
    """Whether DuckDB takes ``a`` and ``b`` for the same identifier."""
    return fold(a) == fold(b)
