"""Mask expressions: what a classified column shows to a user whose groups do not unmask it."""

from __future__ import annotations

from sqlglot import exp

from skipper.catalog.models import Classification
from skipper.engine import MASK_HASH_FUNCTION

PARTIAL_FILL = "***"


def mask_expression(column: exp.Expr, classification: Classification, *,
                    type_: str | None) -> exp.Expr:
    """The SQL that stands in for ``column`` (never called for ``deny``: that column is hidden).

    ``hash`` calls the engine's salted hash function: the salt lives in the engine, so it is
    never in the SQL a user sees in the answer, the audit log or an error."""
    if classification.mask == "hash":
        return exp.Anonymous(this=MASK_HASH_FUNCTION, expressions=[column.copy()])
    text = exp.cast(column.copy(), exp.DataType.Type.VARCHAR)
    if classification.mask == "partial":
        start, end = classification.keep_start, classification.keep_end
        shown = exp.func(
            "concat",
            exp.func("left", text.copy(), exp.Literal.number(start)),
            exp.Literal.string(PARTIAL_FILL),
            exp.func("right", text.copy(), exp.Literal.number(end))
            if end
            else exp.Literal.string(""),
        )
        long_enough = exp.GT(this=exp.func("length", text.copy()),
                             expression=exp.Literal.number(2 * (start + end)))
        partial = exp.If(this=long_enough, true=shown, false=exp.Literal.string(PARTIAL_FILL))
        return _null_safe(column, partial)
    if classification.value is not None:
        return exp.Literal.string(classification.value)
    return exp.cast(exp.Null(), type_ or "VARCHAR")


def _null_safe(column: exp.Expr, masked: exp.Expr) -> exp.Expr:
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=column.copy(), expression=exp.Null()), true=exp.Null())],
        default=masked,
    )
