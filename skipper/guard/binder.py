"""DuckDB's binder over the catalog's tables created empty: what a query's output columns are.

Where the guard must know which columns a star, ``COLUMNS(...)`` or PIVOT produces, it asks DuckDB
(``DESCRIBE <query>``: bound, never run) in a private in-memory database holding each table the
reader may see, empty, with the catalog's column names and types. Nothing is read: there is no
data, no file and no extension. Two things DuckDB still does while binding are bounded: a PIVOT
without an ``IN`` list runs a query for its values (``bindable`` gives it a probe list instead),
and constant folding (``repeat('x', 1e9)``) is cut off by a time and memory limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlglot import exp

from skipper.catalog import Catalog
from skipper.identifiers import fold

PROBE = "skipper_probe"
"""The value a PIVOT without an IN list is given to bind: output names holding it are data's."""

_PROBE_SCHEMA = "__skipper_probe"
_TIMEOUT_SECONDS = 2.0
_CACHE_SIZE = 16
_TableKey = tuple[str, str, tuple[tuple[str, str], ...]]


class SchemaBinder:
    """Binds queries against empty copies of a catalog's tables; one connection, one lock."""

    def __init__(self, tables: tuple[_TableKey, ...]) -> None:
        self._tables = tables
        self._lock = threading.Lock()
        self._connection: Any = None

    def output_names(self, sql: str) -> list[str] | None:
        """The column names DuckDB gives ``sql``'s result, or None when it does not bind."""
        rows = self._describe(sql)
        return None if rows is None else [str(row[0]) for row in rows]

    def is_builtin_name(self, name: str) -> bool:
        """Whether DuckDB binds ``name`` where no column has it (``current_role``, ``rowid``):
        a reference that would silently read the environment if a relation lacked the column."""
        quoted = exp.to_identifier(name, quoted=True).sql(dialect="duckdb")
        probe = f'"{_PROBE_SCHEMA}"."{_PROBE_SCHEMA}"'
        return self._describe(f"SELECT {quoted} FROM {probe}") is not None

    def _describe(self, sql: str) -> list[tuple[Any, ...]] | None:
        with self._lock:
            connection = self._connect()
            if connection is None:
                return None
            timer = threading.Timer(_TIMEOUT_SECONDS, connection.interrupt)
            timer.start()
            try:
                rows: list[tuple[Any, ...]] = connection.execute(f"DESCRIBE {sql}").fetchall()
            except Exception:  # does not bind, or was cut off: the caller fails closed
                return None
            finally:
                timer.cancel()
        return rows

    def _connect(self) -> Any:
        if self._connection is not None:
            return self._connection
        import duckdb

        connection = duckdb.connect(config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": 1,
            "memory_limit": "256MB",
        })
        probe = _quote(_PROBE_SCHEMA)
        connection.execute(f"CREATE SCHEMA {probe}")
        connection.execute(f"CREATE TABLE {probe}.{probe} ({probe} INT)")
        schemas = {"main"}
        for schema, name, columns in self._tables:
            if fold(schema) not in schemas:
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
                schemas.add(fold(schema))
            _create_table(connection, schema, name, columns)
        self._connection = connection
        return connection


def _create_table(
    connection: Any, schema: str, name: str, columns: tuple[tuple[str, str], ...]
) -> None:
    """An empty table; a type DuckDB cannot read becomes VARCHAR (the names are what count)."""
    for typed in (True, False):
        spelled = ", ".join(
            f"{_quote(column)} {type_ if typed else 'VARCHAR'}" for column, type_ in columns
        )
        try:
            connection.execute(f"CREATE TABLE {_quote(schema)}.{_quote(name)} ({spelled})")
            return
        except Exception:
            if not typed:
                raise


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_binders: OrderedDict[tuple[_TableKey, ...], SchemaBinder] = OrderedDict()
_binders_lock = threading.Lock()


def schema_binder(catalog: Catalog) -> SchemaBinder:
    """The binder for the tables ``catalog`` shows (a reader's view: hidden columns absent),
    shared by every guard over the same tables so each view builds its database once."""
    key = tuple(
        (table.db_schema, table.name,
         tuple((column.name, column.type or "VARCHAR") for column in table.columns))
        for table in catalog.tables
    )
    with _binders_lock:
        binder = _binders.get(key)
        if binder is None:
            binder = _binders[key] = SchemaBinder(key)
            while len(_binders) > _CACHE_SIZE:
                _binders.popitem(last=False)
        else:
            _binders.move_to_end(key)
    return binder


def bindable(
    node: exp.Expr, dialect: str, context: exp.Expr | None = None
) -> str | None:
    """``node``'s SQL with the CTEs it can see from where ``context`` (default: itself) stands,
    each PIVOT given a probe ``IN`` list where it has none (so binding runs no query for its
    values), and catalog tables as the copy spells them."""
    query = node.copy()
    with_ = _visible_ctes(context if context is not None else node)
    if with_ is not None:
        if not isinstance(query, exp.Select) or query.args.get("with_") is not None:
            query = exp.select("*").from_(exp.Subquery(this=query), copy=False)
        query.set("with_", with_)
    for pivot in list(query.find_all(exp.Pivot)):
        if pivot.args.get("this") is None or pivot.args.get("unpivot"):
            continue
        for on in list(pivot.expressions):
            if not isinstance(on, exp.In):
                on.replace(exp.In(this=on.copy(), expressions=[exp.Literal.string(PROBE)]))
    try:
        return query.sql(dialect=dialect)
    except Exception:
        return None


def _visible_ctes(node: exp.Expr) -> exp.With | None:
    """The CTEs defined around ``node`` that it may read (those before it in its own WITH),
    outermost first, each WITH's in its own order (a CTE may read the ones before it)."""
    levels: list[list[exp.CTE]] = []
    recursive = False
    child: exp.Expr = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            recursive = recursive or bool(parent.args.get("recursive"))
            earlier: list[exp.CTE] = []
            for cte in parent.expressions:
                if cte is child:
                    break
                earlier.append(cte.copy())
            levels.append(earlier)
        else:
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child:
                recursive = recursive or bool(with_.args.get("recursive"))
                levels.append([cte.copy() for cte in with_.expressions])
        child, parent = parent, parent.parent
    ctes = [cte for level in reversed(levels) for cte in level]
    return exp.With(expressions=ctes, recursive=recursive) if ctes else None
