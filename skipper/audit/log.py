"""The audit log file: records appended under a lock, chained, with a head saying where it ends."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from skipper.audit.chain import VerifyReport, adopt_tail, check_log, lines, parse
from skipper.audit.checkpoints import AuditKey, check_checkpoints, checkpoint_line, resolve_key
from skipper.audit.group_commit import GroupCommit, fsync_path
from skipper.audit.lock import file_lock
from skipper.audit.records import (
    GENESIS,
    AuditDraft,
    AuditRecord,
    check_outcome,
    draft_record,
    finish,
    new_id,
    seal,
)
from skipper.clock import Clock, SystemClock
from skipper.errors import AuditError, AuditRecordNotFoundError, AuditTamperedError

_HEAD_BYTES = 160
#: A checkpoint is signed every this many records (and on flush and close).
CHECKPOINT_EVERY = 64
#: How often a writer waiting for another process's lock tries again.
_LOCK_POLL_S = 0.0005


class AuditLog:
    """An append-only JSONL file of :class:`AuditRecord`, one per line, hash-chained.

    Writers in threads and processes take an exclusive lock on ``<log>.lock`` for each append
    (``skipper.audit.lock``: flock on POSIX, filelock's msvcrt lock on Windows). A head file
    (``<log>.head``, rewritten in one self-checking write under the lock) holds the latest seq,
    hash and log size, so removing the last records shows too.
    Each append is one ``write`` of a whole line, fsynced (unless ``fsync=False``) before the
    head moves; a failed write is cut back off, so nothing half-written stays.

    A log that does not end where its head says fails closed: ``append`` refuses (the answer
    is not given without its record) and says what to do. The one exception is a complete,
    valid record past the head, which a writer that crashed between the two writes left; it
    is adopted. A torn last line (a crash or a full disk mid-write) is never chained onto:
    ``verify`` names it and the log must be repaired by a person.

    With a ``key`` (an :class:`AuditKey`, or the path of a key file; default: the file
    ``$SKIPPER_AUDIT_KEY_FILE`` names, if set) the head is signed into ``<log>.checkpoints``
    every ``checkpoint_every`` records and on ``flush``/``close``/exit, so ``verify`` with the
    key detects records cut off the end, rewritten or a forged head (see
    ``skipper.audit.checkpoints``). The key file may not live in the log's directory.

    ``append`` is ``commit(prepare(...))``: a caller that knows most of a record before its
    result (``Skipper.sql`` while the engine runs) prepares it then and commits it after, so
    the checking and serializing are out of the way when the answer is waited for.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None, fsync: bool = True,
                 fsync_window_s: float = 0.0, key: AuditKey | str | Path | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
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
        self.checkpoints_path = self.path.with_name(self.path.name + ".checkpoints")
        if checkpoint_every < 1:
            raise AuditError("checkpoint_every must be at least 1", code="audit.invalid_config")
        self.key = resolve_key(key, self.path)
        self.checkpoint_every = checkpoint_every
        self._signed_seq = -1  # the last seq this object signed a checkpoint for
        self._file_lock = file_lock(self.lock_path)
        self.clock = clock or SystemClock()
        self.fsync = fsync
        self._thread_lock = threading.Lock()
        self._flusher = GroupCommit(self.path, fsync_window_s) if fsync and fsync_window_s \
            else None
        self._last: tuple[int, str, int, int] | None = None  # seq, hash, size, inode
        if self.key is not None:
            atexit.register(self.checkpoint)

    def flush(self) -> None:
        """Force every record written so far to disk (a no-op without a group commit), and
        sign a checkpoint of the head when there is a key."""
        if self._flusher is not None:
            self._flusher.flush()
        self.checkpoint()

    def close(self) -> None:
        """Flush and stop the group-commit flusher, if any; sign a last checkpoint."""
        if self._flusher is not None:
            self._flusher.close()
        self.checkpoint()
        if self.key is not None:
            atexit.unregister(self.checkpoint)

    def checkpoint(self) -> None:
        """Sign the head into the checkpoints file, unless this object signed it already or
        there is no key (or no log)."""
        if self.key is None or self._last is None or self._last[0] == self._signed_seq:
            return
        with self._locked():
            head = self._read_head()
            if head is not None:
                self._sign(int(head["seq"]), str(head["hash"]), int(head["size"]))

    @classmethod
    def beside(cls, database: str | Path, **options: Any) -> AuditLog:
        """The log stored next to a database: ``<database>.audit.jsonl``."""
        database = Path(database)
        return cls(database.with_name(database.name + ".audit.jsonl"), **options)

    # ---- writing -----------------------------------------------------------------------
    def append(self, **fields: Any) -> AuditRecord:
        """Seal ``fields`` into the next record and write it; the record as written."""
        return self.commit(self.prepare(**fields))

    def prepare(self, **fields: Any) -> AuditDraft:
        """Check ``fields`` as a record and serialize them, ahead of the result: no lock, no
        file, no seq. Raises ``audit.invalid_record`` as ``append`` would."""
        return draft_record(fields)

    def commit(self, draft: AuditDraft, **outcome: Any) -> AuditRecord:
        """Seal a prepared record, with the outcome fields ``row_count``, ``truncated``,
        ``result_hash`` and ``duration_ms`` if given (they replace the draft's), into the next
        record and write it; the record as written."""
        values, texts = check_outcome(outcome)
        with self._locked():
            if draft.committed:
                raise AuditError("this audit draft was committed already; prepare another",
                                 code="audit.invalid_record")
            fd, size, inode = self._open_log()
            created = fd is None
            try:
                seq, prev_hash = self._chain_point(size, inode)
                sealed, line = seal(draft, values, texts, record_id=new_id(draft.id_bits),
                                    seq=seq + 1, time=self.clock.now().isoformat(),
                                    prev_hash=prev_hash)
                if fd is None:
                    fd, inode = self._create_log()
                self._write_line(fd, line, size)
            finally:
                if fd is not None:
                    os.close(fd)
            draft.committed = True
            record = finish(draft, sealed)
            if created and self.fsync:
                fsync_path(self.path.parent)
            end = size + len(line)
            self._write_head(record.seq, record.hash, end)
            self._last = (record.seq, record.hash, end, inode)
            if self.key is not None and record.seq % self.checkpoint_every == 0:
                self._sign(record.seq, record.hash, end)
        return record

    def _sign(self, seq: int, digest: str, size: int) -> None:
        """Append a signed checkpoint of ``(seq, hash, size)``; the caller holds the lock."""
        assert self.key is not None
        line = checkpoint_line(self.key, seq=seq, digest=digest, size=size,
                               time=self.clock.now().isoformat())
        try:
            fd = os.open(self.checkpoints_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise _unwritable(self.checkpoints_path, error) from None
        self._signed_seq = seq

    def _open_log(self) -> tuple[int | None, int, int]:
        """The log opened for appending, its size and inode; no descriptor (and size 0) when
        there is no log yet, which only a write creates."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            return None, 0, 0
        except OSError as error:
            raise _unwritable(self.path, error) from None
        try:
            stat = os.fstat(fd)
        except OSError as error:
            os.close(fd)
            raise _unwritable(self.path, error) from None
        return fd, stat.st_size, stat.st_ino

    def _create_log(self) -> tuple[int, int]:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise _unwritable(self.path, error) from None
        return fd, os.fstat(fd).st_ino

    def _chain_point(self, size: int, inode: int) -> tuple[int, str]:
        """The seq and hash to chain onto, or refuse a damaged log."""
        mine = self._last
        if mine is not None and mine[2] == size and mine[3] == inode and size:
            # Nobody appended since this log's own last append (same file, same size, checked
            # under the lock): chain onto what it wrote without re-reading the head.
            return mine[0], mine[1]
        head = self._read_head()
        if head is None:
            if size == 0:
                return 0, GENESIS
            head = {"seq": 0, "hash": GENESIS, "size": 0}  # the head is lost: check it all
        if size == head["size"]:
            return int(head["seq"]), str(head["hash"])
        if size < head["size"]:
            raise AuditTamperedError(
                f"the audit log {self.path} is shorter than its head says ({size} of "
                f"{head['size']} bytes): records were removed. Run `skipper audit verify`, then "
                "restore the log or move it aside to start a new one.",
                path=str(self.path))
        seq, last, problems = adopt_tail(self._read_bytes(head["size"]), head)
        if problems:
            raise AuditError(
                f"the audit log {self.path} does not end where its head says: {problems[0]}. "
                "Nothing is chained onto a damaged log; run `skipper audit verify`, then repair "
                "or move the log aside.",
                code="audit.torn", path=str(self.path))
        return seq, last

    def _write_line(self, fd: int, line: bytes, size: int) -> None:
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

    def _write_head(self, seq: int, digest: str, size: int) -> None:
        """Overwrite the head in place: one small write under the lock, self-checking, so a
        reader never sees half of it and a crash mid-write leaves a head that says so."""
        body = f'{{"seq":{seq},"hash":{encode_basestring(digest)},"size":{size}}}'
        check = hashlib.sha256(body.encode()).hexdigest()[:16]
        data = f"{body} {check}".ljust(_HEAD_BYTES - 1).encode() + b"\n"
        try:
            fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)  # at offset 0: just opened, not for appending
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
            try:
                try:
                    self._file_lock.acquire(poll_interval=_LOCK_POLL_S)
                except FileNotFoundError:
                    if not writing:
                        yield
                        return
                    self.lock_path.parent.mkdir(parents=True, exist_ok=True)
                    self._file_lock.acquire(poll_interval=_LOCK_POLL_S)
            except OSError as error:
                if writing:
                    raise _unwritable(self.lock_path, error) from None
                yield
                return
            try:
                yield
            finally:
                self._file_lock.release()

    # ---- reading -----------------------------------------------------------------------
    def records(self) -> Iterator[AuditRecord]:
        """Every readable record, oldest first (``verify`` is the integrity check)."""
        for _, line in lines(self._read_bytes(0)):
            record = parse(line)
            if isinstance(record, AuditRecord):
                yield record

    def get(self, record_id: str) -> AuditRecord:
        needle = f'"id":{encode_basestring(record_id)}'.encode("utf-8", "backslashreplace")
        for _, line in lines(self._read_bytes(0)):
            if needle in line:
                record = parse(line)
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
            record = parse(data[start:end].rstrip(b"\n"))
            if isinstance(record, AuditRecord):
                out.append(record)
            end = start
        return out[::-1]

    def verify(self, key: AuditKey | str | Path | None = None) -> VerifyReport:
        """Check every record's hash, the chain, the sequence and the head; with a key (this
        log's own when none is given) also the signed checkpoints: then the report says up to
        which record the log is proven authentic, and whether it was cut short or rewritten."""
        key = resolve_key(key, self.path) if key is not None else self.key
        with self._locked(writing=False):
            data = self._read_bytes(0)
            head = self._read_head()
            signed = self._read_checkpoints() if key is not None else b""
        report = check_log(data, head, self.head_path)
        if key is None:
            return report
        checked = check_checkpoints(signed, key, report.hashes, report.last_seq)
        report.authenticated = True
        report.checkpoints = checked.checkpoints
        report.verified_seq = checked.verified_seq
        report.verified_time = checked.verified_time
        report.problems.extend(checked.problems or [])
        if not checked.checkpoints and report.last_seq:
            report.problems.append(
                f"no checkpoint signed with key {key.id} was found in "
                f"{self.checkpoints_path.name}: nothing in the log can be authenticated")
        report.ok = not report.problems
        return report

    def _read_checkpoints(self) -> bytes:
        try:
            return self.checkpoints_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as error:
            raise AuditError(f"cannot read {self.checkpoints_path}: {error.strerror}",
                             path=str(self.checkpoints_path)) from None

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


def _unwritable(path: Path, error: OSError) -> AuditError:
    return AuditError(
        f"cannot write the audit log at {path}: {error.strerror or error}. Nothing is answered "
        "without its audit record; fix the permissions or pass another audit log path.",
        code="audit.unwritable", path=str(path))
