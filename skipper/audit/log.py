"""The audit log: every execution and refusal, append-only and hash-chained, beside the data."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from skipper.clock import Clock, SystemClock
from skipper.errors import AuditError, AuditRecordNotFoundError, AuditTamperedError
from skipper.fingerprint import hash_result, hash_sql

__all__ = ["AuditLog", "AuditRecord", "VerifyReport", "hash_result", "hash_sql", "new_id"]

#: The ``prev_hash`` of the first record.
GENESIS = "0" * 64
#: Fields the log assigns; a caller passing one is a mistake.
_ASSIGNED = frozenset({"id", "seq", "time", "prev_hash", "hash"})
_HEAD_BYTES = 160


class AuditErrorInfo(TypedDict):
    """Why a query was refused or failed: the error's stable code and its message."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    code: str
    message: str


class AuditRecord(BaseModel):
    """One execution or refusal. ``hash`` covers every other field, ``prev_hash`` is the hash
    of the record before it, so editing, removing, inserting or reordering records shows."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seq: int = Field(ge=1)
    time: str  # ISO 8601, from the log's clock, exactly as stored
    user: str | None = None
    groups: list[str] = Field(default_factory=list)
    question: str | None = None
    planner: str | None = None
    sql: str
    sql_hash: str
    catalog_version: str | None = None
    tables: list[str] = Field(default_factory=list)
    columns: dict[str, list[str]] = Field(default_factory=dict)
    freshness: dict[str, Any] = Field(default_factory=dict)
    row_count: int = 0
    truncated: bool = False
    result_hash: str | None = None
    duration_ms: float = 0.0
    outcome: Literal["ok", "refused", "error"]
    error: AuditErrorInfo | None = None
    policies: list[Any] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


@dataclass
class VerifyReport:
    """What ``verify`` found: ``ok`` only when ``problems`` is empty."""

    ok: bool
    count: int
    problems: list[str] = field(default_factory=list)


class AuditLog:
    """An append-only JSONL file of :class:`AuditRecord`, one per line, hash-chained.

    Writers in threads and processes take an exclusive ``flock`` on ``<log>.lock`` for each
    append (POSIX). A head file (``<log>.head``, rewritten in one self-checking write under the
    lock) holds the latest seq, hash and log size, so removing the last records shows too.
    Each append is one ``write`` of a whole line, fsynced (unless ``fsync=False``) before the
    head moves; a failed write is cut back off, so nothing half-written stays.

    A log that does not end where its head says fails closed: ``append`` refuses (the answer
    is not given without its record) and says what to do. The one exception is a complete,
    valid record past the head, which a writer that crashed between the two writes left; it
    is adopted. A torn last line (a crash or a full disk mid-write) is never chained onto:
    ``verify`` names it and the log must be repaired by a person.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None, fsync: bool = True,
                 fsync_window_s: float = 0.0) -> None:
        """``fsync``: records are forced to disk (else they reach only the OS). With
        ``fsync_window_s`` > 0 the fsync is a group commit: each record is written to the file
        before ``append`` returns — so a crash of this process never loses one — and a
        background flusher fsyncs the file within that window, once for every record written
        meanwhile (what a power cut may lose is that window, as with auditd's default)."""
        if fsync_window_s < 0:
            raise AuditError("fsync_window_s must be zero or more", code="audit.invalid_config")
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.clock = clock or SystemClock()
        self.fsync = fsync
        self._thread_lock = threading.Lock()
        self._flusher = _Flusher(self.path, fsync_window_s) if fsync and fsync_window_s else None
        self._last: tuple[int, str, int, int | None] | None = None  # seq, hash, size, inode

    def flush(self) -> None:
        """Force every record written so far to disk (a no-op without a group commit)."""
        if self._flusher is not None:
            self._flusher.flush()

    def close(self) -> None:
        """Flush and stop the group-commit flusher, if any."""
        if self._flusher is not None:
            self._flusher.close()

    @classmethod
    def beside(cls, database: str | Path, **options: Any) -> AuditLog:
        """The log stored next to a database: ``<database>.audit.jsonl``."""
        database = Path(database)
        return cls(database.with_name(database.name + ".audit.jsonl"), **options)

    # ---- writing -----------------------------------------------------------------------
    def append(self, **fields: Any) -> AuditRecord:
        """Seal ``fields`` into the next record and write it; the record as written."""
        assigned = _ASSIGNED & fields.keys()
        if assigned:
            raise AuditError(f"the audit log assigns {', '.join(sorted(assigned))} itself",
                             code="audit.invalid_record")
        if "sql_hash" not in fields and isinstance(fields.get("sql"), str):
            fields["sql_hash"] = hash_sql(fields["sql"])
        with self._locked():
            seq, prev_hash, size = self._head_for_append()
            try:
                record = AuditRecord.model_validate({
                    **fields, "id": new_id(), "seq": seq + 1,
                    "time": self.clock.now().isoformat(),
                    "prev_hash": prev_hash, "hash": "",
                })
            except ValidationError as error:
                raise AuditError(f"invalid audit record: {_first_problem(error)}",
                                 code="audit.invalid_record") from None
            body = record.model_dump(mode="json", exclude={"hash"})
            record.hash = _digest(body)
            # The line keeps the fields in their reading order; the hash is over the sorted
            # (canonical) form, which verify rebuilds from the parsed line.
            line = _canonical({**body, "hash": record.hash}, sort=False) + b"\n"
            self._write_line(line, size)
            self._write_head(record.seq, record.hash, size + len(line))
            self._last = (record.seq, record.hash, size + len(line), _inode(self.path))
        return record

    def _head_for_append(self) -> tuple[int, str, int]:
        """The seq and hash to chain onto and the log's size, or refuse a damaged log."""
        try:
            stat = self.path.stat()
            size, inode = stat.st_size, stat.st_ino
        except FileNotFoundError:
            size, inode = 0, None
        mine = self._last
        if mine is not None and mine[2] == size and mine[3] == inode and size:
            # Nobody appended since this log's own last append (same file, same size, checked
            # under the lock): chain onto what it wrote without re-reading the head.
            return mine[0], mine[1], size
        head = self._read_head()
        if head is None:
            if size == 0:
                return 0, GENESIS, 0
            head = {"seq": 0, "hash": GENESIS, "size": 0}  # the head is lost: check it all
        if size == head["size"]:
            return int(head["seq"]), str(head["hash"]), size
        if size < head["size"]:
            raise AuditTamperedError(
                f"the audit log {self.path} is shorter than its head says ({size} of "
                f"{head['size']} bytes): records were removed. Run `skipper audit verify`, then "
                "restore the log or move it aside to start a new one.",
                path=str(self.path))
        seq, last, problems = _adopt_tail(self._read_bytes(head["size"]), head)
        if problems:
            raise AuditError(
                f"the audit log {self.path} does not end where its head says: {problems[0]}. "
                "Nothing is chained onto a damaged log; run `skipper audit verify`, then repair "
                "or move the log aside.",
                code="audit.torn", path=str(self.path))
        return seq, last, size

    def _write_line(self, line: bytes, size: int) -> None:
        try:
            created = size == 0 and not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise _unwritable(self.path, error) from None
        try:
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            if self._flusher is not None:
                self._flusher.mark()
            elif self.fsync:
                os.fsync(fd)
        except OSError as error:
            # Nothing half-written stays: cut the log back to where this append began.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise _unwritable(self.path, error) from None
        finally:
            os.close(fd)
        if created and self.fsync:
            _fsync(self.path.parent)

    def _write_head(self, seq: int, digest: str, size: int) -> None:
        """Overwrite the head in place: one small write under the lock, self-checking, so a
        reader never sees half of it and a crash mid-write leaves a head that says so."""
        body = json.dumps({"seq": seq, "hash": digest, "size": size}, separators=(",", ":"))
        check = hashlib.sha256(body.encode()).hexdigest()[:16]
        data = f"{body} {check}".ljust(_HEAD_BYTES - 1).encode() + b"\n"
        try:
            fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, data, 0)
            finally:
                os.close(fd)
        except OSError as error:
            raise _unwritable(self.head_path, error) from None

    def _read_head(self) -> dict[str, Any] | None:
        """The head, or None when there is none or it is damaged (then the log, which checks
        itself, is read in full instead)."""
        try:
            text = self.head_path.read_text()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise AuditError(f"cannot read the audit log's head {self.head_path}: "
                             f"{error.strerror}", path=str(self.head_path)) from None
        body, _, check = text.strip().rpartition(" ")
        if hashlib.sha256(body.encode()).hexdigest()[:16] != check:
            return None
        head: dict[str, Any] = json.loads(body)
        return head

    @contextlib.contextmanager
    def _locked(self, *, writing: bool = True) -> Iterator[None]:
        """Hold the log's lock. A reader of a log it cannot lock (read-only media, someone
        else's directory) reads without it; a writer cannot."""
        with self._thread_lock:
            fd = self._open_lock(writing=writing)
            if fd is None:
                yield
                return
            try:
                _lock_file(fd)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the lock

    def _open_lock(self, *, writing: bool) -> int | None:
        flags = os.O_RDWR | os.O_CREAT
        try:
            try:
                return os.open(self.lock_path, flags, 0o644)
            except FileNotFoundError:
                if not writing:
                    return None
                self.lock_path.parent.mkdir(parents=True, exist_ok=True)
                return os.open(self.lock_path, flags, 0o644)
        except OSError as error:
            if writing:
                raise _unwritable(self.lock_path, error) from None
            return None

    # ---- reading -----------------------------------------------------------------------
    def records(self) -> Iterator[AuditRecord]:
        """Every readable record, oldest first (``verify`` is the integrity check)."""
        for _, line in _lines(self._read_bytes(0)):
            record = _parse(line)
            if isinstance(record, AuditRecord):
                yield record

    def get(self, record_id: str) -> AuditRecord:
        needle = f'"id":"{record_id}"'.encode()
        for _, line in _lines(self._read_bytes(0)):
            if needle in line:
                record = _parse(line)
                if isinstance(record, AuditRecord) and record.id == record_id:
                    return record
        raise AuditRecordNotFoundError(f"no audit record {record_id!r} in {self.path}",
                                       record_id=record_id)

    def tail(self, n: int) -> list[AuditRecord]:
        """The last ``n`` readable records, oldest first."""
        if n <= 0:
            return []
        data = self._read_bytes(0)
        out: list[AuditRecord] = []
        end = len(data)
        while end > 0 and len(out) < n:
            start = data.rfind(b"\n", 0, end - 1) + 1
            record = _parse(data[start:end].rstrip(b"\n"))
            if isinstance(record, AuditRecord):
                out.append(record)
            end = start
        return out[::-1]

    def verify(self) -> VerifyReport:
        """Check every record's hash, the chain, the sequence and the head."""
        with self._locked(writing=False):
            data = self._read_bytes(0)
            head = self._read_head()
        problems: list[str] = []
        hashes: dict[int, str] = {}
        count, last_seq, last_hash = _check_chain(_lines(data), 0, GENESIS, problems, hashes)
        if data and not data.endswith(b"\n"):
            problems.append(f"the last line (after seq {last_seq}) is torn: a write did not "
                            "finish")
        if head is None:
            if self.head_path.exists():
                problems.append(f"the head file {self.head_path.name} is damaged (a crash "
                                "mid-write, or an edit); the next append rebuilds it")
            elif data:
                problems.append(f"the head file {self.head_path.name} is missing")
        else:
            if int(head["seq"]) > last_seq:
                problems.append(f"records seq {last_seq + 1}..{head['seq']} are missing from "
                                f"the end (the head says the last is seq {head['seq']})")
            elif hashes.get(int(head["seq"]), head["hash"]) != head["hash"]:
                problems.append(f"seq {head['seq']}: its hash differs from the head's")
            if int(head["size"]) != len(data) and int(head["seq"]) == last_seq:
                problems.append(f"the log is {len(data)} bytes but its head says {head['size']}")
        return VerifyReport(ok=not problems, count=count, problems=problems)

    def _read_bytes(self, start: int) -> bytes:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                return handle.read()
        except FileNotFoundError:
            return b""
        except OSError as error:
            raise AuditError(f"cannot read the audit log {self.path}: {error.strerror}",
                             path=str(self.path)) from None


