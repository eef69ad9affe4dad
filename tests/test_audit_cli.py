"""`skipper audit list|show|verify|replay`, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skipper.audit import AuditLog

ROOT = Path(__file__).resolve().parents[1]


def skipper(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if home is not None:
        env["SKIPPER_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "skipper.cli", "audit", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog.beside(tmp_path / "lake.duckdb")
    audit.append(user="ana", sql="SELECT plan, count(*)\nFROM accounts GROUP BY plan",
                 outcome="ok", row_count=4, duration_ms=12.5, tables=["accounts"],
                 columns={"accounts": ["plan"]}, result_hash="ab" * 32)
    audit.append(user="bob", sql="SELECT * FROM employee_salaries", outcome="refused",
                 error={"code": "sql.unknown_table", "message": "not in the catalog"})
    return audit


def test_list(log: AuditLog, tmp_path: Path) -> None:
    result = skipper("list", "--database", str(tmp_path / "lake.duckdb"))
    assert result.returncode == 0, result.stderr
    first, second = log.records()
    assert first.id in result.stdout and second.id in result.stdout
    assert "SELECT plan, count(*) FROM accounts GROUP BY plan" in result.stdout
    assert "refused" in result.stdout and "Traceback" not in result.stderr


def test_list_json_with_limit(log: AuditLog) -> None:
    result = skipper("list", "--log", str(log.path), "--limit", "1", "--json")
    payload = json.loads(result.stdout)
    assert payload["log"] == str(log.path)
    assert [r["seq"] for r in payload["records"]] == [2]
    assert payload["records"][0]["error"]["code"] == "sql.unknown_table"


def test_show(log: AuditLog) -> None:
    record = next(log.records())
    human = skipper("show", record.id, "--log", str(log.path))
    assert human.returncode == 0
    assert record.hash in human.stdout and "FROM accounts GROUP BY plan" in human.stdout
    machine = json.loads(skipper("show", record.id, "--log", str(log.path), "--json").stdout)
    assert machine == record.model_dump(mode="json")


def test_show_unknown_id(log: AuditLog) -> None:
    result = skipper("show", "nope", "--log", str(log.path), "--json")
    assert result.returncode != 0
    assert json.loads(result.stdout)["error"]["code"] == "audit.not_found"
    human = skipper("show", "nope", "--log", str(log.path))
    assert "audit.not_found" in human.stderr and "Traceback" not in human.stderr


def test_verify_ok_then_tampered(log: AuditLog) -> None:
    good = skipper("verify", "--log", str(log.path))
    assert good.returncode == 0 and "OK" in good.stdout and "2 records" in good.stdout
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(lines[0].replace(b'"row_count":4', b'"row_count":40') + lines[1])
    bad = skipper("verify", "--log", str(log.path))
    assert bad.returncode != 0
    assert "seq 1" in bad.stderr and "edited" in bad.stderr and "Traceback" not in bad.stderr
    machine = json.loads(skipper("verify", "--log", str(log.path), "--json").stdout)
    assert machine["ok"] is False and machine["count"] == 2 and machine["problems"]


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    result = skipper("verify", "--database", str(tmp_path / "nothing.duckdb"))
    assert result.returncode != 0
    assert "audit.no_log" in result.stderr and "Traceback" not in result.stderr


def test_default_log_is_beside_the_demo_lake(tmp_path: Path) -> None:
    result = skipper("list", home=tmp_path)
    assert result.returncode != 0
    assert str(tmp_path / "demo" / "town_lake.duckdb.audit.jsonl") in result.stderr


def test_replay(demo_database: Path, demo_catalog: Path, tmp_path: Path) -> None:
    import duckdb

    from skipper import Skipper

    lake = tmp_path / "lake.duckdb"
    shutil.copyfile(demo_database, lake)
    log_path = tmp_path / "audit.jsonl"
    with Skipper(demo_catalog, lake, today="2026-06-30", audit_log=log_path) as sk:
        answer = sk.sql("SELECT plan, count(*) AS n FROM accounts GROUP BY plan ORDER BY plan")
    args = ("--catalog", str(demo_catalog), "--database", str(lake), "--log", str(log_path))
    human = skipper("replay", answer.audit_id, *args)
    assert human.returncode == 0, human.stderr
    assert "Identical" in human.stdout
    machine = json.loads(skipper("replay", answer.audit_id, *args, "--json").stdout)
    assert machine["matches"] is True and machine["row_count"] == answer.row_count
    assert machine["verdict"] == "identical" and machine["result_hash_kind"] == "rows.ordered.v2"
    assert machine["result_hash"] == machine["recorded_hash"]
    assert AuditLog(log_path).verify().count == 3  # each replay is audited too

    with duckdb.connect(str(lake)) as con:
        con.execute("UPDATE accounts SET plan = 'free' WHERE plan = 'enterprise' "
                    "AND account_id % 2 = 0")
    changed = skipper("replay", answer.audit_id, *args)
    assert changed.returncode == 1
    assert "Different rows" in changed.stdout and "Traceback" not in changed.stderr
    assert json.loads(skipper("replay", answer.audit_id, *args, "--json").stdout)[
        "verdict"] == "different_rows"
    missing = skipper("replay", "nope", *args)
    assert missing.returncode != 0 and "audit.not_found" in missing.stderr
    assert AuditLog(log_path).verify().ok
