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
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

import skipper
from skipper.engine import ColumnInfo, TableInfo
from skipper.errors import (
    EngineError,
    QueryTimeoutError,
    SkipperError,
    UncheckableError,
    UnknownTableError,
)

if TYPE_CHECKING:
    from skipper.engine.relations import Allowed

#: How long a fresh worker may take to import DuckDB and open the database.
STARTUP_TIMEOUT_S = 60.0

_LENGTH = struct.Struct(">Q")  # a message
_HEADER = struct.Struct(">I")  # a frame's JSON header
_READ_AHEAD = 65536  # bytes one read may bring of a small message and what follows it
_GATHER = 64  # buffers one gathered send takes at most


# ---- the child --------------------------------------------------------------------------

def serve(fd: int, settings: dict[str, Any]) -> None:
    """Answer requests on ``fd`` until the parent says close or goes away.

    The first message on ``fd`` carries the secrets (the mask salt): argv, where ``settings``
    come from, is visible to every user in ``ps``."""
    from skipper.engine._sandbox import Sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = Channel(socket.socket(fileno=fd))
    limit = int(settings.get("address_space_bytes") or 0)
    if limit > 0:
        # memory_limit bounds DuckDB's buffer manager only; a single huge value (repeat(),
        # a list of a billion elements) is allocated outside it. This bounds the whole child.
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        secrets = json.loads(bytes(channel.receive()))
    except (EOFError, OSError):
        return
    try:
        sandbox = Sandbox(Path(settings["database"]), memory_limit=settings["memory_limit"],
                          threads=int(settings["threads"]), mask_salt=secrets.get("mask_salt"))
    except SkipperError as error:
        channel.send(frame({"ok": False, "error": _error_payload(error)}))
        return
    channel.send(frame({"ok": True, "pid": os.getpid()}))
    while True:
        try:
            request = json.loads(bytes(channel.receive()))
        except (EOFError, OSError):
            return
        op = request.get("op")
        if op == "close":
            sandbox.close()
            return
        if op == "execute":
            execute(sandbox, request, channel)
        elif op == "introspect":
            tables, failure = attempt(lambda: {"ok": True, "tables": [
                asdict(table) for table in introspect(sandbox.con)]})
            channel.send(frame(failure or tables))
        else:
            unknown = EngineError(f"unknown worker request {op!r}", code="engine.invalid_request")
            channel.send(frame({"ok": False, "error": _error_payload(unknown)}))


def execute(sandbox: Any, request: dict[str, Any], channel: Channel) -> None:
    """Run the query and answer with one message: the relations its bound plan read, the
    counts, the fingerprint of every row and the kept rows. (Hashing after sending the rows,
    for the parent to read them meanwhile, gained nothing: the parent woken by the rows runs
    on this process's core while this one waits, and a second message costs a second wake.)

    With ``allowed`` in the request, the query is first bound and its relations checked (the
    second wall); a refusal ends the request there. When the request asks for them
    (``early_relations``: the parent has not seen this text bound before), the relations also
    go back in a message of their own before the query runs, so the parent drafts the audit
    record from them while the rows are being made; otherwise the parent drafted it from the
    relations of the text's last run and checks them against the ones the rows come with."""
    relations = None
    if request.get("allowed") is not None:
        allowed = _allowed(request["allowed"])
        relations, failure = attempt(lambda: sandbox.bind(
            request["sql"], allowed, timeout_s=request.get("timeout_s")))
        if failure is not None:
            channel.send(frame(failure))
            return
        if request.get("early_relations", True):
            channel.send(frame({"ok": True, "relations": relations}))
    output, failure = attempt(lambda: sandbox.run(request["sql"],
                                                  max_rows=request.get("max_rows"),
                                                  timeout_s=request.get("timeout_s"),
                                                  max_bytes=request.get("max_bytes"),
                                                  ordered=bool(request.get("ordered"))))
    if failure is not None:
        channel.send(frame(failure))
        return
    # The rows left out were fingerprinted while streaming; the kept ones are added now.
    digest, failure = attempt(output.finish_fingerprint)
    if failure is not None:
        channel.send(frame(failure))
        return
    channel.send(frame({"ok": True, "relations": relations, "row_count": output.row_count,
                        "truncated": output.truncated, "truncated_by": output.truncated_by,
                        "types": output.types, "result_hash": digest,
                        "result_hash_kind": output.fingerprint.kind}, output.table))


#: What queries may read, by the text the parent sends it as (it sends the same few again).
_ALLOWED: dict[str, Allowed] = {}


