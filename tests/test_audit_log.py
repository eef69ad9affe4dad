"""The audit log: records, the hash chain, tamper detection, torn writes, concurrent writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from skipper.audit import GENESIS, AuditLog, AuditRecord, hash_sql
from skipper.clock import FixedClock
from skipper.errors import AuditError, AuditRecordNotFoundError, AuditTamperedError


def record_fields(n: int = 0, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "user": "ana", "groups": ["analysts"], "question": f"question {n}", "planner": "sql",
        "sql": f"SELECT {n} AS n", "catalog_version": "v1", "tables": ["accounts"],
        "columns": {"accounts": ["plan"]}, "freshness": {"accounts": {"stale": False}},
        "row_count": n, "truncated": False, "result_hash": "ab" * 32, "duration_ms": 1.5,
        "outcome": "ok",
    }
    fields.update(overrides)
    return fields


def filled(path: Path, count: int = 5, **options: object) -> AuditLog:
    log = AuditLog(path, clock=FixedClock("2026-06-30"), **options)  # type: ignore[arg-type]
    for n in range(1, count + 1):
        log.append(**record_fields(n))
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_append_seals_and_chains(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit.jsonl", 3)
    records = list(log.records())
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert all(r.time == "2026-06-30T23:59:59" for r in records)
    assert records[1].sql_hash == hash_sql("SELECT 2 AS n")
    assert len({r.id for r in records}) == 3 and all(len(r.id) == 16 for r in records)
    assert [r.id[:10] for r in records] == sorted(r.id[:10] for r in records)
    assert log.verify().ok and log.verify().count == 3


def test_every_field_round_trips(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    written = log.append(**record_fields(7, outcome="error",
                                         error={"code": "engine.timeout", "message": "slow"},
                                         policies=["pii_mask"], extra={"tokens": 12}))
    assert log.get(written.id) == written
    assert json.loads(lines(tmp_path / "audit.jsonl")[0])["error"] == {
        "code": "engine.timeout", "message": "slow"}


def test_line_is_one_json_object_with_fields_in_reading_order(tmp_path: Path) -> None:
    filled(tmp_path / "audit.jsonl", 1)
    line = lines(tmp_path / "audit.jsonl")[0]
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert list(json.loads(line))[:3] == ["id", "seq", "time"]
    assert list(json.loads(line)) == list(AuditRecord.model_fields)


@pytest.mark.parametrize("fields, words", [
    ({"seq": 9}, "assigns seq"),
    ({"hash": "x"}, "assigns hash"),
    ({"outcome": "maybe"}, "outcome"),
    ({"surprise": 1}, "surprise"),
    ({"sql": None}, "sql"),
])
def test_bad_records_are_refused(tmp_path: Path, fields: dict[str, object], words: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError, match=words) as caught:
        log.append(**record_fields(1, **fields))
    assert caught.value.code == "audit.invalid_record"
    assert not (tmp_path / "audit.jsonl").exists() or log.verify().count == 0


def test_non_finite_numbers_are_stored_as_null(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    record = log.append(**record_fields(1, extra={"x": float("nan")}))
    assert log.get(record.id).extra == {"x": None}
    assert log.verify().ok


def test_get_tail_and_missing(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit.jsonl", 6)
    records = list(log.records())
    assert log.get(records[3].id) == records[3]
    assert [r.seq for r in log.tail(2)] == [5, 6]
    assert [r.seq for r in log.tail(50)] == [1, 2, 3, 4, 5, 6]
    assert log.tail(0) == []
    with pytest.raises(AuditRecordNotFoundError) as caught:
        log.get("nope")
    assert caught.value.code == "audit.not_found"


def test_empty_log(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "none.jsonl")
    assert list(log.records()) == [] and log.tail(3) == []
    report = log.verify()
    assert report.ok and report.count == 0


def test_beside_a_database(tmp_path: Path) -> None:
    log = AuditLog.beside(tmp_path / "lake.duckdb")
    assert log.path == tmp_path / "lake.duckdb.audit.jsonl"


# ---- tampering --------------------------------------------------------------------------

def problems_after(path: Path, change: object) -> list[str]:
    log = filled(path, 5)
    assert log.verify().ok
    change(path)  # type: ignore[operator]
    report = log.verify()
    assert not report.ok
    return report.problems


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    path.write_bytes(b"".join(new_lines))


def test_edited_field(tmp_path: Path) -> None:
    def edit(path: Path) -> None:
        all_lines = lines(path)
        all_lines[2] = all_lines[2].replace(b'"row_count":3', b'"row_count":4')
        rewrite(path, all_lines)

    problems = problems_after(tmp_path / "a.jsonl", edit)
    assert len(problems) == 1 and "seq 3" in problems[0] and "edited" in problems[0]


def test_edited_field_with_hash_recomputed_breaks_the_chain(tmp_path: Path) -> None:
    def forge(path: Path) -> None:
        from skipper.audit import _digest

        all_lines = lines(path)
        body = json.loads(all_lines[1])
        body["user"] = "mallory"
        body.pop("hash")
        body["hash"] = _digest(body)
        all_lines[1] = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        rewrite(path, all_lines)

    problems = problems_after(tmp_path / "a.jsonl", forge)
    assert any("seq 3" in p and "prev_hash" in p for p in problems)


def test_middle_line_deleted(tmp_path: Path) -> None:
    problems = problems_after(tmp_path / "a.jsonl",
                              lambda p: rewrite(p, [x for i, x in enumerate(lines(p)) if i != 2]))
    assert any("seq 4" in p and "expected seq 3" in p for p in problems)
    assert any("seq 4" in p and "prev_hash" in p for p in problems)


def test_last_line_deleted(tmp_path: Path) -> None:
    problems = problems_after(tmp_path / "a.jsonl", lambda p: rewrite(p, lines(p)[:-1]))
    assert any("seq 5..5 are missing from the end" in p for p in problems)


def test_last_two_lines_deleted(tmp_path: Path) -> None:
    problems = problems_after(tmp_path / "a.jsonl", lambda p: rewrite(p, lines(p)[:-2]))
    assert any("seq 4..5 are missing" in p for p in problems)


def test_lines_swapped(tmp_path: Path) -> None:
    def swap(path: Path) -> None:
        all_lines = lines(path)
        all_lines[1], all_lines[2] = all_lines[2], all_lines[1]
        rewrite(path, all_lines)

    problems = problems_after(tmp_path / "a.jsonl", swap)
    assert any("seq 3" in p and "expected seq 2" in p for p in problems)
    assert any("seq 2" in p and "expected seq 4" in p for p in problems)


def test_line_duplicated(tmp_path: Path) -> None:
    def duplicate(path: Path) -> None:
        all_lines = lines(path)
        rewrite(path, all_lines[:3] + [all_lines[2]] + all_lines[3:])

    problems = problems_after(tmp_path / "a.jsonl", duplicate)
    assert any("appears twice" in p for p in problems)


def test_torn_last_line(tmp_path: Path) -> None:
    def tear(path: Path) -> None:
        with open(path, "ab") as handle:
            handle.write(lines(path)[0][:40])

    problems = problems_after(tmp_path / "a.jsonl", tear)
    assert any("torn" in p for p in problems)


def test_garbage_line(tmp_path: Path) -> None:
    problems = problems_after(tmp_path / "a.jsonl",
                              lambda p: rewrite(p, lines(p)[:2] + [b"{not json\n"] + lines(p)[2:]))
    assert any("line 3" in p and "not valid JSON" in p for p in problems)


def test_head_removed_or_damaged(tmp_path: Path) -> None:
    log = filled(tmp_path / "a.jsonl", 3)
    head = tmp_path / "a.jsonl.head"
    saved = head.read_bytes()
    head.write_bytes(saved.replace(b'"seq":3', b'"seq":9'))
    assert any("damaged" in p for p in log.verify().problems)
    head.unlink()
    assert any("missing" in p for p in log.verify().problems)


# ---- appending to a damaged log ---------------------------------------------------------

def test_append_refuses_a_truncated_log(tmp_path: Path) -> None:
    log = filled(tmp_path / "a.jsonl", 3)
    rewrite(tmp_path / "a.jsonl", lines(tmp_path / "a.jsonl")[:-1])
    with pytest.raises(AuditTamperedError, match="records were removed"):
        log.append(**record_fields(9))


def test_append_refuses_to_chain_onto_a_torn_line(tmp_path: Path) -> None:
    log = filled(tmp_path / "a.jsonl", 3)
    with open(tmp_path / "a.jsonl", "ab") as handle:
        handle.write(b'{"id":"01abc","seq":4,"ti')
    before = (tmp_path / "a.jsonl").read_bytes()
    with pytest.raises(AuditError) as caught:
        log.append(**record_fields(9))
    assert caught.value.code == "audit.torn"
    assert (tmp_path / "a.jsonl").read_bytes() == before


def test_a_record_written_before_its_head_is_adopted(tmp_path: Path) -> None:
    """A writer that died between writing its line and moving the head left a complete,
    valid record: the next append chains onto it."""
    log = filled(tmp_path / "a.jsonl", 2)
    head = tmp_path / "a.jsonl.head"
    old_head = head.read_bytes()
    log.append(**record_fields(3))
    head.write_bytes(old_head)
    record = log.append(**record_fields(4))
    assert record.seq == 4
    assert log.verify().ok and log.verify().count == 4


def test_a_lost_head_is_rebuilt_from_a_valid_log(tmp_path: Path) -> None:
    log = filled(tmp_path / "a.jsonl", 2)
    (tmp_path / "a.jsonl.head").unlink()
    assert log.append(**record_fields(3)).seq == 3
    assert log.verify().ok


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    log = filled(tmp_path / "a.jsonl", 2)
    before = (tmp_path / "a.jsonl").read_bytes()
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(AuditError) as caught:
        log.append(**record_fields(3))
    monkeypatch.setattr(os, "write", real_write)
    assert caught.value.code == "audit.unwritable"
    assert "No space left" in caught.value.message
    assert (tmp_path / "a.jsonl").read_bytes() == before
    assert log.append(**record_fields(3)).seq == 3
    assert log.verify().ok


def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(AuditError) as caught:
        AuditLog(blocker / "audit.jsonl").append(**record_fields(1))
    assert caught.value.code == "audit.unwritable"
    assert "cannot write the audit log" in caught.value.message
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "dir.jsonl").append(**record_fields(1))


# ---- concurrency ------------------------------------------------------------------------

WRITER = """
import sys
from skipper.audit import AuditLog
log = AuditLog(sys.argv[1], fsync=False)
for n in range(int(sys.argv[2])):
    log.append(user=sys.argv[3], sql=f"SELECT {n}", outcome="ok", row_count=n)
