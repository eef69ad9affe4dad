"""Checking the hash chain: each record's hash, its seq and prev_hash, the head, a torn end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from skipper.audit.records import GENESIS, AuditRecord, digest, first_problem


@dataclass
class VerifyReport:
    """What ``verify`` found: ``ok`` only when ``problems`` is empty.

    Without a key (``authenticated`` False) it checked integrity only: that the records are
    sealed, chained and end where the head says. Whoever can write the log's directory can
    rewrite all of that consistently. With a key, ``verified_seq`` is the last record a valid
    signed checkpoint proves present and unchanged (0: none); the ``count - verified_seq``
    records after it are chained but not yet signed."""

    ok: bool
    count: int
    problems: list[str] = field(default_factory=list)
    authenticated: bool = False
    checkpoints: int = 0
    verified_seq: int = 0
    verified_time: str | None = None
    last_seq: int = 0
    hashes: dict[int, str] = field(default_factory=dict, repr=False)


def check_log(data: bytes, head: dict[str, Any] | None, head_path: Path) -> VerifyReport:
    """Check a whole log's bytes against its head (None: missing, or damaged if the file
    at ``head_path`` exists)."""
    problems: list[str] = []
    hashes: dict[int, str] = {}
    count, last_seq, _ = check_chain(lines(data), 0, GENESIS, problems, hashes)
    if data and not data.endswith(b"\n"):
        problems.append(f"the last line (after seq {last_seq}) is torn: a write did not finish")
    if head is None:
        if head_path.exists():
            problems.append(f"the head file {head_path.name} is damaged (a crash mid-write, or "
                            "an edit); the next append rebuilds it")
        elif data:
            problems.append(f"the head file {head_path.name} is missing")
    else:
        if int(head["seq"]) > last_seq:
            problems.append(f"records seq {last_seq + 1}..{head['seq']} are missing from the "
                            f"end (the head says the last is seq {head['seq']})")
        elif hashes.get(int(head["seq"]), head["hash"]) != head["hash"]:
            problems.append(f"seq {head['seq']}: its hash differs from the head's")
        if int(head["size"]) != len(data) and int(head["seq"]) == last_seq:
            problems.append(f"the log is {len(data)} bytes but its head says {head['size']}")
    return VerifyReport(ok=not problems, count=count, problems=problems, last_seq=last_seq,
                        hashes=hashes)


def check_chain(numbered: Iterator[tuple[int, bytes]], seq: int, prev_hash: str,
                problems: list[str], hashes: dict[int, str] | None = None,
                ) -> tuple[int, int, str]:
    """Walk records after ``(seq, prev_hash)``; count them, append problems (and note each
    record's hash in ``hashes``); the last seq and hash reached."""
    count = 0
    seen: set[str] = set()
    for number, line in numbered:
        record = parse(line)
        if isinstance(record, str):
            problems.append(f"line {number} (after seq {seq}): {record}")
            continue
        count += 1
        where = f"seq {record.seq} (id {record.id})"
        body = json.loads(line)
        stored = body.pop("hash")
        if digest(body) != stored:
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


def adopt_tail(tail: bytes, head: dict[str, Any]) -> tuple[int, str, list[str]]:
    """Complete, valid records past the head (a writer died between log and head)."""
    problems: list[str] = []
    if not tail.endswith(b"\n"):
        problems.append("its last line is torn (a write did not finish)")
        return 0, "", problems
    _, seq, last = check_chain(lines(tail, first_line=0), int(head["seq"]), str(head["hash"]),
                               problems)
    return seq, last, problems


def lines(data: bytes, *, first_line: int = 1) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        if line:
            yield number, line


def parse(line: bytes) -> AuditRecord | str:
    """The record on a line, or what is wrong with it."""
    try:
        return AuditRecord.model_validate_json(line)
    except ValidationError as error:
        if not any(e["type"] == "json_invalid" for e in error.errors()):
            return f"not an audit record ({first_problem(error)})"
    # pydantic's JSON reader refuses a lone surrogate's escape (``\udcff``), which the log
    # writes for text Python holds but UTF-8 cannot: the standard library reads it back.
    try:
        body = json.loads(line)
    except ValueError:
        return "not valid JSON (torn or edited)"
    try:
        return AuditRecord.model_validate(body)
    except ValidationError as error:
        return f"not an audit record ({first_problem(error)})"
