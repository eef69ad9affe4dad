"""prepare/commit: a record drafted ahead of its result, sealed in the same bytes append writes."""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import math
import os
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from skipper.audit import AuditLog, AuditRecord, new_id
from skipper.audit import log as audit_log
from skipper.audit import records as audit_records
from skipper.clock import FixedClock
from skipper.errors import AuditError

OUTCOME = {"row_count": 4, "truncated": True, "result_hash": "ab" * 32, "duration_ms": 12.345}


def drafted(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """What ``sk.sql`` knows before the result arrives."""
    fields: dict[str, Any] = {
        "user": "ana", "groups": ["analysts"], "question": f"question {n}", "planner": "sql",
        "sql": f"SELECT {n} AS n", "catalog_version": "v1", "tables": ["accounts"],
        "columns": {"accounts": ["plan"], "a_table": ["x"]},
        "freshness": {"accounts": {"stale": False, "age": "1 day"}}, "outcome": "ok",
        "policies": [], "extra": {"z": 1, "a": {"y": 2, "b": None}},
    }
    fields.update(overrides)
    return fields


def count_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids from a counter, so two logs written alike are alike byte for byte."""
    counter = itertools.count(1)
    monkeypatch.setattr(audit_log, "new_id", lambda bits=None: f"id{next(counter):014d}")


def test_prepare_then_commit_writes_what_append_writes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    count_ids(monkeypatch)
    appended = AuditLog(tmp_path / "appended.jsonl", clock=FixedClock("2026-06-30"))
    by_append = [appended.append(**drafted(n), **OUTCOME) for n in range(3)]
    count_ids(monkeypatch)
    committed = AuditLog(tmp_path / "committed.jsonl", clock=FixedClock("2026-06-30"))
    by_commit = [committed.commit(committed.prepare(**drafted(n)), **OUTCOME) for n in range(3)]
    assert (tmp_path / "committed.jsonl").read_bytes() == (tmp_path / "appended.jsonl"
                                                           ).read_bytes()
    assert (tmp_path / "committed.jsonl.head").read_bytes() == (
        tmp_path / "appended.jsonl.head").read_bytes()
    assert by_commit == by_append
    report = committed.verify()
    assert report.ok and report.count == 3
    line = (tmp_path / "committed.jsonl").read_bytes().splitlines()[0]
    assert list(json.loads(line)) == list(AuditRecord.model_fields)
    # The record commit returns is the record as read back, and a working pydantic model.
    for record in by_commit:
        assert committed.get(record.id) == record
        assert AuditRecord.model_validate(record.model_dump()) == record
        assert record.model_fields_set == {*drafted(), *OUTCOME, "sql_hash", "id", "seq", "time",
                                           "prev_hash", "hash"}


def test_commit_sets_the_outcome_over_the_draft(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    draft = log.prepare(**drafted(1), row_count=1, result_hash="old", duration_ms=1.0)
    record = log.commit(draft, row_count=7, duration_ms=3)
    assert (record.row_count, record.result_hash, record.duration_ms) == (7, "old", 3.0)
    assert isinstance(record.duration_ms, float)
    assert log.get(record.id) == record
    plain = log.commit(log.prepare(**drafted(2)))
    assert (plain.row_count, plain.truncated, plain.result_hash, plain.duration_ms) == (
        0, False, None, 0.0)
    assert log.verify().ok


@pytest.mark.parametrize("outcome, words", [
    ({"row_count": -1}, "row_count"),
    ({"row_count": True}, "row_count"),
    ({"row_count": 1.5}, "row_count"),
    ({"row_count": "3"}, "row_count"),
    ({"truncated": 1}, "truncated"),
    ({"truncated": "yes"}, "truncated"),
    ({"result_hash": 5}, "result_hash"),
    ({"duration_ms": float("nan")}, "duration_ms"),
    ({"duration_ms": float("inf")}, "duration_ms"),
    ({"duration_ms": True}, "duration_ms"),
    ({"duration_ms": "1"}, "duration_ms"),
    ({"user": "mallory"}, "not user"),
    ({"seq": 9}, "not seq"),
    ({"hash": "x"}, "not hash"),
])
def test_commit_refuses_bad_outcomes_and_writes_nothing(tmp_path: Path, outcome: dict[str, Any],
                                                        words: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(**drafted(1))
    before = (tmp_path / "audit.jsonl").read_bytes(), (tmp_path / "audit.jsonl.head").read_bytes()
    draft = log.prepare(**drafted(2))
    with pytest.raises(AuditError, match=words) as caught:
        log.commit(draft, **OUTCOME | outcome)
    assert caught.value.code == "audit.invalid_record"
    after = (tmp_path / "audit.jsonl").read_bytes(), (tmp_path / "audit.jsonl.head").read_bytes()
    assert after == before
    assert log.commit(draft, **OUTCOME).seq == 2  # the draft is still good
    assert log.verify().ok


@pytest.mark.parametrize("fields, words", [
    ({"seq": 9}, "assigns seq"),
    ({"id": "x", "time": "t"}, "assigns id, time"),
    ({"outcome": "maybe"}, "outcome"),
    ({"surprise": 1}, "surprise"),
    ({"sql": None}, "sql"),
    ({"duration_ms": float("nan")}, "cannot hold"),
    ({"extra": {1: 2}}, "extra"),
])
def test_prepare_refuses_what_append_refuses_and_touches_no_file(
    tmp_path: Path, fields: dict[str, Any], words: str,
) -> None:
    log = AuditLog(tmp_path / "not-yet" / "audit.jsonl")
    with pytest.raises(AuditError, match=words) as caught:
        log.prepare(**drafted(1, **fields))
    assert caught.value.code == "audit.invalid_record"
    log.prepare(**drafted(1))
    assert list(tmp_path.iterdir()) == []


def test_prepare_takes_no_lock(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(**drafted(1))
    holder = os.open(log.lock_path, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another writer holds the log
    try:
        began = time.monotonic()
        draft = log.prepare(**drafted(2))
        assert time.monotonic() - began < 5
    finally:
        os.close(holder)
    assert log.commit(draft).seq == 2


APPEND_ONE = """
import sys
from skipper.audit import AuditLog
AuditLog(sys.argv[1]).append(user="other-process", sql="SELECT 2", outcome="ok")
"""


def test_a_draft_waits_while_other_writers_append(tmp_path: Path) -> None:
    """A draft holds no seq: it takes its place in the chain when it is committed."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append(**drafted(1))
    draft = log.prepare(**drafted(9))
    AuditLog(path).append(**drafted(2))  # another log object on the same file
    subprocess.run([sys.executable, "-c", APPEND_ONE, str(path)], check=True, timeout=60)
    log.append(**drafted(4))
    record = log.commit(draft, **OUTCOME)
    records = list(log.records())
    assert record.seq == 5 and [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert record.prev_hash == records[3].hash
    assert records[2].user == "other-process"
    report = log.verify()
    assert report.ok and report.count == 5


def test_a_draft_is_committed_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    draft = log.prepare(**drafted(1))
    log.commit(draft)
    before = (tmp_path / "audit.jsonl").read_bytes()
    with pytest.raises(AuditError, match="committed already") as caught:
        log.commit(draft)
    assert caught.value.code == "audit.invalid_record"
    assert (tmp_path / "audit.jsonl").read_bytes() == before


def test_a_draft_again_commits_the_same_record_once_more(tmp_path: Path) -> None:
    """``again()`` is a fresh draft of the same fields (what ``sk.sql`` keeps for a query
    asked again): each copy commits once, as its own record, and the draft it came from
    stays uncommitted and unchanged."""
    log = AuditLog(tmp_path / "audit.jsonl")
    template = log.prepare(**drafted(1))
    first, second = template.again(), template.again()
    one = log.commit(first, **OUTCOME)
    two = log.commit(second, **{**OUTCOME, "row_count": 5})
    with pytest.raises(AuditError, match="committed already"):
        log.commit(first)
    assert not template.committed and template.record.id == "" and template.record.seq == 1
    assert one.id != two.id and (one.seq, two.seq) == (1, 2) and two.row_count == 5
    drop = {"id", "seq", "time", "prev_hash", "hash", "row_count"}
    assert one.model_dump(exclude=drop) == two.model_dump(exclude=drop)
    assert log.get(one.id) == one and log.get(two.id) == two
    assert log.verify().ok
    by_append = AuditLog(tmp_path / "appended.jsonl").append(**drafted(1), **OUTCOME)
    assert one.model_dump(exclude=drop) == by_append.model_dump(exclude=drop)


def test_a_failed_commit_leaves_the_draft_to_retry(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(**drafted(1))
    draft = log.prepare(**drafted(2))
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(AuditError):
        log.commit(draft)
    monkeypatch.setattr(os, "write", real_write)
    assert log.commit(draft).seq == 2
    assert log.verify().ok


# ---- the canonical form -----------------------------------------------------------------

def canonical_today(record: AuditRecord) -> bytes:
    """What a record's hash covers, built the way append built it before drafts."""
    body = record.model_dump(mode="json", exclude={"hash"})
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def line_today(record: AuditRecord) -> bytes:
    body = {**record.model_dump(mode="json", exclude={"hash"}), "hash": record.hash}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode() + b"\n"


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "none", "bool"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice(["a", "Z", "é", "日本", "😀", '"', "\\", "\n", "\x00", "\u2028",
                                   "%", "%s", "%(x)s", " ", "</script>"])
                       for _ in range(rng.randint(0, 6)))
    if kind == "int":
        return rng.choice([0, -1, 7, 2**53 + 1, 10**30, -(10**25)])
    if kind == "float":
        return rng.choice([12.345, 1e-7, 0.1 + 0.2, -0.0, 1e300, 5e-324, 3.0, 2.5e16])
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["b", "a", "Z", "é", "10", "9", "_", "a b", "日本"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_fields(rng: random.Random) -> dict[str, Any]:
    text = random_value
    return {
        "user": rng.choice([None, "ana", "日本 user", 'q"uote']),
        "groups": [str(text(rng)) for _ in range(rng.randint(0, 3))],
        "question": rng.choice([None, "How much?", "€ per % of users — ok?"]),
        "planner": rng.choice([None, "sql", "llm.describe_table"]),
        "sql": rng.choice(["SELECT 1", "SELECT '%' LIKE '%s%%', 'é' -- \u2028", "SELECT\n\t\"x\""]),
        "catalog_version": rng.choice([None, "c" * 64]),
        "tables": rng.sample(["z_last", "accounts", "billing_usage", "Äpfel"], rng.randint(0, 4)),
        "columns": {rng.choice(["t", "b", "a", "é"]): ["x", "y"][: rng.randint(0, 2)]
                    for _ in range(rng.randint(0, 3))},
        "freshness": {name: random_value(rng, 1) for name in rng.sample(["b", "a", "c"], 2)},
        "outcome": rng.choice(["ok", "refused", "error"]),
        "error": rng.choice([None, {"message": "m é %s", "code": "engine.timeout"}]),
        "policies": [random_value(rng, 1) for _ in range(rng.randint(0, 3))],
        "extra": {str(rng.randint(0, 20)): random_value(rng, 1) for _ in range(rng.randint(0, 4))},
    }


def test_sealed_bytes_are_the_canonical_form(tmp_path: Path) -> None:
    """The hash covers exactly json.dumps(sort_keys=True) of the record, and the line is the
    record in reading order, for records of every shape: logs written before drafts existed
    verify, and so do these."""
    rng = random.Random(20260630)
    log = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    fixed = [
        drafted(1, extra={"t": (1, 2), "d": date(2026, 1, 2), "b": b"x", "nan": float("nan"),
                          "inf": {"deep": [float("-inf")]}}),
        drafted(2, freshness={}, columns={}, extra={}, policies=[], groups=[], tables=[]),
        drafted(3, user=None, question=None, planner=None, catalog_version=None),
    ]
    written = []
    for fields in fixed + [random_fields(rng) for _ in range(300)]:
        outcome = {"row_count": rng.choice([0, 5, 10**18]), "truncated": rng.random() < 0.5,
                   "result_hash": rng.choice([None, "f" * 64]),
                   "duration_ms": rng.choice([0.0, 12.345, 1e-7, 3, 1e15])}
        record = log.commit(log.prepare(**fields), **outcome)
        assert record.hash == hashlib.sha256(canonical_today(record)).hexdigest()
        written.append(line_today(record))
    assert (tmp_path / "audit.jsonl").read_bytes() == b"".join(written)
    report = log.verify()
    assert report.ok and report.count == len(written)


def test_non_finite_numbers_inside_values_are_stored_as_null(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    record = log.commit(log.prepare(**drafted(1, extra={"x": float("nan")})))
    assert math.isnan(record.extra["x"])  # the record as given, as append returned it
    assert log.get(record.id).extra == {"x": None}


# ---- ids and group commit ---------------------------------------------------------------

def reference_id(milliseconds: int, random_bits: int) -> str:
    number = milliseconds << 30 | random_bits
    digits = []
    for _ in range(16):
        number, digit = divmod(number, 32)
        digits.append("0123456789abcdefghjkmnpqrstvwxyz"[digit])
    return "".join(reversed(digits))


def test_ids_are_milliseconds_then_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    for _ in range(500):
        milliseconds, bits = rng.randrange(2**41), rng.randrange(2**30)
        monkeypatch.setattr(audit_records._time, "time_ns", lambda m=milliseconds: m * 10**6)
        assert new_id(bits) == reference_id(milliseconds, bits)
    monkeypatch.undo()
    ids = [new_id() for _ in range(50)]
    assert len(set(ids)) == 50 and all(len(i) == 16 for i in ids)


def test_a_closed_group_commit_fsyncs_each_record(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", fsync_window_s=30)
    log.append(**drafted(1))
    log.close()
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    log.append(**drafted(2))
    assert len(synced) == 1