def _allowed(text: str) -> Allowed:
    from skipper.engine.relations import Allowed

    found = _ALLOWED.get(text)
    if found is None:
        if len(_ALLOWED) >= 256:
            _ALLOWED.clear()
        found = _ALLOWED[text] = Allowed.from_text(text)
    return found


def attempt(call: Callable[[], Any]) -> tuple[Any, dict[str, Any] | None]:
    """``call()``'s value, or the failure header to send instead: the parent always hears
    back, whatever went wrong here."""
    try:
        return call(), None
    except SkipperError as error:
        failure: SkipperError = error
    except MemoryError:
        failure = EngineError("the query needed more memory than the engine's worker may use",
                              code="engine.out_of_memory")
    except Exception as error:  # noqa: BLE001 - the parent must always get an answer
        failure = EngineError(f"{type(error).__name__}: {error}", code="engine.error")
    return None, {"ok": False, "error": _error_payload(failure)}


def introspect(con: Any) -> list[TableInfo]:
    """The database's own description of its tables, read on a cursor of its own so no
    half-read result is left on the connection queries use."""
    from skipper.catalog.introspect import introspect_duckdb

    cursor = con.cursor()
    try:
        return introspect_duckdb(cursor)
    finally:
        cursor.close()


def frame(header: dict[str, Any], table: pa.Table | None = None) -> list[bytes | pa.Buffer]:
    """One message, as the pieces ``Channel.send`` sends back to back: the header's length and
    the JSON header, then the table (if any) in Arrow's IPC format.

    A table of plain columns goes as its schema and record batches, each serialized once and
    read back with ``pa.ipc.read_schema`` / ``read_record_batch`` (their sizes in the header's
    ``ipc``): less work on both sides than a stream writer and reader, which a small result
    would mostly spend on. Dictionary-encoded and nested columns go as an IPC stream (``ipc``
    absent): their dictionaries travel in messages of their own."""
    if table is None:
        head = json.dumps(header, default=str).encode()
        return [_HEADER.pack(len(head)) + head]
    if all(_plain(kind) for kind in table.schema.types):
        pieces: list[bytes | pa.Buffer] = [table.schema.serialize()]
        pieces.extend(batch.serialize() for batch in table.to_batches())
        head = json.dumps({**header, "ipc": [len(piece) for piece in pieces]},
                          default=str).encode()
        head += b" " * (-(_HEADER.size + len(head)) % 8)  # the IPC pieces start 8-aligned
        return [_HEADER.pack(len(head)) + head, *pieces]
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    head = json.dumps(header, default=str).encode()
    return [_HEADER.pack(len(head)) + head, sink.getvalue()]


def unframe(message: memoryview) -> tuple[dict[str, Any], pa.Table | None]:
    (size,) = _HEADER.unpack_from(message)
    start = _HEADER.size + size
    header: dict[str, Any] = json.loads(bytes(message[_HEADER.size:start]))
    if start == len(message):
        return header, None
    body = pa.py_buffer(message)
    sizes = header.pop("ipc", None)
    if sizes is None:
        return header, pa.ipc.open_stream(body.slice(start)).read_all()
    schema = _schema(body.slice(start, sizes[0]))
    batches = []
    start += sizes[0]
    for length in sizes[1:]:
        batches.append(pa.ipc.read_record_batch(body.slice(start, length), schema))
        start += length
    return header, pa.Table.from_batches(batches, schema)


#: Schemas read, by their IPC bytes: a query's result has the same one run after run.
_SCHEMAS: dict[bytes, pa.Schema] = {}


def _schema(serialized: pa.Buffer) -> pa.Schema:
    key = serialized.to_pybytes()
    schema = _SCHEMAS.get(key)
    if schema is None:
        if len(_SCHEMAS) >= 512:
            _SCHEMAS.clear()
        schema = _SCHEMAS[key] = pa.ipc.read_schema(serialized)
    return schema


#: Whether a column of a type (by Arrow type id) has neither a dictionary nor children.
_PLAIN: dict[int, bool] = {}


def _plain(kind: pa.DataType) -> bool:
    plain = _PLAIN.get(kind.id)
    if plain is None:
        plain = _PLAIN[kind.id] = not (pa.types.is_nested(kind) or pa.types.is_dictionary(kind)
                                       or isinstance(kind, pa.BaseExtensionType))
    return plain


