"""The second wall: what DuckDB's own binder says a query reads, checked before it runs.

The guard reads SQL with sqlglot; DuckDB binds it with its own rules (which name is a CTE, how
identifiers fold, what a view or macro expands to). Where the two could disagree, an attacker
gets a table the guard never saw. So before a query runs, the engine asks DuckDB to bind it
(``json_serialize_plan``: the unoptimized logical plan, so a scan the optimizer would drop is
still there; nothing is read) and collects every relation the plan reads: stored tables (by
catalog, schema and name), table functions (``range``, ``duckdb_tables`` …) and the system
views behind them (``pg_settings`` binds to ``duckdb_settings()``). Any relation outside what
the guard allowed is refused as ``sql.unknown_table``, in the words a missing table gets, so
the refusal says nothing about whether it exists. A plan node that reads data in a way this
module does not know is refused too: the wall fails closed.

The bound relations are also the query's lineage: the audit record names what DuckDB read.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from skipper.errors import EngineError, SkipperError, UncheckableError, UnknownTableError
from skipper.identifiers import fold

#: Plan nodes that produce rows without reading any relation: constants, a CTE's own rows,
#: a correlated subquery's outer rows.
_INTERNAL_SOURCES = frozenset({
    "LOGICAL_DUMMY_SCAN", "LOGICAL_CHUNK_GET", "LOGICAL_EXPRESSION_GET", "LOGICAL_EMPTY_RESULT",
    "LOGICAL_CTE_REF", "LOGICAL_DELIM_GET",
})
_TABLE_SCANS = frozenset({"seq_scan"})
_PLAN_CACHE_SIZE = 512
#: Leaving out NULL, empty and default fields halves the plan's JSON (and the time to make it).
_SERIALIZE = ("SELECT json_serialize_plan(?::VARCHAR, skip_null := true, skip_empty := true, "
              "skip_default := true)")


@dataclass(frozen=True, order=True)
class Relation:
    """One relation a bound plan reads: a stored ``table`` (``catalog.schema.name``), a table
    ``function`` (``name`` alone), or a ``view`` of the database whose reads these are."""

    kind: str
    name: str
    catalog: str = ""
    schema: str = ""

    @property
    def qualified(self) -> str:
        """How the audit record names it: ``db.main.accounts``, ``range()``, ``view db.main.v``."""
        if self.kind == "function":
            return f"{self.name}()"
        name = ".".join(part for part in (self.catalog, self.schema, self.name) if part)
        return f"view {name}" if self.kind == "view" else name

    def to_list(self) -> list[str]:
        return [self.kind, self.catalog, self.schema, self.name]

    @classmethod
    def from_list(cls, row: list[str]) -> Relation:
        kind, catalog, schema, name = row
        return cls(kind=kind, name=name, catalog=catalog, schema=schema)


@dataclass(frozen=True)
class Allowed:
    """What a query may read: catalog tables as ``(schema, name)`` and table functions by name.
    A table that is a view in the database allows what the view itself reads."""

    tables: frozenset[tuple[str, str]]
    functions: frozenset[str]

    @classmethod
    def of(cls, tables: Iterable[tuple[str, str]], functions: Iterable[str] = ()) -> Allowed:
        made = cls(tables=frozenset((fold(s), fold(n)) for s, n in tables),
                   functions=frozenset(fold(f) for f in functions))
        # The same few sets come back query after query: one object each, so what is worked
        # out from one (its ``text``, its hash) is worked out once.
        found = _ALLOWED.get(made)
        if found is None:
            if len(_ALLOWED) >= _ALLOWED_SIZE:
                _ALLOWED.clear()
            found = _ALLOWED[made] = made
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"tables": sorted(list(t) for t in self.tables),
                "functions": sorted(self.functions)}

    @functools.cached_property
    def text(self) -> str:
        """``to_dict()`` as compact JSON (how the engine sends it to its worker, once made)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Allowed:
        return cls.of([(s, n) for s, n in data.get("tables", [])], data.get("functions", []))

    @classmethod
    def from_text(cls, text: str) -> Allowed:
        return cls.from_dict(json.loads(text))


_ALLOWED: dict[Allowed, Allowed] = {}
_ALLOWED_SIZE = 1024


