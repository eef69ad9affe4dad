"""End to end through the front door: guard -> sandboxed DuckDB -> annotation -> audit."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from skipper import Answer, Skipper, SkipperError
from skipper.audit import AuditLog
from skipper.errors import NotReadOnlyError, QueryTimeoutError, UnknownTableError
from skipper.fingerprint import fingerprint_rows
from tests.conftest import DEMO_AS_OF


def raw(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_answer_matches_raw_duckdb_and_carries_lineage(skipper_on_demo: Skipper, demo_database):
    sql = """
        SELECT a.plan, count(DISTINCT d.domain_id) AS domains
        FROM accounts a JOIN domains d USING (account_id)
        GROUP BY ALL ORDER BY domains DESC
    """
    answer = skipper_on_demo.sql(sql)
    assert isinstance(answer, Answer)
    assert answer.rows == raw(demo_database, sql)
    assert answer.columns == ["plan", "domains"]
    assert answer.row_count == 4 and not answer.truncated
    assert answer.tables == ["accounts", "domains"]
    assert answer.lineage.columns["domains"] == ["account_id", "domain_id"]
    assert "plan" in answer.lineage.columns["accounts"]
    assert (
        answer.to_pandas()["domains"].sum()
        == raw(demo_database, "SELECT count(*) FROM domains")[0][0]
    )
    assert answer.to_arrow().num_rows == 4
    assert set(answer.timings) >= {"guard_ms", "execute_ms", "annotate_ms", "audit_ms", "total_ms"}


def test_stale_and_sampled_tables_become_caveats(skipper_on_demo: Skipper):
    stale = skipper_on_demo.sql("SELECT day, sum(queries) FROM dns_queries_daily GROUP BY day")
    assert any(
        c.startswith("dns_queries_daily is 8 days old") and "SLA 1 day" in c for c in stale.caveats
    ), stale.caveats
    assert stale.freshness["dns_queries_daily"].stale
    assert stale.freshness["dns_queries_daily"].last.isoformat() == "2026-06-22"

    sampled = skipper_on_demo.sql(
        "SELECT client_country, sum(requests * sample_interval) FROM http_requests_sampled "
        "GROUP BY 1"
    )
    assert "http_requests_sampled is a 1% sample: figures are estimates." in sampled.caveats
    assert not sampled.freshness["http_requests_sampled"].stale

    derived = skipper_on_demo.sql(
        "SELECT domain_id FROM traffic_rank_daily WHERE traffic_rank <= 3"
    )
    assert derived.lineage.upstream == {"traffic_rank_daily": ["http_requests_sampled"]}
    assert any(
        "traffic_rank_daily is derived from http_requests_sampled" in c for c in derived.caveats
    )

    fresh = skipper_on_demo.sql("SELECT count(*) FROM billing_usage")
    assert not fresh.caveats, "billing_usage ends the day before as-of, within its SLA"


def test_refusals_raise_typed_errors_are_audited_and_change_nothing(
    skipper_on_demo: Skipper, demo_database: Path
):
    before = digest(demo_database)
    with pytest.raises(NotReadOnlyError) as refused:
        skipper_on_demo.sql("DROP TABLE accounts")
    assert refused.value.code == "sql.not_read_only"
    with pytest.raises(UnknownTableError) as hidden:
        skipper_on_demo.sql("SELECT * FROM employee_salaries")
    assert hidden.value.code == "sql.unknown_table"
    with pytest.raises(SkipperError):
        skipper_on_demo.sql("SELECT 1; DELETE FROM accounts")
    assert digest(demo_database) == before
    outcomes = [r.outcome for r in skipper_on_demo.audit.records()]
    assert outcomes == ["refused", "refused", "refused"]
    last = list(skipper_on_demo.audit.records())[-1]
    assert last.error is not None and last.error["code"] == "sql.multiple_statements"


def test_rows_are_capped_and_the_answer_says_so(demo_catalog, demo_database, tmp_path):
    with Skipper(
        demo_catalog, demo_database, max_rows=25, today=DEMO_AS_OF, audit_log=tmp_path / "a.jsonl"
    ) as skipper:
        answer = skipper.sql("SELECT domain_id, domain_name FROM domains")
    total = raw(demo_database, "SELECT count(*) FROM domains")[0][0]
    assert answer.truncated and len(answer.rows) == 25 and answer.row_count == total
    assert f"Showing the first 25 of {total:,} rows (max_rows=25)." in answer.caveats


def test_every_answer_is_audited_and_replays(skipper_on_demo: Skipper):
    answer = skipper_on_demo.sql(
        "SELECT region, count(*) AS n FROM accounts GROUP BY region ORDER BY region"
    )
    record = skipper_on_demo.audit.get(answer.audit_id)
    assert record.sql == answer.sql
    assert record.outcome == "ok" and record.row_count == answer.row_count
    assert record.tables == ["accounts"]
    assert record.catalog_version == skipper_on_demo.catalog.version
    assert (record.result_hash, record.result_hash_kind) == \
        fingerprint_rows(answer.to_arrow(), ordered=True)
    assert record.time[:10] == datetime.now(timezone.utc).date().isoformat()
    replayed = skipper_on_demo.replay(answer.audit_id)
    assert replayed.matches and replayed.row_count == answer.row_count
    assert skipper_on_demo.audit.verify().ok


def test_a_query_asked_again_gets_a_record_of_its_own(skipper_on_demo: Skipper):
    """The same query asked again drafts the same record (kept, not serialized again): each
    answer still has its own record, the same but for its id, place, time and outcome, and a
    different question or user gets a record that says so. Answers do not share labels."""
    sk = skipper_on_demo
    sql = "SELECT plan, count(*) AS n FROM accounts GROUP BY plan ORDER BY plan"
    answers = [sk.sql(sql) for _ in range(3)]
    answers.append(sk.sql(sql, question="accounts per plan?"))
    records = [sk.audit.get(answer.audit_id) for answer in answers]
    assert len({record.id for record in records}) == 4
    assert [record.seq for record in records] == [1, 2, 3, 4]
    drop = {"id", "seq", "time", "prev_hash", "hash", "duration_ms"}
    assert records[0].model_dump(exclude=drop) == records[1].model_dump(exclude=drop) \
        == records[2].model_dump(exclude=drop)
    assert records[3].question == "accounts per plan?" and records[0].question is None
    assert records[3].model_dump(exclude={*drop, "question"}) == \
        records[0].model_dump(exclude={*drop, "question"})
    assert sk.audit.verify().ok
    assert all(answer.labels == answers[0].labels for answer in answers)
    answers[0].labels["plan"] = "changed here"
    assert sk.sql(sql).labels == answers[1].labels != answers[0].labels


def test_timeout_is_enforced_and_the_engine_recovers(demo_catalog, demo_database, tmp_path):
    with Skipper(
        demo_catalog, demo_database, timeout_s=1, today=DEMO_AS_OF, audit_log=tmp_path / "a.jsonl"
    ) as skipper:
        with pytest.raises(QueryTimeoutError):
            skipper.sql("SELECT count(*) FROM http_requests_sampled a, http_requests_sampled b")
        assert skipper.sql("SELECT count(*) AS n FROM accounts").rows[0][0] > 0
        outcomes = Counter(r.outcome for r in skipper.audit.records())
    assert outcomes == {"error": 1, "ok": 1}


def test_demo_is_reused_at_its_own_as_of_day(tmp_path, demo_database):
    target = tmp_path / "lake.duckdb"
    shutil.copy(demo_database, target)
    before = digest(target)
    with Skipper.demo(database=target) as skipper:
        assert skipper.clock.today() == DEMO_AS_OF
        assert skipper.sql("SELECT count(*) FROM accounts").row_count == 1
    assert digest(target) == before, "an existing demo lake is reused, not rebuilt"


def test_demo_is_built_when_missing(tmp_path):
    target = tmp_path / "new" / "lake.duckdb"
    with Skipper.demo(database=target, as_of="2026-03-31") as skipper:
        assert target.is_file()
        assert skipper.clock.today().isoformat() == "2026-03-31"
        last_day = skipper.sql("SELECT max(day) AS d FROM http_requests_sampled").rows[0][0]
    assert last_day.isoformat() == "2026-03-31"


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"SKIPPER_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "skipper.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_sql_json_and_refusal(tmp_path, demo_database, demo_catalog):
    database = tmp_path / "lake.duckdb"
    shutil.copy(demo_database, database)
    common = ["--catalog", str(demo_catalog), "--database", str(database)]
    ok = run_cli(
        "sql",
        "SELECT plan, count(*) AS n FROM accounts GROUP BY plan ORDER BY plan",
        *common,
        "--json",
        home=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["columns"] == ["plan", "n"]
    assert [row[0] for row in payload["rows"]] == ["business", "enterprise", "free", "pro"]
    assert payload["audit_id"] and payload["tables"] == ["accounts"]

    refused = run_cli("sql", "DELETE FROM accounts", *common, "--json", home=tmp_path)
    assert refused.returncode != 0
    assert json.loads(refused.stdout)["error"]["code"] == "sql.not_read_only"
    assert "Traceback" not in refused.stderr

    human = run_cli(
        "sql", "SELECT day, queries FROM dns_queries_daily LIMIT 3", *common, home=tmp_path
    )
    assert human.returncode == 0, human.stderr
    assert "Caveats" in human.stdout and "dns_queries_daily is" in human.stdout
    assert "SELECT" in human.stdout and "audit id" in human.stdout

    records = list(AuditLog(database.with_name(database.name + ".audit.jsonl")).records())
    assert [r.outcome for r in records] == ["ok", "refused", "ok"]


def test_cli_bad_options_are_readable(tmp_path):
    result = run_cli("sql", "SELECT 1", "--database", str(tmp_path / "x.duckdb"), home=tmp_path)
    assert result.returncode == 1
    assert "--catalog is required" in result.stderr and "Traceback" not in result.stderr


def test_a_freshness_measurement_that_fails_becomes_a_caveat(tmp_path):
    """A catalog that drifted from its database (its freshness column is gone) still answers:
    the rows do not depend on freshness. The answer and its audit record say it could not be
    measured, and the failure is cached like a figure (not retried on every answer)."""
    database = tmp_path / "drift.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE events AS SELECT range AS id FROM range(3)")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "tables.yaml").write_text(
        "tables:\n"
        "  - name: events\n"
        "    columns:\n"
        "      - {name: id, type: BIGINT}\n"
        "      - {name: loaded_at, type: TIMESTAMP}\n"
        "    freshness: {column: loaded_at, sla: 1d}\n", encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    with Skipper(catalog, database, audit_log=audit) as skipper:
        answer = skipper.sql("SELECT count(*) AS n FROM events")
        assert answer.rows == [(3,)]
        [caveat] = [c for c in answer.caveats if "freshness could not be measured" in c]
        assert "engine.binder_error" in caveat and "loaded_at" in caveat
        measured = answer.freshness["events"]
        assert measured.stale and measured.last is None and measured.error
        [record] = AuditLog(audit).tail(1)
        assert record.outcome == "ok"
        assert record.freshness["events"]["error"].startswith("engine.binder_error")
        again = skipper.sql("SELECT max(id) AS top FROM events")
        assert again.freshness["events"].measured_at == measured.measured_at  # cached
