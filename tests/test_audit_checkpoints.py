"""Tamper evidence against someone who can write the log's directory: signed checkpoints of the
head, checked by `verify` with a key the directory does not hold. Each attack rewrites the log
*consistently* (hashes, chain and head recomputed), so integrity checks alone pass."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from skipper.audit import AuditKey, AuditLog
from skipper.audit.records import digest
from skipper.errors import AuditError

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 20
EVERY = 4


@pytest.fixture()
def key_path(tmp_path: Path) -> Path:
    (tmp_path / "secrets").mkdir()
    path = tmp_path / "secrets" / "audit.key"
    AuditKey.generate().write(path)
    return path


def write_log(tmp_path: Path, key_path: Path, n: int = RECORDS) -> AuditLog:
    log = AuditLog(tmp_path / "logs" / "lake.audit.jsonl", key=key_path, checkpoint_every=EVERY)
    for i in range(n):
        log.append(user=f"u{i}", sql=f"SELECT {i}", outcome="ok", row_count=i)
    log.close()
    return log


def rewrite(log: AuditLog, keep: int | None = None, edit: dict[int, dict[str, object]] | None
            = None) -> None:
    """What an attacker with write access does: keep the first ``keep`` records, edit some,
    re-seal and re-chain every record, and write a matching head."""
    bodies = [json.loads(line) for line in log.path.read_bytes().splitlines()][:keep]
    prev = "0" * 64
    out = []
    for body in bodies:
        body.update((edit or {}).get(body["seq"], {}))
        body["prev_hash"] = prev
        body.pop("hash")
        body["hash"] = prev = digest(body)
        out.append(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
    data = ("\n".join(out) + "\n").encode()
    log.path.write_bytes(data)
    log.head_path.unlink()
    AuditLog(log.path)._write_head(bodies[-1]["seq"], prev, len(data))


def test_an_untouched_log_is_authentic_up_to_its_last_record(tmp_path: Path,
                                                             key_path: Path) -> None:
    log = write_log(tmp_path, key_path)
    report = log.verify()
    assert report.ok and report.authenticated, report.problems
    assert report.verified_seq == RECORDS and report.checkpoints >= RECORDS // EVERY


@pytest.mark.parametrize("dropped", [1, 2, 5, 9])
def test_records_cut_off_the_end_are_detected(tmp_path: Path, key_path: Path,
                                              dropped: int) -> None:
    log = write_log(tmp_path, key_path)
    rewrite(log, keep=RECORDS - dropped)
    assert AuditLog(log.path).verify().ok  # integrity alone cannot tell
    report = AuditLog(log.path).verify(key=key_path)
    assert not report.ok
    assert any("cut short" in problem for problem in report.problems)
    assert report.verified_seq <= RECORDS - dropped


@pytest.mark.parametrize("seq", [1, 7, RECORDS])
@pytest.mark.parametrize("field", ["user", "sql", "row_count"])
def test_a_rewritten_record_is_detected(tmp_path: Path, key_path: Path, seq: int,
                                        field: str) -> None:
    log = write_log(tmp_path, key_path)
    value = 999 if field == "row_count" else "forged"
    rewrite(log, edit={seq: {field: value}})
    assert AuditLog(log.path).verify().ok
    report = AuditLog(log.path).verify(key=key_path)
    assert not report.ok and any("rewritten" in problem for problem in report.problems)
    assert report.verified_seq < seq


def test_forged_or_foreign_checkpoints_are_refused(tmp_path: Path, key_path: Path) -> None:
    log = write_log(tmp_path, key_path)
    rewrite(log, keep=RECORDS - 3)
    body = json.loads(log.checkpoints_path.read_bytes().splitlines()[-1])
    lines = []
    for forged in (dict(body, seq=RECORDS - 3, size=1, mac="0" * 64),  # a guessed signature
                   dict(body, seq=RECORDS - 3)):  # a signed checkpoint, moved
        lines.append(json.dumps(forged))
    # ...and a whole new checkpoints file signed with the attacker's own key
    mine = AuditKey.generate()
    from skipper.audit.checkpoints import checkpoint_line
    own = checkpoint_line(mine, seq=RECORDS - 3, digest="0" * 64, size=1, time="now")
    log.checkpoints_path.write_bytes(("\n".join(lines) + "\n").encode() + own)
    report = AuditLog(log.path).verify(key=key_path)
    assert not report.ok and report.verified_seq == 0
    assert sum("signature does not match" in p for p in report.problems) == 2
    assert any("not with the given key" in p for p in report.problems)


def test_deleted_checkpoints_are_detected(tmp_path: Path, key_path: Path) -> None:
    log = write_log(tmp_path, key_path)
    log.checkpoints_path.unlink()
    report = AuditLog(log.path).verify(key=key_path)
    assert not report.ok and any("no checkpoint" in p for p in report.problems)


def test_checkpoints_come_every_n_records_and_on_close(tmp_path: Path, key_path: Path) -> None:
    log = write_log(tmp_path, key_path, n=EVERY * 2 + 1)
    seqs = [json.loads(line)["seq"] for line in log.checkpoints_path.read_bytes().splitlines()]
    assert seqs == [EVERY, 2 * EVERY, 2 * EVERY + 1]


def test_the_key_may_not_live_in_the_logs_directory(tmp_path: Path) -> None:
    inside = tmp_path / "logs" / "audit.key"
    inside.parent.mkdir()
    AuditKey.generate().write(inside)
    with pytest.raises(AuditError) as caught:
        AuditLog(tmp_path / "logs" / "lake.audit.jsonl", key=inside)
    assert caught.value.code == "audit.key_beside_log"


def test_the_key_comes_from_the_environment(tmp_path: Path, key_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKIPPER_AUDIT_KEY_FILE", str(key_path))
    log = AuditLog(tmp_path / "logs" / "lake.audit.jsonl")
    log.append(sql="SELECT 1", outcome="ok")
    log.close()
    assert log.checkpoints_path.exists() and log.verify().authenticated


def test_a_bad_key_file_is_a_typed_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.key"
    bogus.write_text("not a key")
    with pytest.raises(AuditError) as caught:
        AuditLog(tmp_path / "logs" / "x.jsonl", key=bogus)
    assert caught.value.code == "audit.bad_key"


# ---- the CLI --------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SKIPPER_AUDIT_KEY_FILE"}
    return subprocess.run([sys.executable, "-m", "skipper.cli", "audit", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**env, "COLUMNS": "200"})


def test_keygen_then_verify_from_the_command_line(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "lake.audit.jsonl"
    refused = cli("keygen", str(log_path.parent), "--log", str(log_path))
    assert refused.returncode != 0 and "audit.key_beside_log" in refused.stdout + refused.stderr
    made = cli("keygen", str(tmp_path / "secrets"), "--log", str(log_path))
    assert made.returncode == 0, made.stderr
    key_path = tmp_path / "secrets" / "audit.key"
    salt_path = tmp_path / "secrets" / "mask.salt"
    for path in (key_path, salt_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = cli("keygen", str(tmp_path / "secrets"), "--log", str(log_path))
    assert again.returncode != 0 and "audit.key_exists" in again.stdout + again.stderr

    log = write_log(tmp_path, key_path)
    plain = cli("verify", "--log", str(log.path))
    assert plain.returncode == 0 and "Integrity only, not authenticity" in plain.stdout
    keyed = cli("verify", "--log", str(log.path), "--key", str(key_path), "--json")
    payload = json.loads(keyed.stdout)
    assert payload["ok"] and payload["authenticated"] and payload["verified_seq"] == RECORDS

    rewrite(log, keep=RECORDS - 5)
    assert cli("verify", "--log", str(log.path)).returncode == 0
    caught = cli("verify", "--log", str(log.path), "--key", str(key_path))
    assert caught.returncode != 0
    assert "cut short" in caught.stderr and f"seq {RECORDS - 5}" in caught.stderr
