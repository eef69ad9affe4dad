"""The DuckDB worker process: a child that holds the sandboxed connection, and the parent's
handle on it that kills and replaces the child when a query overruns its timeout."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa

import skipper
from skipper.engine import ColumnInfo, TableInfo
from skipper.errors import EngineError, QueryTimeoutError, SkipperError

#: How long a fresh worker may take to import DuckDB and open the database.
STARTUP_TIMEOUT_S = 60.0

_LENGTH = struct.Struct(">I")


# ---- the child --------------------------------------------------------------------------

def serve(fd: int, settings: dict[str, Any]) -> None:
    """Answer requests on ``fd`` until the parent says close or goes away.

    The first message on ``fd`` carries the secrets (the mask salt): argv, where ``settings``
    come from, is visible to every user in ``ps``."""
    from skipper.engine._sandbox import Sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = Connection(fd)
    limit = int(settings.get("address_space_bytes") or 0)
    if limit > 0:
        # memory_limit bounds DuckDB's buffer manager only; a single huge value (repeat(),
        # a list of a billion elements) is allocated outside it. This bounds the whole child.
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        secrets = json.loads(channel.recv_bytes())
    except (EOFError, OSError):
        return
    try:
        sandbox = Sandbox(Path(settings["database"]), memory_limit=settings["memory_limit"],
                          threads=int(settings["threads"]), mask_salt=secrets.get("mask_salt"))
    except SkipperError as error:
        channel.send_bytes(frame({"ok": False, "error": _error_payload(error)}))
        return
    channel.send_bytes(frame({"ok": True, "pid": os.getpid()}))
    while True:
        try:
            request = json.loads(channel.recv_bytes())
        except (EOFError, OSError):
            return
        if request.get("op") == "close":
            sandbox.close()
            return
        channel.send_bytes(answer(sandbox, request))


def answer(sandbox: Any, request: dict[str, Any]) -> pa.Buffer:
    """One framed answer; never raises, so the parent always hears back."""
    op = request.get("op")
    try:
        if op == "execute":
            output = sandbox.run(request["sql"], max_rows=request.get("max_rows"),
                                 timeout_s=request.get("timeout_s"))
            return frame({"ok": True, "row_count": output.row_count,
                          "truncated": output.truncated, "columns": output.columns,
                          "types": output.types, "result_hash": output.result_hash},
                         output.table)
        if op == "introspect":
            tables = introspect(sandbox.con)
            return frame({"ok": True, "tables": [asdict(table) for table in tables]})
        raise EngineError(f"unknown worker request {op!r}", code="engine.invalid_request")
    except SkipperError as error:
        failure: SkipperError = error
    except MemoryError:
        failure = EngineError("the query needed more memory than the engine's worker may use",
                              code="engine.out_of_memory")
    except Exception as error:  # noqa: BLE001 - the parent must always get an answer
        failure = EngineError(f"{type(error).__name__}: {error}", code="engine.error")
    return frame({"ok": False, "error": _error_payload(failure)})


def introspect(con: Any) -> list[TableInfo]:
    """The database's own description of its tables, read on a cursor of its own so no
    half-read result is left on the connection queries use."""
    from skipper.catalog.introspect import introspect_duckdb

    cursor = con.cursor()
    try:
        return introspect_duckdb(cursor)
    finally:
        cursor.close()


def frame(header: dict[str, Any], table: pa.Table | None = None) -> pa.Buffer:
    """One message: the header's length, the JSON header, then the table as an Arrow IPC
    stream, written into a single buffer so the rows are copied once."""
    head = json.dumps(header, default=str).encode()
    sink = pa.BufferOutputStream()
    sink.write(_LENGTH.pack(len(head)))
    sink.write(head)
    if table is not None:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()


def unframe(message: bytes) -> tuple[dict[str, Any], pa.Table | None]:
    (size,) = _LENGTH.unpack_from(message)
    header: dict[str, Any] = json.loads(message[_LENGTH.size:_LENGTH.size + size])
    rest = memoryview(message)[_LENGTH.size + size:]
    table = pa.ipc.open_stream(pa.py_buffer(rest)).read_all() if len(rest) else None
    return header, table


def _error_payload(error: SkipperError) -> dict[str, Any]:
    return {"type": type(error).__name__, "code": error.code, "message": error.message,
            "details": error.details}


# ---- the parent -------------------------------------------------------------------------

class WorkerOverdue(Exception):
    """The worker did not answer by its deadline."""


class WorkerCrashed(Exception):
    """The worker's end of the channel closed: it died."""


class WorkerProcess:
    """One child process running DuckDB. It is started at once and waited for on first use."""

    def __init__(self, settings: dict[str, Any], *, mask_salt: str | None = None) -> None:
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        package_root = str(Path(skipper.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (package_root, env.get("PYTHONPATH")) if part)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skipper.engine._worker", str(theirs.fileno()),
             json.dumps(settings)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr, env=env, start_new_session=True,
        )
        theirs.close()
        self.channel = Connection(ours.detach())
        self.ready = False
        self._finalizer = weakref.finalize(self, _kill, self.process)
        with contextlib.suppress(OSError):  # it died at once: wait_ready reports how
            self.channel.send_bytes(json.dumps({"mask_salt": mask_salt}).encode())

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> None:
        if self.ready:
            return
        header, _ = self.receive(time.monotonic() + STARTUP_TIMEOUT_S)
        if not header.get("ok"):
            raise rebuild_error(header["error"])
        self.ready = True

    def request(self, message: dict[str, Any],
                deadline: float | None) -> tuple[dict[str, Any], pa.Table | None]:
        """Send one request; the answer's header and, for results, the table."""
        try:
            self.channel.send_bytes(json.dumps(message).encode())
        except (OSError, EOFError) as error:
            raise WorkerCrashed from error
        return self.receive(deadline)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def receive(self, deadline: float | None) -> tuple[dict[str, Any], pa.Table | None]:
        try:
            if deadline is not None and not self.channel.poll(max(deadline - time.monotonic(), 0)):
                raise WorkerOverdue
            return unframe(self.channel.recv_bytes())
        except (EOFError, ConnectionError) as error:
            raise WorkerCrashed from error

    def kill(self) -> None:
        self._finalizer.detach()
        _kill(self.process)
        self.channel.close()

    def stop(self, wait_s: float = 2.0) -> None:
        """Ask the worker to close the database and exit; kill it if it does not."""
        try:
            self.channel.send_bytes(b'{"op": "close"}')
            self.process.wait(timeout=wait_s)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def exit_description(self) -> str:
        """How the worker died, with the tail of what it wrote to stderr."""
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(size - 600, 0))
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()
        return how + (f": {tail[-1]}" if tail else "")


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def rebuild_error(payload: dict[str, Any]) -> EngineError:
    """The parent's copy of an error the worker raised."""
    cls = QueryTimeoutError if payload.get("type") == "QueryTimeoutError" else EngineError
    return cls(payload["message"], code=payload["code"], **(payload.get("details") or {}))


def rebuild_tables(rows: list[dict[str, Any]]) -> list[TableInfo]:
    return [
        TableInfo(
            name=row["name"], schema=row["schema"],
            columns=[ColumnInfo(**column) for column in row["columns"]],
            primary_key=list(row["primary_key"]), row_count=int(row["row_count"]),
            foreign_keys=[(list(cols), ref, list(ref_cols))
                          for cols, ref, ref_cols in row.get("foreign_keys", [])],
            is_view=bool(row.get("is_view", False)),
        )
        for row in rows
    ]


if __name__ == "__main__":
    serve(int(sys.argv[1]), json.loads(sys.argv[2]))