class Binder:
    """Binds queries on one connection and says which relations they read.

    Plans are cached by SQL text: the connection is read-only, so the same text binds to the
    same relations for the connection's whole life."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.database = str(con.execute("SELECT current_database()").fetchall()[0][0])
        self._views = {
            (fold(schema), fold(name)) for schema, name in con.execute(
                "SELECT schema_name, view_name FROM duckdb_views() "
                "WHERE NOT internal AND database_name = current_database()").fetchall()
        }
        self._plans: OrderedDict[str, tuple[Relation, ...]] = OrderedDict()
        self._view_reads: dict[tuple[str, str], frozenset[Relation]] = {}

    def knows(self, sql: str) -> bool:
        """Whether ``sql`` was bound before (and is still in the cache)."""
        return sql in self._plans

    def relations(self, sql: str) -> tuple[Relation, ...]:
        """Every relation ``sql`` reads, as DuckDB binds it (sorted, without repeats)."""
        cached = self._plans.get(sql)
        if cached is not None:
            self._plans.move_to_end(sql)
            return cached
        found = tuple(sorted(set(_reads(self._plan(sql)))))
        self._plans[sql] = found
        while len(self._plans) > _PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return found

    def check(self, sql: str, allowed: Allowed) -> tuple[Relation, ...]:
        """The relations ``sql`` reads, or UnknownTableError for the first one not allowed."""
        found = self.relations(sql)
        permitted = self._permitted(allowed)
        for relation in found:
            if not self._allowed_directly(relation, allowed) and not any(
                    relation in reads for reads in permitted.values()):
                raise UnknownTableError(
                    f"table {relation.name!r} is not in the catalog; query only the catalog's "
                    "tables",
                    table=relation.name,
                )
        views = tuple(
            Relation(kind="view", catalog=self.database, schema=schema, name=name)
            for (schema, name), reads in sorted(permitted.items()) if reads & set(found)
        )
        return found + views

    def _allowed_directly(self, relation: Relation, allowed: Allowed) -> bool:
        if relation.kind == "function":
            return fold(relation.name) in allowed.functions
        return (
            fold(relation.catalog) == fold(self.database)
            and (fold(relation.schema), fold(relation.name)) in allowed.tables
        )

    def _permitted(self, allowed: Allowed) -> dict[tuple[str, str], frozenset[Relation]]:
        """What each allowed view reads (a view binds to the relations of its definition)."""
        reads: dict[tuple[str, str], frozenset[Relation]] = {}
        for key in allowed.tables & self._views:
            if key not in self._view_reads:
                schema, name = key
                self._view_reads[key] = frozenset(
                    self.relations(f"SELECT * FROM {_quote(schema)}.{_quote(name)}"))
            reads[key] = self._view_reads[key]
        return reads

    def _plan(self, sql: str) -> Any:
        try:
            (row,) = self.con.execute(_SERIALIZE, [sql]).fetchall()
        except Exception as error:  # noqa: BLE001 - any failure to bind refuses the query
            raise EngineError(f"DuckDB could not bind the query: {_without_hints(str(error))}",
                              code="engine.binder_error") from None
        plan = json.loads(row[0])
        if plan.get("error"):
            raise bind_error(plan)
        return plan


def bind_error(plan: dict[str, Any]) -> SkipperError:
    """DuckDB's refusal to bind, without the "Did you mean" candidates: those name tables and
    columns the user may not see, and varying a name would enumerate them."""
    kind = str(plan.get("error_type") or "")
    message = _without_hints(str(plan.get("error_message") or "the query could not be bound"))
    if kind == "not implemented" and "MULTI" in message:
        return UncheckableError(
            "Skipper checks what a query reads before running it, and DuckDB cannot plan this "
            "statement ahead (a PIVOT without an IN list runs a hidden query first); name the "
            "pivot values: PIVOT ... ON column IN ('a', 'b') USING ..."
        )
    code = {"catalog": "engine.catalog_error", "binder": "engine.binder_error",
            "parser": "engine.parse_error", "permission": "engine.permission_denied",
            "not implemented": "engine.not_implemented"}.get(kind, "engine.error")
    return EngineError(message, code=code,
                       duckdb_error=f"{kind.title()} Error" if kind else "Error")


def _without_hints(message: str) -> str:
    """The first line of a DuckDB message: candidates and suggestions come after it."""
    first = message.strip().split("\n", 1)[0]
    for marker in (" Did you mean", " Candidate"):
        first = first.split(marker, 1)[0]
    return " ".join(first.split())


def _reads(node: Any) -> Iterator[Relation]:
    """The relations a serialized plan reads; EngineError for a source node it does not know."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
            continue
        if not isinstance(current, dict):
            continue
        kind = current.get("type")
        if isinstance(kind, str) and kind.startswith("LOGICAL_"):
            if kind == "LOGICAL_GET":
                yield _relation(current)
            elif kind.endswith(("_GET", "_SCAN")) and kind not in _INTERNAL_SOURCES:
                raise EngineError(f"the engine cannot tell what a {kind} plan node reads, so it "
                                  "will not run the query", code="engine.refused")
        stack.extend(value for value in current.values() if isinstance(value, (dict, list)))


def _relation(get: dict[str, Any]) -> Relation:
    path = [str(part) for part in (get.get("qname") or {}).get("path") or []]
    function = path[-1] if path else str(get.get("name") or "")
    data = get.get("function_data")
    if function in _TABLE_SCANS:
        qualified = (data or {}).get("qualified_name") if isinstance(data, dict) else None
        parts = [str(p) for p in (qualified or {}).get("path") or []]
        if len(parts) != 3 and isinstance(data, dict):
            parts = [str(data.get(k) or "") for k in ("catalog", "schema", "table")]
        if len(parts) != 3 or not all(parts):
            raise EngineError("the engine cannot tell which table a scan reads, so it will "
                              "not run the query", code="engine.refused")
        return Relation(kind="table", catalog=parts[0], schema=parts[1], name=parts[2])
    if not function:
        raise EngineError("the engine cannot tell what a plan node reads, so it will not run "
                          "the query", code="engine.refused")
    return Relation(kind="function", name=function)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
