"""DuckDB behind the second wall: a sandboxed read-only connection with a hard time bound."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

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
from skipper.errors import ConfigError, DatabaseNotFoundError, EngineError

Isolation = Literal["process", "thread"]

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class DuckDBEngine:
    """Runs guarded SQL on one DuckDB file, read-only and sandboxed.

    ``isolation="process"`` (the default) runs DuckDB in a long-lived worker process. A query
    is interrupted at ``timeout_s``; if it has not answered ``kill_grace_s`` later (a single
    huge function call that an interrupt cannot stop), the worker is killed and a fresh one
    started, so no query runs far past its timeout. The worker's address space is also bounded
    (twice ``memory_limit`` plus 2 GiB), because DuckDB's ``memory_limit`` does not cover one
    huge value. Cost: about a millisecond per query for the round trip and the Arrow IPC copy.

    ``isolation="thread"`` keeps the connection in this process: no round trip, but a timeout
    is only an interrupt, which some work ignores until it finishes, and memory is bounded
    only by ``memory_limit``. Use it where per-query overhead matters more than the hard bound.

    Either way the connection is the same sandbox (see ``skipper.engine._sandbox``); one query
    runs at a time per engine.
    """

    dialect = "duckdb"

    def __init__(
        self,
        database: str | Path,
        *,
        memory_limit: str = "2GB",
        threads: int = 2,
        isolation: Isolation = "process",
        kill_grace_s: float = 1.5,
        mask_salt: str | None = None,
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
        self.memory_limit = memory_limit
        self.threads = threads
        self.isolation: Isolation = isolation
        self.kill_grace_s = kill_grace_s
        self._lock = threading.Lock()
        self._closed = False
        self._worker: WorkerProcess | None = None
        self._sandbox: Sandbox | None = None
        self._mask_salt = mask_salt
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
    def execute(self, sql: str, *, max_rows: int | None = None,
                timeout_s: float | None = None) -> Result:
        """Run one read query; keep at most ``max_rows`` rows, count them all."""
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError("timeout_s must be positive")
        with self._lock:
            self._check_open()
            started = time.perf_counter()
            if self._sandbox is not None:
                output = self._sandbox.run(sql, max_rows=max_rows, timeout_s=timeout_s)
                return Result(table=output.table, row_count=output.row_count,
                              truncated=output.truncated,
                              duration_s=time.perf_counter() - started,
                              columns=output.columns, types=output.types,
                              result_hash=output.result_hash)
            request = {"op": "execute", "sql": sql, "max_rows": max_rows, "timeout_s": timeout_s}
            deadline = None if timeout_s is None else timeout_s + self.kill_grace_s
            header, table = self._ask(request, deadline, timeout_s)
            assert table is not None
            return Result(table=table, row_count=int(header["row_count"]),
                          truncated=bool(header["truncated"]),
                          duration_s=time.perf_counter() - started,
                          columns=list(header["columns"]), types=list(header["types"]),
                          result_hash=header.get("result_hash") or None)

    def introspect(self) -> list[TableInfo]:
        """Every user table and view with its columns, keys and row count."""
        with self._lock:
            self._check_open()
            if self._sandbox is not None:
                return introspect(self._sandbox.con)
            header, _ = self._ask({"op": "introspect"}, None, None)
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

    def _ask(self, request: dict[str, Any], deadline_s: float | None,
             timeout_s: float | None) -> tuple[dict[str, Any], pa.Table | None]:
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
            deadline = None if deadline_s is None else time.monotonic() + deadline_s
            header, payload = worker.request(request, deadline)
        except WorkerOverdue:
            self._replace_worker()
            raise timeout_error(timeout_s, hard=True) from None
        except WorkerCrashed:
            how = worker.exit_description()
            self._replace_worker()
            raise EngineError(
                f"the DuckDB worker process died ({how}); the query did not finish. "
                "A fresh worker will run the next query.",
                code="engine.crashed",
            ) from None
        except BaseException:
            # Interrupted while waiting (Ctrl-C): the worker's state is unknown.
            self._replace_worker()
            raise
        if not header.get("ok"):
            raise rebuild_error(header["error"])
        return header, payload

    def _replace_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
        self._worker = WorkerProcess(self._settings, mask_salt=self._mask_salt)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("this engine is closed", code="engine.closed")


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