"""


def test_concurrent_processes_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    per_writer = 40
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(per_writer),
                                   f"process-{i}"]) for i in range(4)]
    in_process = AuditLog(path)

    def write(name: str) -> None:
        for n in range(per_writer):
            in_process.append(user=name, sql=f"SELECT {n}", outcome="ok")

    threads = [threading.Thread(target=write, args=(f"thread-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(p.wait(timeout=120) == 0 for p in processes)
    report = in_process.verify()
    assert report.ok, report.problems
    records = list(in_process.records())
    assert report.count == len(records) == 7 * per_writer
    assert [r.seq for r in records] == list(range(1, 7 * per_writer + 1))
    assert len({r.id for r in records}) == len(records)
    by_writer: dict[str, list[int]] = {}
    for record in records:
        assert record.user is not None
        by_writer.setdefault(record.user, []).append(record.row_count)
    assert all(v == list(range(per_writer)) for k, v in by_writer.items() if "process" in k)


def test_verify_reads_a_log_it_cannot_lock(tmp_path: Path) -> None:
    filled(tmp_path / "a.jsonl", 2)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("a.jsonl", "a.jsonl.head"):
        (copy / name).write_bytes((tmp_path / name).read_bytes())
    (copy / "a.jsonl.lock").mkdir()  # the lock cannot be opened as a file
    report = AuditLog(copy / "a.jsonl").verify()
    assert report.ok and report.count == 2
    with pytest.raises(AuditError):
        AuditLog(copy / "a.jsonl").append(**record_fields(3))


def test_group_commit_writes_each_record_at_once_and_fsyncs_within_the_window(
    tmp_path: Path,
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", fsync_window_s=0.05)
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    os.fsync = counting_fsync
    try:
        for i in range(20):
            record = log.append(sql=f"SELECT {i}", outcome="ok")
            # Written to the file before append returns: another reader sees it at once.
            assert AuditLog(tmp_path / "audit.jsonl").get(record.id).sql == f"SELECT {i}"
        deadline = time.monotonic() + 2
        while not synced and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 1 <= len(synced) < 20, "appends share fsyncs"
        log.close()
    finally:
        os.fsync = real_fsync
    assert log.verify().ok and log.verify().count == 20
