"""DuckDB behind the second wall: a sandboxed read-only connection with a hard time bound."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import duckdb
import pyarrow as pa

from skipper.engine import Result, TableInfo
from skipper.engine._sandbox import Sandbox, timeout_error
from skipper.engine._worker import (
    WorkerCrashed,
    WorkerOverdue,
    WorkerProcess,
    introspect,
    rebuild_error,
    rebuild_tables,
)
from skipper.engine.relations import Allowed, Relation
from skipper.errors import ConfigError, DatabaseNotFoundError, EngineError

Isolation = Literal["process", "thread"]

#: The default bound on a result's kept bytes, whatever ``max_rows`` allows.
DEFAULT_MAX_RESULT_BYTES = 64 * 2**20

#: How many texts' bound relations the engine remembers (as many as the worker's binder).
BOUND_CACHE_SIZE = 512

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class DuckDBEngine:
    """Runs guarded SQL on one DuckDB file, read-only and sandboxed.

    ``isolation="process"`` (the default) runs DuckDB in a long-lived worker process. A query
    is interrupted at ``timeout_s``; if it has not answered ``kill_grace_s`` later (a single
    huge function call that an interrupt cannot stop), the worker is killed and a fresh one
    started, so no query runs far past its timeout. The worker's address space is also bounded
    (twice ``memory_limit`` plus 2 GiB), because DuckDB's ``memory_limit`` does not cover one
    huge value. Cost: the round trip (rows as Arrow IPC over a socket, one message back per
    query once a text has been bound); benchmarks/bench_engine.py measures it alone and
    benchmarks/bench_floor.py the least a process boundary costs.

    ``isolation="thread"`` keeps the connection in this process: no round trip, but a timeout
    is only an interrupt, which some work ignores until it finishes, and memory is bounded
    only by ``memory_limit``. Use it where per-query overhead matters more than the hard bound.

    Either way the connection is the same sandbox (see ``skipper.engine._sandbox``); one query
    runs at a time per engine.
    """

    dialect = "duckdb"
    version = duckdb.__version__

    def __init__(
        self,
        database: str | Path,
        *,
        memory_limit: str = "2GB",
        threads: int = 2,
        isolation: Isolation = "process",
        kill_grace_s: float = 1.5,
        mask_salt: str | None = None,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        """``mask_salt``: the secret salt of the ``hash`` mask (``MASK_HASH_FUNCTION`` is
        defined only when given). It reaches the worker over its socket, never its argv."""
        self.database = Path(database).expanduser().resolve()
        if not self.database.is_file():
            raise DatabaseNotFoundError(
                f"DuckDB database {self.database} does not exist; build the demo with "
                "`skipper demo` or pass the path of an existing database",
                database=str(self.database),
            )
        if isolation not in ("process", "thread"):
            raise ConfigError(f"isolation must be 'process' or 'thread', not {isolation!r}")
        if threads < 1:
            raise ConfigError("threads must be at least 1")
        if kill_grace_s < 0:
            raise ConfigError("kill_grace_s must be zero or more")
        if mask_salt is not None and not mask_salt:
            raise ConfigError("mask_salt must not be empty")
        if isinstance(max_result_bytes, bool) or not isinstance(max_result_bytes, int) \
                or max_result_bytes <= 0:
            raise ConfigError("max_result_bytes must be a positive number of bytes",
                              code="config.invalid_max_result_bytes")
        #: The kept rows' bytes (Arrow buffers) at most: past it the result is truncated
        #: (``Result.truncated_by == "bytes"``), though every row is still counted and hashed.
        self.max_result_bytes = max_result_bytes
        self.memory_limit = memory_limit
        self.threads = threads
        self.isolation: Isolation = isolation
        self.kill_grace_s = kill_grace_s
        self._lock = threading.Lock()
        self._closed = False
        self._worker: WorkerProcess | None = None
        self._sandbox: Sandbox | None = None
        self._mask_salt = mask_salt
        #: What each (text, allowed) bound to at its last run in a worker: a query seen before
        #: announces these at submit, and the worker sends its own with the rows.
        self._bound: OrderedDict[tuple[str, Allowed],
                                 tuple[list[list[str]], list[Relation]]] = OrderedDict()
        if isolation == "process":
            self._settings = {
                "database": str(self.database), "memory_limit": memory_limit,
                "threads": threads, "address_space_bytes": 2 * parse_bytes(memory_limit) + 2**31,
            }
            self._worker = WorkerProcess(self._settings, mask_salt=mask_salt)
        else:
            self._sandbox = Sandbox(self.database, memory_limit=memory_limit, threads=threads,
                                    mask_salt=mask_salt)

    # ---- Engine protocol ---------------------------------------------------------------
    def submit(self, sql: str, *, max_rows: int | None = None,
               timeout_s: float | None = None, allowed: Allowed | None = None,
               ordered: bool = False) -> PendingQuery:
        """Start one read query (keeping at most ``max_rows`` rows, counting them all); its
        result comes from the returned handle's ``result()``.

        ``allowed``: the relations the guard let the query read. The query is then bound first
        and refused (``sql.unknown_table``, nothing run) if DuckDB's plan reads anything else;
        the handle's ``relations`` are what the plan reads (see ``skipper.engine.relations``):
        for a text run here before, what it read then (``expected_relations``), announced
        without waiting for the worker, which checks it again all the same; the result's
        ``relations`` are what this run's plan read, and a refusal comes from ``result()``.

        With ``isolation="process"`` the worker runs it while the caller goes on. One query
        runs at a time per engine: the engine is held until ``result()`` is called, so use the
        handle as a context manager (leaving it collects the result if nobody did)."""
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError("timeout_s must be positive")
        self._lock.acquire()
        try:
            self._check_open()
            pending = PendingQuery(self, sql, max_rows, timeout_s, allowed, ordered=ordered)
        except BaseException:
            self._lock.release()
            raise
        return pending

    def execute(self, sql: str, *, max_rows: int | None = None,
                timeout_s: float | None = None, allowed: Allowed | None = None,
                ordered: bool = False) -> Result:
        """Run one read query; keep at most ``max_rows`` rows, count them all."""
        with self.submit(sql, max_rows=max_rows, timeout_s=timeout_s,
                         allowed=allowed, ordered=ordered) as pending:
            return pending.result()

    def introspect(self) -> list[TableInfo]:
        """Every user table and view with its columns, keys and row count."""
        with self._lock:
            self._check_open()
            if self._sandbox is not None:
                return introspect(self._sandbox.con)
            header, _ = self._ask({"op": "introspect"})
            return rebuild_tables(header["tables"])

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # ---- the worker --------------------------------------------------------------------
    @property
    def worker_pid(self) -> int | None:
        """The current worker's process id (None for ``isolation="thread"``)."""
        return self._worker.pid if self._worker is not None else None

    def _ask(self, request: dict[str, Any]) -> tuple[dict[str, Any], pa.Table | None]:
        """Send ``request`` and wait for its answer, however long; the caller holds the lock."""
        self._send(request)
        return self._receive(None, None)

    def _send(self, request: dict[str, Any]) -> None:
        if self._worker is None or not self._worker.alive:
            # It died between queries (the OOM killer, say): nothing was lost, start afresh.
            self._replace_worker()
        worker = self._worker
        assert worker is not None
        try:
            worker.wait_ready()
        except (WorkerOverdue, WorkerCrashed):
            how = worker.exit_description()
            self._replace_worker()
            raise EngineError(f"the DuckDB worker process did not start ({how})",
                              code="engine.crashed") from None
        except EngineError:
            # The worker could not open the database: start over on the next call.
            self._replace_worker()
            raise
        try:
            worker.send(request)
        except WorkerCrashed:
            raise self._crashed(worker) from None

    def _receive(self, deadline: float | None,
                 timeout_s: float | None) -> tuple[dict[str, Any], pa.Table | None]:
        worker = self._worker
        assert worker is not None
        try:
            header, payload = worker.receive(deadline)
        except WorkerOverdue:
            self._replace_worker()
            raise timeout_error(timeout_s, hard=True) from None
        except WorkerCrashed:
            raise self._crashed(worker) from None
        except BaseException:
            # Interrupted while waiting (Ctrl-C): the worker's state is unknown.
            self._replace_worker()
            raise
        if not header.get("ok"):
            raise rebuild_error(header["error"])
        return header, payload

    def _crashed(self, worker: WorkerProcess) -> EngineError:
        how = worker.exit_description()
        self._replace_worker()
        return EngineError(
            f"the DuckDB worker process died ({how}); the query did not finish. "
            "A fresh worker will run the next query.",
            code="engine.crashed",
        )

    def _replace_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
        self._worker = WorkerProcess(self._settings, mask_salt=self._mask_salt)

    def expected_relations(self, sql: str, allowed: Allowed) -> list[Relation] | None:
        """The relations ``sql`` read the last time it ran here with ``allowed`` (None when
        it did not, or was forgotten): what its bound plan will read, as the database is
        read-only, though each run checks it again and reports its own in the result."""
        found = self._bound.get((sql, allowed))
        return list(found[1]) if found is not None else None

    def _remember(self, key: tuple[str, Allowed], rows: list[list[str]]) -> list[Relation]:
        """The relations a run reported (as ``Relation.to_list`` rows), remembered for the
        text's next run (the objects made last time when the rows are the same)."""
        found = self._bound.get(key)
        if found is not None and found[0] == rows:
            self._bound.move_to_end(key)
            return list(found[1])
        relations = [Relation.from_list(row) for row in rows]
        self._bound[key] = (rows, relations)
        while len(self._bound) > BOUND_CACHE_SIZE:
            self._bound.popitem(last=False)
        return list(relations)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("this engine is closed", code="engine.closed")


