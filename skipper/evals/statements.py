"""What a gold SQL statement is, read from its sqlglot tree: a plain read or not, which tables it
reads, whether its result is ordered, sampled or limited, and rewrites that expose those facts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from skipper.errors import GuardError
from skipper.guard import check_statement
from skipper.guard.functions import function_name
from skipper.guard.parse import parse_statements

DIALECT = "duckdb"


@dataclass(frozen=True)
class StatementKind:
    """``read`` is True for exactly one read query over tables; ``reason`` says why not."""

    read: bool
    reason: str = ""


def parse(sql: str, dialect: str = DIALECT) -> list[exp.Expression]:
    """Every statement of ``sql`` (empty ones and lone semicolons or comments dropped), read as
    the guard reads it, within its limits: a model's SQL the guard refused as too complex would
    keep sqlglot busy for minutes. Raises the guard's ParseError or TooComplexError."""
    return parse_statements(sql, dialect)


def parse_one(sql: str, dialect: str = DIALECT) -> exp.Expression | None:
    """The single statement of ``sql``, or None when it is not exactly one parsable statement."""
    try:
        trees = parse(sql, dialect)
    except GuardError:
        return None
    return trees[0] if len(trees) == 1 else None


def classify(sql: str, dialect: str = DIALECT) -> StatementKind:
    """Is ``sql`` one plain read query (SELECT / WITH / set operation / FROM-first / PIVOT /
    VALUES) that reads no table function, file or URL? The guard's own catalog-free rules
    decide (``skipper.guard.check_statement``), so what the evals expect a read-only agent to
    refuse is exactly what Skipper refuses; ``reason`` says why in a few words."""
    try:
        check_statement(sql, dialect)
    except GuardError as refusal:
        return StatementKind(False, _reason(sql, refusal, dialect))
    return StatementKind(True)


def _reason(sql: str, refusal: GuardError, dialect: str) -> str:
    details = refusal.details
    if "statement" in details:
        return f"{details['statement']} statement"
    if "statements" in details:
        return f"{details['statements']} statements"
    if "path" in details:
        path = str(details["path"])
        return f"reads the {'URL' if '://' in path else 'file'} {path!r}"
    if "function" in details:
        name = str(details["function"])
        return f"reads {_what_it_reads(sql, name, dialect)} through {name}()"
    if refusal.code in ("sql.parse_error", "sql.too_complex"):
        return f"cannot be parsed ({refusal.message})"
    return refusal.message


def _what_it_reads(sql: str, function: str, dialect: str) -> str:
    """"a URL" or "a file" when the table function is given one as a string, else what it is."""
    tree = parse_one(sql, dialect)
    calls = [] if tree is None else [
        node for node in tree.find_all(exp.Func) if function_name(node) == function]
    literal = next((lit.this for call in calls for lit in call.find_all(exp.Literal)
                    if lit.is_string), "")
    return "a URL" if "://" in literal else "a file" if literal else "a table function"


def tables_read(sql: str | exp.Expression, dialect: str = DIALECT) -> list[str]:
    """Names of the tables a query reads (lower-case, unqualified, CTE names left out)."""
    tree = parse_one(sql, dialect) if isinstance(sql, str) else sql
    if tree is None:
        return []
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        name = table.name.lower()
        if name and not (name in ctes and not table.db):
            names.add(name)
    return sorted(names)


# ---- ordering, limits and samples -----------------------------------------------------------


def outermost_query(tree: exp.Expression) -> exp.Expression:
    """The query whose clauses decide the result: parentheses around it removed."""
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return tree


def is_ordered(tree: exp.Expression) -> bool:
    """Does the outermost query have ORDER BY (so the result's row order is part of it)?"""
    return outermost_query(tree).args.get("order") is not None


def limit_of(tree: exp.Expression) -> tuple[int | None, bool]:
    """(LIMIT n of the outermost query or None, whether it also has an OFFSET)."""
    query = outermost_query(tree)
    limit = query.args.get("limit")
    offset = query.args.get("offset") is not None
    if not isinstance(limit, exp.Limit):
        return None, offset
    value = limit.expression
    if isinstance(value, exp.Literal) and not value.is_string:
        try:
            return int(value.this), offset
        except ValueError:
            return None, offset
    return None, offset


