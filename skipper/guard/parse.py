"""Reading SQL text into sqlglot trees, once, with limits so hostile input fails cleanly.

The work is bounded before sqlglot parses anything: its tokenizer is linear, but its parser is
not (each subscript of ``x[1][1]...`` costs more than the one before), so the tokens are counted
and their nesting measured first, and only text within every limit is parsed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from skipper.errors import ParseError, TooComplexError

MAX_SQL_CHARS = 50_000
MAX_TOKENS = 5_000
MAX_NESTING = 64
MAX_CHAIN = 32
MAX_DEPTH = 400
MAX_SECONDS = 0.5


@dataclass(frozen=True)
class Limits:
    """How much SQL the guard reads; past any limit it refuses with ``sql.too_complex``.

    ``chars``, ``tokens``, ``nesting`` and ``chain`` are measured on the text and its tokens
    before parsing, ``depth`` on the parsed tree. ``seconds`` is the CPU time budget of parsing
    and running the rules (``TimeBudget``).
    """

    chars: int = MAX_SQL_CHARS
    tokens: int = MAX_TOKENS
    nesting: int = MAX_NESTING
    chain: int = MAX_CHAIN
    depth: int = MAX_DEPTH
    seconds: float = MAX_SECONDS


LIMITS = Limits()


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
    sql: str, dialect: str, limits: Limits = LIMITS
) -> list[exp.Expression]:
    """Every statement of ``sql`` (empty ones and lone semicolons dropped), or a ParseError
    (a TooComplexError when the text is past ``limits``)."""
    try:
        reader = Dialect.get_or_raise(dialect)
        tokens = read_tokens(sql, reader, limits)
        parsed = reader.parser().parse(tokens, sql)
    except (ParseError, TooComplexError):
        raise
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
        if tree_depth(statement) > limits.depth:
            raise too_deep_error()
    return statements


def read_tokens(sql: str, reader: Dialect, limits: Limits = LIMITS) -> list[Token]:
    """The tokens of ``sql``, once its length, token count, nesting and chains are within
    ``limits`` (a TooComplexError naming what to simplify otherwise)."""
    if not isinstance(sql, str):
        raise ParseError(f"SQL must be text, not {type(sql).__name__}")
    if len(sql) > limits.chars:
        raise TooComplexError(
            f"the query is {len(sql):,} characters long; the limit is {limits.chars:,}. "
            "Ask for less at once, or split the question.",
            length=len(sql),
            limit=limits.chars,
        )
    tokens = reader.tokenize(sql)
    if len(tokens) > limits.tokens:
        raise TooComplexError(
            f"the query is {len(tokens):,} tokens long (names, numbers, strings, symbols); the "
            f"limit is {limits.tokens:,}. Ask for less at once, or split the question.",
            tokens=len(tokens),
            limit=limits.tokens,
        )
    shape = token_shape(tokens)
    if shape.nesting > limits.nesting:
        raise TooComplexError(
            f"the query nests brackets, subqueries or CASE expressions {shape.nesting:,} deep; "
            f"the limit is {limits.nesting}. Flatten it: use CTEs instead of deeply nested "
            "subqueries or expressions.",
            nesting=shape.nesting,
            limit=limits.nesting,
        )
    if shape.chain > limits.chain:
        raise TooComplexError(
            f"the query applies {shape.chain:,} subscripts, casts, field accesses, arrows or "
            f"method calls in a row to one value; the limit is {limits.chain}. Simplify that "
            "expression.",
            chain=shape.chain,
            limit=limits.chain,
        )
    return tokens


@dataclass(frozen=True)
class TokenShape:
    """What the tokens say about the tree sqlglot would build, measured in one linear pass."""

    nesting: int
    """The most brackets (``( [ {``) and CASE expressions open at once."""
    chain: int
    """The longest run of postfix operations on one value: ``x[1][2]``, ``x::INT::TEXT``,
    ``s.a.b``, ``j->'a'->>'b'``, ``x.upper().lower()`` (each nests the tree one level)."""


_OPENS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE})
_CLOSES = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
_POSTFIX = frozenset({
    TokenType.DOT, TokenType.DCOLON, TokenType.ARROW, TokenType.DARROW, TokenType.HASH_ARROW,
    TokenType.DHASH_ARROW, TokenType.DOTCOLON, TokenType.DCOLONDOLLAR, TokenType.DCOLONPERCENT,
    TokenType.DCOLONQMARK, TokenType.QDCOLON,
})
_OPERANDS = frozenset({
    TokenType.VAR, TokenType.IDENTIFIER, TokenType.NUMBER, TokenType.STAR, TokenType.PARAMETER,
    TokenType.PLACEHOLDER, TokenType.STRING, TokenType.BIT_STRING, TokenType.HEX_STRING,
    TokenType.BYTE_STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING,
    TokenType.NATIONAL_RAW_STRING, TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING,
    *Parser.TYPE_TOKENS,
})
"""Tokens that can end a value a postfix operation applies to (with closing brackets)."""
_IN_CHAIN = _OPERANDS | (_OPENS - {TokenType.CASE}) | _CLOSES
"""Tokens that do not end a chain: the value's own tokens and brackets (whose insides are
measured at their own level); any other token (a comma, an operator, a keyword) ends it."""


def token_shape(tokens: Sequence[Token]) -> TokenShape:
    """The nesting and longest postfix chain of ``tokens``, without parsing them."""
    deepest = longest = 0
    chains = [0]  # the current chain's length at each open bracket level
    previous: TokenType | None = None
    for token in tokens:
        kind = token.token_type
        if kind in _POSTFIX or (kind == TokenType.L_BRACKET and (
                previous in _OPERANDS or previous in _CLOSES)):
            chains[-1] += 1  # a postfix operator, or a subscript of the value before it
            longest = max(longest, chains[-1])
        elif kind not in _IN_CHAIN and previous not in _POSTFIX:
            chains[-1] = 0  # the name after ``.`` or the type after ``::`` is part of it
        if kind in _OPENS:
            chains.append(0)
            deepest = max(deepest, len(chains) - 1)
        elif kind in _CLOSES and len(chains) > 1:
            chains.pop()
        previous = kind
    return TokenShape(nesting=deepest, chain=longest)


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


class TimeBudget:
    """The CPU time one check may spend, counted from its start: ``check()`` raises
    ``sql.too_complex`` once it is spent. The guard calls it between rules, and rules call it
    inside work that can grow faster than the query (lineage through a long CTE chain).

    It counts the checking thread's CPU time, not the clock's: a busy machine, other threads or
    a first use that loads a module slow the check down but are not work the query asked for,
    so they do not turn the same query into a refusal.
    """

    def __init__(self, seconds: float = math.inf) -> None:
        self.seconds = seconds
        self.ends = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.ends:
            raise TooComplexError(
                f"the query took more than {self.seconds:g} s to check, so it is not run; "
                "simplify it (fewer CTEs, subqueries, joins or columns, shorter lists)",
                seconds=self.seconds,
            )


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
