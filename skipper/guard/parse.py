"""Reading SQL text into sqlglot trees, once, with limits so hostile input fails cleanly."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from skipper.errors import ParseError, TooComplexError

MAX_SQL_CHARS = 50_000
MAX_DEPTH = 400


class _QuietCommandFallback(logging.Filter):
    """Drop sqlglot's warnings about statements it parses as a Command or cannot scope: the
    guard refuses or handles those itself, so the warnings would only be noise in the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Falling back to parsing as a 'Command'" not in message and (
            not message.startswith("Cannot traverse scope")
        )


_sqlglot_logger = logging.getLogger("sqlglot")
if not any(isinstance(f, _QuietCommandFallback) for f in _sqlglot_logger.filters):
    _sqlglot_logger.addFilter(_QuietCommandFallback())


def parse_statements(
    sql: str, dialect: str, *, max_chars: int = MAX_SQL_CHARS, max_depth: int = MAX_DEPTH
) -> list[exp.Expression]:
    """Every statement of ``sql`` (empty ones and lone semicolons dropped), or a ParseError."""
    if not isinstance(sql, str):
        raise ParseError(f"SQL must be text, not {type(sql).__name__}")
    if len(sql) > max_chars:
        raise TooComplexError(
            f"the query is {len(sql):,} characters long; the limit is {max_chars:,}. "
            "Ask for less at once, or split the question.",
            length=len(sql),
            limit=max_chars,
        )
    try:
        parsed = sqlglot.parse(sql, read=dialect)
    except RecursionError:
        raise too_deep_error() from None
    except SqlglotError as error:
        raise ParseError(
            f"the SQL does not parse ({first_line(error)}); write one valid {dialect} query",
        ) from None
    except Exception as error:  # sqlglot raises plain errors on some malformed input
        raise ParseError(f"the SQL does not parse ({type(error).__name__})") from None
    statements = [
        s for s in parsed if isinstance(s, exp.Expression) and not isinstance(s, exp.Semicolon)
    ]
    if not statements:
        raise ParseError("the SQL is empty; write one SELECT query")
    for statement in statements:
        if tree_depth(statement) > max_depth:
            raise too_deep_error()
    return statements


def tree_depth(tree: exp.Expr) -> int:
    """The deepest nesting of the tree, counted without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def too_deep_error() -> TooComplexError:
    return TooComplexError(
        "the query is nested too deeply to check safely; flatten it (use CTEs instead of "
        "deeply nested subqueries or expressions)"
    )


def first_line(error: SqlglotError) -> str:
    """The first line of a sqlglot error, with its position when sqlglot gives one."""
    details = getattr(error, "errors", None) or []
    if details and details[0].get("description"):
        first = details[0]
        where = f" at line {first['line']}, column {first['col']}" if first.get("line") else ""
        return f"{first['description']}{where}"
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    return first_line.split(". Line:")[0]
