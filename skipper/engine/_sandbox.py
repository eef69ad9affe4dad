"""The second wall: a DuckDB connection that cannot write, read files, reach the network or
change its own settings, and the one function that runs a query on it."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from skipper.engine import MASK_HASH_FUNCTION
from skipper.engine.relations import Allowed, Binder
from skipper.errors import EngineError, QueryTimeoutError
from skipper.fingerprint import RowFingerprint

#: Rows per Arrow batch read from DuckDB (DuckDB's own default).
BATCH_ROWS = 131072

#: How many passed checks (text, allowed) a sandbox remembers.
CHECKED_CACHE_SIZE = 512

#: The statement types the engine runs. A PIVOT without an IN list parses as MULTI; whatever a
#: MULTI hides still meets the read-only database, the file-system lock and the rollback below.
RUNNABLE_STATEMENTS = frozenset({"SELECT", "MULTI"})

#: The connection variable holding the mask salt: bound as a parameter, so it is in no SQL text.
MASK_SALT_VARIABLE = "skipper_mask_salt"


def sandbox_config(*, memory_limit: str, threads: int) -> dict[str, Any]:
    """Settings applied when the database opens (names as `duckdb_settings()` spells them).

    ``temp_directory`` is empty: nothing spills to disk. DuckDB lets queries read and write
    inside its temp directory even with external access off, so a spill directory would be a
    hole in the wall; a query that needs more than ``memory_limit`` fails with
    ``engine.out_of_memory`` instead. ``lock_configuration`` is applied last, after the
    per-connection settings (see :func:`open_sandboxed`).
    """
    return {
        "access_mode": "READ_ONLY",
        "enable_external_access": False,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "allow_extension_repositories": "forbidden",
        "allow_persistent_secrets": False,
        "python_enable_replacements": False,
        "memory_limit": memory_limit,
        "threads": threads,
        "temp_directory": "",
    }


class Sandbox:
    """One sandboxed, read-only connection and the watchdog that interrupts its overdue queries."""

    def __init__(self, database: Path, *, memory_limit: str = "2GB", threads: int = 2,
                 mask_salt: str | None = None) -> None:
        self.con = open_sandboxed(database, memory_limit=memory_limit, threads=threads,
                                  mask_salt=mask_salt)
        self.watchdog = Watchdog(self.con)
        self.binder = Binder(self.con)
        #: Checks passed, by text and what it was allowed: the database is read-only, so the
        #: same text binds to the same relations for the connection's life (as ``Binder``'s).
        self._checked: OrderedDict[tuple[str, Allowed], list[list[str]]] = OrderedDict()

    def bind(self, sql: str, allowed: Allowed, *, timeout_s: float | None) -> list[list[str]]:
        """The relations ``sql`` reads as DuckDB binds it, checked against ``allowed`` before
        anything runs (see ``skipper.engine.relations``); each as ``Relation.to_list()``
        (the caller must not change them: a check passed before gives the same lists)."""
        key = (sql, allowed)
        checked = self._checked.get(key)
        if checked is not None:
            self._checked.move_to_end(key)
            return checked
        if not self.binder.knows(sql):  # a text bound before was one read statement then
            single_read_statement(self.con, sql)
        self.watchdog.arm(timeout_s)
        try:
            checked = [relation.to_list() for relation in self.binder.check(sql, allowed)]
        finally:
            self.watchdog.disarm()
        self._checked[key] = checked
        while len(self._checked) > CHECKED_CACHE_SIZE:
            self._checked.popitem(last=False)
        return checked

    def run(self, sql: str, *, max_rows: int | None, timeout_s: float | None,
            max_bytes: int | None = None, ordered: bool = False) -> QueryOutput:
        """Run one read statement, keeping at most ``max_rows`` rows and ``max_bytes`` bytes
        while counting and fingerprinting them all (``ordered``: the row order counts).

        A MULTI statement (a PIVOT) runs in a transaction that is always rolled back, so
        nothing it might create (a temporary table or type) outlives it.
        """
        if max_rows is not None and max_rows < 0:
            raise EngineError("max_rows must be zero or more", code="engine.invalid_request")
        statement: Any
        if self.binder.knows(sql):
            # Bound before, so one SELECT (a MULTI cannot be bound): DuckDB parses it as it
            # runs, as it would any text, instead of once more here.
            statement, isolated = sql, False
        else:
            statement = single_read_statement(self.con, sql)
            isolated = statement.type.name != "SELECT"
        self.watchdog.arm(timeout_s)
        try:
            if isolated:
                self.con.begin()
            try:
                return _stream(self.con, statement, max_rows, max_bytes, ordered)
            finally:
                if isolated:
                    self.con.rollback()
        except (duckdb.Error, pa.ArrowException, OSError) as error:
            raise engine_error(error, timed_out=self.watchdog.fired,
                               timeout_s=timeout_s) from None
        finally:
            self.watchdog.disarm()

    def close(self) -> None:
        self.watchdog.close()
        self.con.close()


def open_sandboxed(database: Path, *, memory_limit: str = "2GB", threads: int = 2,
                   mask_salt: str | None = None) -> Any:
    """Open ``database`` read-only inside the sandbox, define the mask functions (when given a
    salt) and lock its configuration."""
    try:
        con = duckdb.connect(str(database), read_only=True,
                             config=sandbox_config(memory_limit=memory_limit, threads=threads))
    except duckdb.Error as error:
        message = clean_message(str(error))[1]
        if "different configuration" in message:
            message += ("; another connection in this process opened it with other settings: "
                        "close it, or use isolation='process'")
        raise EngineError(f"cannot open DuckDB database {database}: {message}",
                          code="engine.cannot_open", database=str(database)) from None
    refuse_shadowing_functions(con, database)
    if mask_salt is not None:
        define_mask_functions(con, mask_salt)
    # DuckDB shares one instance per file within a process: a second sandboxed engine on the
    # same file finds it configured and locked already.
    locked = con.sql("SELECT current_setting('lock_configuration')").fetchall()[0][0]
    if not locked:
        # Per-connection settings first (the progress bar would print into the caller's
        # terminal), then the lock: after it, SET and RESET fail for everyone.
        con.execute("SET enable_progress_bar = false")
        con.execute("SET lock_configuration = true")
    return con


def refuse_shadowing_functions(con: Any, database: Path) -> None:
    """Refuse a database that defines macros named like built-in functions or like the mask
    functions the engine defines itself.

    A stored ``CREATE MACRO lower(a) AS (SELECT ... FROM hidden_table)`` would make an
    allowlisted call read a table the guard never saw, and a stored ``skipper_mask_hash``
    could stand in for the real mask. Macros with other new names are harmless here: the
    guard's allowlist refuses them. Runs before the engine defines its own (temporary) ones.
    """
    shadowing = con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE NOT internal "
        "AND (function_name IN (SELECT function_name FROM duckdb_functions() WHERE internal) "
        "OR lower(function_name) = ?) ORDER BY 1",
        [MASK_HASH_FUNCTION],
    ).fetchall()
    if shadowing:
        con.close()
        names = ", ".join(name for (name,) in shadowing)
        raise EngineError(
            f"database {database} defines functions that replace DuckDB built-ins ({names}); "
            "Skipper will not query it: drop those macros or rename them",
            code="engine.shadowed_functions", database=str(database),
        )


def define_mask_functions(con: Any, salt: str) -> None:
    """Define ``MASK_HASH_FUNCTION`` on this connection (temporary objects are per connection).

    The salt goes in as a bound parameter into a connection variable, so it is in no SQL text:
    not in the macro's definition, not in a query, not in an error. A missing salt makes the
    hash NULL, never an unsalted hash; a NULL value stays NULL, as with the other masks.
    """
    if not salt:
        raise EngineError("the mask salt must not be empty", code="engine.invalid_request")
    try:
        con.execute(f"SET VARIABLE {MASK_SALT_VARIABLE} = ?", [salt])
        con.execute(
            f"CREATE OR REPLACE TEMP MACRO {MASK_HASH_FUNCTION}(x) AS "
            f"sha256(getvariable('{MASK_SALT_VARIABLE}') || CAST(x AS VARCHAR))"
        )
    except duckdb.Error:
        con.close()
        raise EngineError("could not define the engine's mask functions",
                          code="engine.cannot_open") from None


@dataclass
class QueryOutput:
    """What one query produced: the kept rows, how many there were in all, the column types,
    why rows were left out (``"rows"``: ``max_rows``, ``"bytes"``: ``max_bytes``), and the
    fingerprint of every row. The fingerprint already holds the rows left out; the kept rows
    are added by ``finish_fingerprint`` (the worker does it before sending them)."""

    table: pa.Table
    row_count: int
    truncated: bool
    types: list[str]
    fingerprint: RowFingerprint
    truncated_by: str | None = None

    def finish_fingerprint(self) -> str:
        self.fingerprint.add(self.table, 0)
        return self.fingerprint.hexdigest()


def _stream(con: Any, statement: Any, max_rows: int | None, max_bytes: int | None = None,
            ordered: bool = False) -> QueryOutput:
    """Read every batch DuckDB produces: keep rows until ``max_rows`` rows or ``max_bytes``
    bytes (of Arrow buffers), count them all, and fingerprint the ones not kept as they pass
    (they are not held)."""
    relation = con.sql(statement)
    if relation is None:
        raise EngineError("the statement returned no result", code="engine.no_result")
    types = [str(kind) for kind in relation.types]
    reader = relation.to_arrow_reader(BATCH_ROWS)
    fingerprint = RowFingerprint(reader.schema, ordered=ordered)
    kept: list[pa.RecordBatch] = []
    kept_rows = kept_bytes = total = 0
    truncated_by: str | None = None
    try:
        for batch in reader:
            start, total = total, total + batch.num_rows
            if truncated_by is None:
                take = batch.num_rows if max_rows is None else min(max_rows - kept_rows,
                                                                   batch.num_rows)
                if take < batch.num_rows:
                    truncated_by = "rows"
                if max_bytes is not None:
                    fits = _rows_within(batch, take, max_bytes - kept_bytes)
                    if fits < take:
                        take, truncated_by = fits, "bytes"
                if take:
                    part = batch if take == batch.num_rows else batch.slice(0, take)
                    kept.append(part)
                    kept_rows += take
                    kept_bytes += part.nbytes
                if take == batch.num_rows:
                    continue
                batch = batch.slice(take)
                start += take
            fingerprint.add(batch, start)
    finally:
        reader.close()
    table = pa.Table.from_batches(kept, schema=reader.schema)
    return QueryOutput(table=table, row_count=total, truncated=total > kept_rows, types=types,
                       fingerprint=fingerprint, truncated_by=truncated_by)


def _rows_within(batch: pa.RecordBatch, rows: int, room: int) -> int:
    """How many of the first ``rows`` rows of ``batch`` fit in ``room`` bytes (a bisection on
    the slices' buffer sizes)."""
    if rows <= 0 or room <= 0:
        return 0
    if (batch if rows == batch.num_rows else batch.slice(0, rows)).nbytes <= room:
        return rows
    low, high = 0, rows  # low fits, high does not
    while high - low > 1:
        middle = (low + high) // 2
        if batch.slice(0, middle).nbytes <= room:
            low = middle
        else:
            high = middle
    return low


def single_read_statement(con: Any, sql: str) -> Any:
    """The one read statement in ``sql``, as DuckDB's own parser reads it."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise engine_error(error) from None
    if len(statements) != 1:
        raise EngineError(
            f"the engine runs exactly one statement per call; got {len(statements)}",
            code="engine.refused",
        )
    kind = statements[0].type.name
    if kind not in RUNNABLE_STATEMENTS:
        raise EngineError(
            f"the engine only runs read queries (SELECT); refused a statement of type {kind}",
            code="engine.refused", statement_type=kind,
        )
    return statements[0]


class Watchdog:
    """A thread that interrupts the connection's query once its deadline passes, and keeps
    interrupting until the query returns (an interrupt sent just before a query starts would
    otherwise be lost). One per connection: arming it costs no thread start, and it is woken
    only when a deadline comes before the time it already sleeps until, so back-to-back
    queries with one timeout wake it about once per timeout, not once per query."""

    def __init__(self, con: Any, *, every_s: float = 0.1) -> None:
        self.con = con
        self.every_s = every_s
        self.fired = False
        self._deadline: float | None = None
        self._sleeping_until = math.inf
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name="skipper-watchdog", daemon=True)
        self._thread.start()

    def arm(self, timeout_s: float | None) -> None:
        with self._wake:
            self.fired = False
            self._deadline = None if timeout_s is None else time.monotonic() + timeout_s
            if self._deadline is not None and self._deadline < self._sleeping_until:
                self._wake.notify()

    def disarm(self) -> None:
        """After this returns, no interrupt reaches the connection until the next ``arm``."""
        with self._wake:
            self._deadline = None

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _watch(self) -> None:
        with self._wake:
            while not self._closed:
                if self._deadline is None:
                    self._sleep(math.inf)
                    continue
                now = time.monotonic()
                if self._deadline > now:
                    self._sleep(self._deadline)
                    continue
                self.fired = True
                self.con.interrupt()
                self._sleep(now + self.every_s)

    def _sleep(self, until: float) -> None:
        """Wait until ``until`` or a notify; ``arm`` reads ``_sleeping_until`` only while this
        waits (the rest of the loop holds the condition)."""
        self._sleeping_until = until
        self._wake.wait(None if until == math.inf else max(until - time.monotonic(), 0))


# DuckDB's "<Kind> Error: message" prefix -> our finer code.
_CODES = {
    "binder": "engine.binder_error",
    "catalog": "engine.catalog_error",
    "parser": "engine.parse_error",
    "out of memory": "engine.out_of_memory",
    "permission": "engine.permission_denied",
    "invalid input": "engine.invalid_input",
    "conversion": "engine.conversion_error",
    "out of range": "engine.out_of_range",
    "io": "engine.io_error",
    "interrupt": "engine.interrupted",
    "constraint": "engine.constraint_error",
    "not implemented": "engine.not_implemented",
}


def clean_message(text: str) -> tuple[str, str]:
    """DuckDB's error kind and its message without the prefix, the caret context or newlines."""
    head, separator, rest = text.strip().partition(" Error: ")
    if separator and head.replace(" ", "").isalpha():
        kind, body = head.lower(), rest
    else:
        kind, body = "", text
    body = body.split("\nLINE ", 1)[0]
    return kind, " ".join(body.split())


def engine_error(error: BaseException, *, timed_out: bool = False,
                 timeout_s: float | None = None) -> EngineError:
    """A DuckDB (or Arrow-wrapped DuckDB) failure as an EngineError with a stable code."""
    kind, message = clean_message(str(error))
    if timed_out and kind == "interrupt":
        return timeout_error(timeout_s, hard=False)
    code = _CODES.get(kind, "engine.error")
    if code == "engine.out_of_memory":
        message += " (the engine's memory_limit bounds each query; narrow the query or raise it)"
    return EngineError(message or type(error).__name__, code=code,
                       duckdb_error=f"{kind.title()} Error" if kind else type(error).__name__)


def timeout_error(timeout_s: float | None, *, hard: bool) -> QueryTimeoutError:
    how = "stopped the worker process" if hard else "interrupted it"
    limit = f"{timeout_s:g} s" if timeout_s is not None else "its time limit"
    return QueryTimeoutError(
        f"the query ran past its {limit} limit and Skipper {how}; narrow it (filters, LIMIT, "
        "fewer joins) or raise timeout_s",
        timeout_s=timeout_s, hard=hard,
    )