class Channel:
    """Length-prefixed messages over a connected stream socket, with an optional deadline on
    receiving. It runs for every query, so a small message (its length and body, often the
    next message too) comes in with one read, and a large one straight into its own buffer
    (``multiprocessing.connection`` builds a selector per poll and a BytesIO per read)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._spare = b""  # read past the last message: the start of the next

    def send(self, message: bytes | pa.Buffer | list[bytes | pa.Buffer]) -> None:
        """Send one message, given whole or as pieces (sent back to back, not joined)."""
        pieces = message if isinstance(message, list) else [message]
        size = sum(len(piece) for piece in pieces)
        if size < _READ_AHEAD:
            self.sock.sendall(b"".join([_LENGTH.pack(size), *map(bytes, pieces)]))
            return
        # No copy of big results: gathered writes, as much as the socket takes each time
        # (at most _GATHER pieces a call, under any system's limit).
        views: list[memoryview] = [memoryview(_LENGTH.pack(size))]
        views.extend(memoryview(piece) for piece in pieces)
        while views:
            sent = self.sock.sendmsg(views[:_GATHER])
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if sent:
                views[0] = views[0][sent:]

    def receive(self, deadline: float | None = None) -> memoryview:
        """The next message. TimeoutError past ``deadline`` (time.monotonic()), EOFError when
        the other end has closed."""
        (size,) = _LENGTH.unpack(self._take(_LENGTH.size, deadline))
        return self._take(size, deadline)

    def close(self) -> None:
        self.sock.close()

    def _take(self, size: int, deadline: float | None) -> memoryview:
        """The next ``size`` bytes of the stream."""
        if len(self._spare) >= size:
            taken, self._spare = self._spare[:size], self._spare[size:]
            return memoryview(taken)
        view = memoryview(bytearray(size))
        got = len(self._spare)
        view[:got] = self._spare
        self._spare = b""
        while got < size:
            self._wait(deadline)
            if size - got < _READ_AHEAD:
                chunk = self.sock.recv(_READ_AHEAD)
                used = min(len(chunk), size - got)
                view[got:got + used] = chunk[:used]
                self._spare = chunk[used:]
            else:
                chunk = b""
                used = self.sock.recv_into(view[got:])
            if not used and not chunk:
                raise EOFError
            got += used
        return view

    def _wait(self, deadline: float | None) -> None:
        if deadline is None:
            self.sock.settimeout(None)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)


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
        # Started in the package's own directory: ``-m`` puts the working directory first on
        # the child's path, and the caller's may hold another `skipper` (a checkout) or a module
        # named like a dependency; the worker must run this process's code, and only it.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skipper.engine._worker", str(theirs.fileno()),
             json.dumps(settings)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._stderr, env=env, start_new_session=True, cwd=package_root,
        )
        theirs.close()
        self.channel = Channel(ours)
        self.ready = False
        self._finalizer = weakref.finalize(self, _kill, self.process)
        with contextlib.suppress(OSError):  # it died at once: wait_ready reports how
            self.channel.send(json.dumps({"mask_salt": mask_salt}).encode())

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

    def send(self, message: dict[str, Any]) -> None:
        """Send one request; its answer comes from ``receive`` (an execute answers once, or
        twice when asked to send the relations ahead)."""
        try:
            self.channel.send(json.dumps(message).encode())
        except OSError as error:
            raise WorkerCrashed from error

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def receive(self, deadline: float | None) -> tuple[dict[str, Any], pa.Table | None]:
        """The next message's header and table; WorkerOverdue past ``deadline``."""
        try:
            return unframe(self.channel.receive(deadline))
        except TimeoutError:
            raise WorkerOverdue from None
        except (EOFError, OSError) as error:
            raise WorkerCrashed from error

    def kill(self) -> None:
        self._finalizer.detach()
        _kill(self.process)
        self.channel.close()

    def stop(self, wait_s: float = 2.0) -> None:
        """Ask the worker to close the database and exit; kill it if it does not."""
        try:
            self.channel.send(b'{"op": "close"}')
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


def rebuild_error(payload: dict[str, Any]) -> SkipperError:
    """The parent's copy of an error the worker raised."""
    cls = _REBUILT.get(str(payload.get("type")), EngineError)
    return cls(payload["message"], code=payload["code"], **(payload.get("details") or {}))


#: Errors the worker raises that the parent rebuilds as their own class (others: EngineError).
_REBUILT: dict[str, type[SkipperError]] = {
    "QueryTimeoutError": QueryTimeoutError, "UnknownTableError": UnknownTableError,
    "UncheckableError": UncheckableError,
}


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