# ---- checking ---------------------------------------------------------------------------

def _check_chain(lines: Iterator[tuple[int, bytes]], seq: int, prev_hash: str,
                 problems: list[str], hashes: dict[int, str] | None = None,
                 ) -> tuple[int, int, str]:
    """Walk records after ``(seq, prev_hash)``; count them, append problems (and note each
    record's hash in ``hashes``); the last seq and hash reached."""
    count = 0
    seen: set[str] = set()
    for number, line in lines:
        record = _parse(line)
        if isinstance(record, str):
            problems.append(f"line {number} (after seq {seq}): {record}")
            continue
        count += 1
        where = f"seq {record.seq} (id {record.id})"
        body = json.loads(line)
        stored = body.pop("hash")
        if _digest(body) != stored:
            problems.append(f"{where}: its contents do not match its hash (edited)")
        if record.seq != seq + 1:
            problems.append(f"{where}: expected seq {seq + 1} (a record was removed, inserted "
                            "or moved)")
        if record.prev_hash != prev_hash:
            problems.append(f"{where}: prev_hash does not match the record before it (a record "
                            "was removed, inserted, moved or edited)")
        if record.id in seen:
            problems.append(f"{where}: the id appears twice")
        seen.add(record.id)
        seq, prev_hash = record.seq, stored
        if hashes is not None:
            hashes[seq] = stored
    return count, seq, prev_hash