class PendingQuery:
    """A query `DuckDBEngine.submit` started. ``result()`` waits for it (once) and frees the
    engine for the next query; leaving a ``with`` block does that too, dropping any error
    when the block itself is raising."""

    def __init__(self, engine: DuckDBEngine, sql: str, max_rows: int | None,
                 timeout_s: float | None, allowed: Allowed | None = None, *,
                 ordered: bool = False) -> None:
        self._engine = engine
        self.ordered = ordered
        self._sql, self._max_rows, self._timeout_s = sql, max_rows, timeout_s
        self._started = time.perf_counter()
        self._deadline: float | None = None
        self._outcome: Result | BaseException | None = None
        self._allowed = allowed
        #: What DuckDB's bound plan reads (when the query was submitted with ``allowed``).
        self.relations: list[Relation] | None = None
        if engine._sandbox is not None:
            if allowed is not None:
                self.relations = [Relation.from_list(row) for row in engine._sandbox.bind(
                    sql, allowed, timeout_s=timeout_s)]
            return
        known = engine._bound.get((sql, allowed)) if allowed is not None else None
        engine._send({"op": "execute", "sql": sql, "max_rows": max_rows,
                      "timeout_s": timeout_s, "ordered": ordered,
                      "max_bytes": engine.max_result_bytes,
                      "allowed": allowed.text if allowed is not None else None,
                      "early_relations": known is None})
        if timeout_s is not None:
            self._deadline = time.monotonic() + timeout_s + engine.kill_grace_s
        if known is not None:
            # Bound before: the worker checks it again and sends what it read with the rows.
            self.relations = list(known[1])
        elif allowed is not None:
            # The worker binds and checks first; a refusal ends the request there.
            header, _ = engine._receive(self._deadline, timeout_s)
            self.relations = [Relation.from_list(row) for row in header["relations"]]

    def result(self) -> Result:
        if self._outcome is None:
            try:
                self._outcome = self._collect()
            except BaseException as error:
                self._outcome = error
                if self._allowed is not None:
                    self._engine._bound.pop((self._sql, self._allowed), None)
            finally:
                self._engine._lock.release()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    def __enter__(self) -> PendingQuery:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._outcome is None:
            if kind is None:
                self.result()
            else:
                with contextlib.suppress(Exception):
                    self.result()

    def _collect(self) -> Result:
        engine = self._engine
        if engine._sandbox is not None:
            output = engine._sandbox.run(self._sql, max_rows=self._max_rows,
                                         timeout_s=self._timeout_s,
                                         max_bytes=engine.max_result_bytes,
                                         ordered=self.ordered)
            return Result(table=output.table, row_count=output.row_count,
                          truncated=output.truncated,
                          duration_s=time.perf_counter() - self._started,
                          types=output.types,
                          result_hash=output.finish_fingerprint(),
                          result_hash_kind=output.fingerprint.kind,
                          truncated_by=output.truncated_by,
                          relations=self.relations)
        header, table = engine._receive(self._deadline, self._timeout_s)
        assert table is not None
        relations = None
        if header.get("relations") is not None and self._allowed is not None:
            relations = engine._remember((self._sql, self._allowed), header["relations"])
        return Result(table=table, row_count=int(header["row_count"]),
                      truncated=bool(header["truncated"]),
                      duration_s=time.perf_counter() - self._started,
                      types=list(header["types"]),
                      result_hash=str(header["result_hash"]),
                      result_hash_kind=str(header["result_hash_kind"]),
                      truncated_by=header.get("truncated_by"),
                      relations=relations)


def parse_bytes(size: str) -> int:
    """``"2GB"``, ``"512 MiB"`` -> bytes, as DuckDB reads memory_limit."""
    text = size.strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if value <= 0 or unit not in _UNITS:
        raise ConfigError(f"memory_limit {size!r} is not a size such as '2GB' or '512MiB'")
    return int(value * _UNITS[unit])