def is_unseeded_sample(tree: exp.Expression) -> bool:
    """Does the query draw a random sample without a seed (so each run returns other rows)?"""
    return any(not sample.args.get("seed") for sample in tree.find_all(exp.TableSample))


def without_samples(tree: exp.Expression) -> exp.Expression:
    """The same query reading whole tables: the population its samples are drawn from."""
    copy = tree.copy()
    for sample in list(copy.find_all(exp.TableSample)):
        sample.pop()
    return copy


def without_limit(tree: exp.Expression) -> exp.Expression:
    copy = tree.copy()
    outermost_query(copy).set("limit", None)
    return copy


@dataclass(frozen=True)
class OrderKeys:
    """How to read the ORDER BY key of every gold row.

    ``sql`` is the query to run: ``None`` for the gold text itself, or the gold with ``extra``
    key expressions appended as output columns. ``keys`` says, per ORDER BY item, where its
    value is: ``("out", i)`` is the gold's own column ``i``, ``("extra", k)`` the ``k``-th
    appended column. ``keys`` is ``None`` for ORDER BY ALL (every output column is a key).
    """

    sql: str | None
    extra: int
    keys: tuple[tuple[str, int], ...] | None


KEY_PREFIX = "__skipper_order_key_"


def order_keys(tree: exp.Expression, dialect: str = DIALECT) -> OrderKeys | None:
    """A query exposing the ORDER BY keys of an ordered gold, or None when we cannot build one
    (then the order is compared strictly, row by row, as Spider does)."""
    query = outermost_query(tree)
    order = query.args.get("order")
    if order is None:
        return None
    ordered = [item.this for item in order.expressions]
    if len(ordered) == 1 and isinstance(ordered[0], exp.Var) and ordered[0].name.upper() == "ALL":
        return OrderKeys(None, 0, None)
    select = query if isinstance(query, exp.Select) else None
    projections = list(select.expressions) if select is not None else []
    if select is None:
        # A set operation: ORDER BY can only name output columns, by position or by name.
        found = [_ordinal(key, None) for key in ordered]
    elif any(_is_star_like(p) for p in projections):
        found = [None] * len(ordered)
    else:
        found = [_output_index(key, projections) for key in ordered]
    if all(index is not None for index in found):
        return OrderKeys(None, 0, tuple(("out", i) for i in found if i is not None))
    if select is None or select.args.get("distinct") is not None:
        return None
    copy = tree.copy()
    target = outermost_query(copy)
    assert isinstance(target, exp.Select)
    keys: list[tuple[str, int]] = []
    extra = 0
    for key, index in zip(ordered, found, strict=True):
        if index is not None:
            keys.append(("out", index))
            continue
        if isinstance(key, exp.Literal):
            return None
        target.select(exp.alias_(key.copy(), f"{KEY_PREFIX}{extra}", quoted=True), copy=False)
        keys.append(("extra", extra))
        extra += 1
    return OrderKeys(copy.sql(dialect), extra, tuple(keys))


def _is_star_like(projection: exp.Expression) -> bool:
    """Does this projection expand to an unknown number of columns (``*``, ``t.*``, COLUMNS)?"""
    bare = projection.this if isinstance(projection, exp.Alias) else projection
    if isinstance(bare, exp.Star) or (isinstance(bare, exp.Column) and bare.is_star):
        return True
    return any(isinstance(node, exp.Columns) for node in projection.walk())


def _output_index(key: exp.Expression, projections: list[exp.Expression]) -> int | None:
    """Which output column an ORDER BY item names: by position, by alias, or by expression."""
    if isinstance(key, exp.Literal):
        return _ordinal(key, len(projections))
    names = [p.alias_or_name for p in projections]
    if isinstance(key, exp.Column) and not key.table and names.count(key.name) == 1:
        return names.index(key.name)
    for index, projection in enumerate(projections):
        bare = projection.this if isinstance(projection, exp.Alias) else projection
        if bare == key:
            return index
    return None


def _ordinal(key: exp.Expression, width: int | None) -> int | None:
    """The 0-based column of ``ORDER BY <n>``, or None for anything else."""
    if not isinstance(key, exp.Literal) or key.is_string:
        return None
    try:
        position = int(key.this)
    except ValueError:
        return None
    return position - 1 if position >= 1 and (width is None or position <= width) else None