def _adopt_tail(tail: bytes, head: dict[str, Any]) -> tuple[int, str, list[str]]:
    """Complete, valid records past the head (a writer died between log and head)."""
    problems: list[str] = []
    if not tail.endswith(b"\n"):
        problems.append("its last line is torn (a write did not finish)")
        return 0, "", problems
    _, seq, last = _check_chain(_lines(tail, first_line=0), int(head["seq"]), str(head["hash"]),
                                problems)
    return seq, last, problems


def _lines(data: bytes, *, first_line: int = 1) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        if line:
            yield number, line


def _parse(line: bytes) -> AuditRecord | str:
    """The record on a line, or what is wrong with it."""
    try:
        return AuditRecord.model_validate_json(line)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            return "not valid JSON (torn or edited)"
        return f"not an audit record ({_first_problem(error)})"


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


# ---- hashing ----------------------------------------------------------------------------

def _canonical(value: Any, *, sort: bool = True) -> bytes:
    try:
        return json.dumps(value, sort_keys=sort, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()
    except ValueError as error:
        raise AuditError(f"an audit record cannot hold {error}",
                         code="audit.invalid_record") from None


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


# ---- ids and files ----------------------------------------------------------------------

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id() -> str:
    """16 characters: wall-clock milliseconds then 30 random bits, so ids sort by time."""
    number = (_time.time_ns() // 1_000_000) << 30 | secrets.randbits(30)
    chars = []
    for _ in range(16):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _lock_file(fd: int) -> None:
    """Wait for an exclusive ``flock`` on ``fd`` (other processes; threads of this one queue on
    ``_thread_lock``). Blocking, not polling: the kernel hands the lock to the next waiter as
    soon as it is released, and releases it by itself if its holder dies, so no lock goes
    stale. A holder keeps it for one append."""
    fcntl.flock(fd, fcntl.LOCK_EX)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class _Flusher:
    """Group commit: fsyncs one file at most ``window_s`` after it was written, on a daemon
    thread, so many appends share one fsync. ``flush`` forces it now; interpreter exit too."""

    def __init__(self, path: Path, window_s: float) -> None:
        self.path = path
        self.window_s = window_s
        self._dirty = False
        self._closed = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def mark(self) -> None:
        with self._wake:
            self._dirty = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="skipper-audit-fsync",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def flush(self) -> None:
        with self._wake:
            dirty, self._dirty = self._dirty, False
        if dirty:
            # fsync through any descriptor of the file flushes all of its written pages.
            _fsync(self.path)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self.flush()
        atexit.unregister(self.flush)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
            _time.sleep(self.window_s)  # let the appends of the window gather
            self.flush()


def _fsync(path: Path) -> None:
    """Force a file's (or a directory's entries') written data to disk, best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unwritable(path: Path, error: OSError) -> AuditError:
    return AuditError(
        f"cannot write the audit log at {path}: {error.strerror or error}. Nothing is answered "
        "without its audit record; fix the permissions or pass another audit log path.",
        code="audit.unwritable", path=str(path))
