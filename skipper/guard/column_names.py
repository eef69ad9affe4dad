"""Rule: output columns keep the names DuckDB gives the SQL as written, not as sqlglot rewrote it.

DuckDB names an unaliased expression after its own rendering of it, so when sqlglot writes
``datediff('minute', a, b)`` back as ``DATE_DIFF('MINUTE', a, b)`` the answer's column would be
renamed. For such projections of the outermost SELECT this rule adds ``AS "<DuckDB's name>"``,
asking DuckDB's parser (``json_serialize_sql``: parse only, nothing is bound or run) for both
renderings. Plain columns, stars and aliased expressions never need it, so most queries skip it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlglot import exp

from skipper.guard.context import GuardContext

_UNCHANGED_NAMES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Star,
    exp.Literal,
    exp.Alias,
    exp.Columns,
    exp.Dot,
)
_LOCATION_KEYS = frozenset({"query_location", "query_location_length"})


class DuckDBNames:
    """DuckDB's own names for the projections of a query, read by its parser alone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None

    def projections(self, sql: str) -> list[dict[str, Any]] | None:
        """The outermost SELECT's projection list as DuckDB parses it, or None."""
        serialized = self._call("SELECT json_serialize_sql(?::VARCHAR)", sql)
        try:
            parsed = json.loads(serialized) if isinstance(serialized, str) else None
        except ValueError:
            return None
        if not isinstance(parsed, dict) or parsed.get("error"):
            return None
        statements = parsed.get("statements") or []
        if len(statements) != 1:
            return None
        node = _leftmost_select(statements[0].get("node"))
        if node is None:
            return None
        select_list = node.get("select_list")
        return select_list if isinstance(select_list, list) else None

    def name(self, projection: dict[str, Any]) -> str | None:
        """DuckDB's rendering of one parsed projection: the column name it would get."""
        node: dict[str, Any] = {
            "type": "SELECT_NODE",
            "modifiers": [],
            "cte_map": {"map": []},
            "select_list": [projection],
            "from_table": {"type": "EMPTY", "alias": "", "sample": None},
            "where_clause": None,
            "group_expressions": [],
            "group_sets": [],
            "aggregate_handling": "STANDARD_HANDLING",
            "having": None,
            "sample": None,
            "qualify": None,
        }
        document = {"error": False, "statements": [{"node": node, "named_param_map": []}]}
        rendered = self._call("SELECT json_deserialize_sql(?::JSON)", json.dumps(document))
        if not isinstance(rendered, str) or not rendered.startswith("SELECT "):
            return None
        return rendered.removeprefix("SELECT ")

    def _call(self, query: str, argument: str) -> Any:
        try:
            import duckdb
        except ImportError:  # pragma: no cover - duckdb is a dependency
            return None
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = duckdb.connect(config={
                        "enable_external_access": False,
                        "autoinstall_known_extensions": False,
                        "autoload_known_extensions": False,
                    })
                row = self._connection.execute(query, [argument]).fetchone()
            except Exception:  # a name is cosmetic: when DuckDB cannot say, keep sqlglot's
                return None
        return None if row is None else row[0]


def keep_column_names(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    if ctx.dialect != "duckdb" or ctx.names is None:
        return tree
    select = _leftmost(tree)
    if select is None:
        return tree
    candidates = [
        i for i, projection in enumerate(select.expressions)
        if not isinstance(projection, _UNCHANGED_NAMES) and not _is_count_star(projection)
    ]
    if not candidates:
        return tree
    written = ctx.names.projections(ctx.sql_text)
    rewritten = ctx.names.projections(tree.sql(dialect=ctx.dialect))
    if written is None or rewritten is None or not (
        len(written) == len(rewritten) == len(select.expressions)
    ):
        return tree
    renamed: list[str] = []
    for i in candidates:
        original, regenerated = written[i], rewritten[i]
        if original.get("alias") or _without_locations(original) == _without_locations(
            regenerated
        ):
            continue
        name = ctx.names.name(original)
        if not name:
            continue
        projection = select.expressions[i]
        projection.replace(exp.alias_(projection.copy(), exp.to_identifier(name, quoted=True)))
        renamed.append(name)
    if renamed:
        ctx.note("kept DuckDB's column names for rewritten expressions: " + ", ".join(renamed))
    return tree


def _leftmost(tree: exp.Expression) -> exp.Select | None:
    node: exp.Expression | None = tree
    while node is not None and not isinstance(node, exp.Select):
        if isinstance(node, (exp.SetOperation, exp.Subquery)):
            node = node.this
        else:
            return None
    return node


def _leftmost_select(node: Any) -> dict[str, Any] | None:
    while isinstance(node, dict):
        kind = node.get("type")
        if kind == "SELECT_NODE":
            return node
        if kind != "SET_OPERATION_NODE":
            return None
        children = node.get("children") or []
        node = children[0] if children else node.get("left")
    return None


def _is_count_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Count) and isinstance(projection.this, exp.Star)


def _without_locations(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_locations(v) for k, v in value.items() if k not in _LOCATION_KEYS}
    if isinstance(value, list):
        return [_without_locations(v) for v in value]
    return value
