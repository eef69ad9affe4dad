"""Signed checkpoints: the log's head sealed with a key kept away from the log, so whoever can
write the log's directory cannot cut the log short or rewrite it without it showing.

The chain and the head are plain SHA-256: anyone who can write the directory can drop the
newest records and write a matching head. A checkpoint is an HMAC-SHA256, under a secret the
log's directory does not hold, of ``(seq, hash, size, time)`` of the head; it is appended to
``<log>.checkpoints`` every ``checkpoint_every`` records and whenever the log is flushed or
closed. ``verify`` with the key then proves every record up to the last checkpoint is there,
unchanged (as CloudTrail's digest files do for its log files).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skipper.errors import AuditError

#: The environment variable naming the key file, when no key is passed.
KEY_ENV = "SKIPPER_AUDIT_KEY_FILE"
#: The file ``skipper audit keygen`` writes the hash mask's salt to, beside the key.
SALT_FILE = "mask.salt"
KEY_FILE = "audit.key"
_KEY_HEADER = "skipper-audit-key-v1"
_DOMAIN = b"skipper.audit.checkpoint.v1\n"


@dataclass(frozen=True)
class AuditKey:
    """The secret that signs checkpoints (HMAC-SHA256) and its public id (which key signed)."""

    secret: bytes

    @property
    def id(self) -> str:
        return hashlib.sha256(b"skipper.audit.key-id\n" + self.secret).hexdigest()[:16]

    @classmethod
    def generate(cls) -> AuditKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, path: str | Path) -> AuditKey:
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise AuditError(f"cannot read the audit key {path}: "
                             f"{getattr(error, 'strerror', None) or error}",
                             code="audit.bad_key", path=str(path)) from None
        header, _, value = text.strip().partition(" ")
        try:
            secret = bytes.fromhex(value)
        except ValueError:
            secret = b""
        if header != _KEY_HEADER or len(secret) < 16:
            raise AuditError(f"{path} is not an audit key (make one with `skipper audit keygen`)",
                             code="audit.bad_key", path=str(path))
        return cls(secret)

    def write(self, path: Path) -> None:
        """Write the key to a new file only its owner may read; never over an existing one."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise AuditError(f"{path} exists already; a key is never overwritten (the "
                             "checkpoints it signed could no longer be checked)",
                             code="audit.key_exists", path=str(path)) from None
        except OSError as error:
            raise AuditError(f"cannot write the audit key {path}: {error.strerror}",
                             code="audit.bad_key", path=str(path)) from None
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{_KEY_HEADER} {self.secret.hex()}\n")

    def sign(self, body: str) -> str:
        return hmac.new(self.secret, _DOMAIN + body.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the secret
        return f"AuditKey(id={self.id!r})"


def resolve_key(key: AuditKey | str | Path | None, log_path: Path) -> AuditKey | None:
    """The key to sign (or check) with: the one given, else ``$SKIPPER_AUDIT_KEY_FILE``'s, else
    none. A key file inside the log's directory is refused: whoever can write the log could
    read it and sign whatever they like."""
    if key is None:
        named = os.environ.get(KEY_ENV)
        if not named:
            return None
        key = Path(named)
    if isinstance(key, AuditKey):
        return key
    path = Path(key).expanduser().resolve()
    refuse_inside(path, log_path)
    return AuditKey.load(path)


def refuse_inside(key_path: Path, log_path: Path) -> None:
    directory = log_path.expanduser().resolve().parent
    if key_path.resolve().is_relative_to(directory):
        raise AuditError(
            f"the audit key {key_path} is inside the log's directory {directory}: whoever can "
            "write the log could read it and sign a forged log. Keep it elsewhere (another "
            "directory, owned by another user, or a secret store).",
            code="audit.key_beside_log", path=str(key_path))


def checkpoint_line(key: AuditKey, *, seq: int, digest: str, size: int, time: str) -> bytes:
    body = _body(seq=seq, digest=digest, size=size, time=time, key_id=key.id)
    return (body[:-1] + f',"mac":"{key.sign(body)}"}}\n').encode()


def _body(*, seq: int, digest: str, size: int, time: str, key_id: str) -> str:
    return json.dumps({"seq": seq, "hash": digest, "size": size, "time": time, "key": key_id},
                      separators=(",", ":"))


@dataclass
class CheckpointReport:
    """What the signed checkpoints prove about a log."""

    checkpoints: int = 0  # valid ones
    verified_seq: int = 0  # every record up to this seq is proven present and unchanged
    verified_time: str | None = None
    problems: list[str] | None = None


def check_checkpoints(data: bytes, key: AuditKey, hashes: dict[int, str],
                      last_seq: int) -> CheckpointReport:
    """Check each checkpoint's signature and that the log still holds the record it signed."""
    report = CheckpointReport(problems=[])
    problems: list[str] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        entry = _parse(line)
        if entry is None:
            problems.append(f"checkpoint line {number} is not a checkpoint (torn or edited)")
            continue
        seq, digest, time = int(entry["seq"]), str(entry["hash"]), str(entry["time"])
        body = _body(seq=seq, digest=digest, size=int(entry["size"]), time=time,
                     key_id=str(entry["key"]))
        if entry["key"] != key.id:
            problems.append(f"checkpoint line {number} (seq {seq}) was signed with key "
                            f"{entry['key']}, not with the given key {key.id}")
            continue
        if not hmac.compare_digest(key.sign(body), str(entry["mac"])):
            problems.append(f"checkpoint line {number} (seq {seq}): its signature does not match "
                            "(forged or edited)")
            continue
        report.checkpoints += 1
        if seq > last_seq:
            problems.append(f"the log was cut short: a checkpoint signed at {time} covers seq "
                            f"{seq}, but the log ends at seq {last_seq} (records "
                            f"{last_seq + 1}..{seq} were removed)")
        elif seq and hashes.get(seq) != digest:
            problems.append(f"seq {seq} is not the record the checkpoint signed at {time} "
                            "covers: the log was rewritten from there on")
        elif seq > report.verified_seq:
            report.verified_seq, report.verified_time = seq, time
    report.problems = problems
    return report


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    fields = {"seq": int, "hash": str, "size": int, "time": str, "key": str, "mac": str}
    if not isinstance(entry, dict) or set(entry) != set(fields) or not all(
            isinstance(entry[name], kind) and not isinstance(entry[name], bool)
            for name, kind in fields.items()):
        return None
    return entry
