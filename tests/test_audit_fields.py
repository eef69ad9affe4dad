"""What audit records hold: any Python text (lone surrogates included) without ever failing,
the effective user and the engine; the log locks with filelock; a result's bytes are bounded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.audit import AuditLog
from skipper.engine.duckdb import DuckDBEngine
from skipper.errors import ConfigError
from tests.conftest import DEMO_AS_OF

ROOT = Path(__file__).resolve().parents[1]

#: Text Python holds but UTF-8 cannot encode (lone surrogates, as from
#: ``os.fsdecode``/``surrogateescape``), beside text that is fine.
TEXTS = ["How many accounts are there \udcff", "\ud800", "\udfff tail", "a\udc80b\ud83d",
         "mixed 😀 and \udcfe", "\\udcff (a literal backslash)", "ok", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_any_text_is_recorded_losslessly(tmp_path: Path, text: str) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    record = log.append(user=text, question=text, sql=f"SELECT '{text}'", outcome="refused",
                        error={"code": "x.y", "message": text}, groups=[text],
                        extra={text: [text, {"k": text}]}, tables=[text],
                        columns={text: [text]})
    again = log.get(record.id)
    assert (again.user, again.question, again.error, again.extra, again.columns) == (
        text, text, {"code": "x.y", "message": text}, {text: [text, {"k": text}]},
        {text: [text]})
    assert [r.id for r in log.records()] == [record.id] == [r.id for r in log.tail(5)]
    assert log.verify().ok
    assert AuditLog(log.path).verify().ok  # a fresh reader re-checks the same hash
    log.path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8


def test_a_draft_with_surrogates_commits(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    draft = log.prepare(question="\udcff", sql="SELECT 1", outcome="ok")
    record = log.commit(draft, row_count=1, result_hash="\udcff", result_hash_kind="k\ud800")
    assert log.get(record.id).result_hash == "\udcff" and log.verify().ok


def test_show_and_list_print_surrogates_without_failing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    record = log.append(question="q \udcff", sql="SELECT '\udcff'", outcome="ok")
    for args in (["show", record.id], ["list"], ["show", record.id, "--json"]):
        done = subprocess.run([sys.executable, "-m", "skipper.cli", "audit", *args, "--log",
                               str(log.path)], capture_output=True, text=True, cwd=ROOT,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr


def test_records_name_the_effective_user_and_the_engine(skipper_on_demo: Skipper) -> None:
    nobody = skipper_on_demo.sql("SELECT count(*) AS n FROM accounts")
    named = skipper_on_demo.sql("SELECT count(*) AS n FROM accounts", user="ana")
    first, second = (skipper_on_demo.audit.get(a.audit_id) for a in (nobody, named))
    default = skipper_on_demo.catalog.default_user
    assert default is not None
    assert (first.user, first.effective_user) == (None, default)
    assert (second.user, second.effective_user) == ("ana", "ana")
    for record in (first, second):
        assert record.engine is not None
        assert (record.engine["name"], record.engine["version"]) == ("duckdb",
                                                                     duckdb.__version__)
        assert len(record.engine["mask_salt_id"]) == 16  # an id, not the salt
        assert skipper_on_demo.guard.policy.salt not in json.dumps(record.engine)


def test_failed_queries_name_them_too(skipper_on_demo: Skipper) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the engine's error, any
        skipper_on_demo.sql("SELECT CAST('x' AS INTEGER) FROM accounts")
    record = list(skipper_on_demo.audit.records())[-1]
    assert record.outcome == "error" and record.effective_user and record.engine


def test_the_log_lock_excludes_a_filelock_holder_in_another_process(tmp_path: Path) -> None:
    """The log's lock is the OS lock filelock takes too: an append waits while another
    process holds ``filelock.FileLock`` on the log's lock file, and goes on once released."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(sql="SELECT 1", outcome="ok")
    released = tmp_path / "released"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, filelock, pathlib\n"
         "lock = filelock.FileLock(sys.argv[1], thread_local=False)\n"
         "lock.acquire(); print('held', flush=True); time.sleep(0.6)\n"
         "pathlib.Path(sys.argv[2]).write_text(repr(time.time())); lock.release()\n",
         str(log.lock_path), str(released)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        log.append(sql="SELECT 2", outcome="ok")
        appended = time.time()
    finally:
        holder.wait(timeout=30)
    assert released.exists() and appended >= float(released.read_text())
    assert log.verify().ok


# ---- the result's bytes ---------------------------------------------------------------

CAP = 1 << 20
#: Queries whose rows are big: the kept part must stay under the cap whatever max_rows says.
BIG = [
    "SELECT repeat('x', 60000) AS s FROM range(1000)",
    "SELECT i, repeat(CAST(i AS VARCHAR), 5000) AS s FROM range(2000) t(i)",
    "SELECT range(20000) AS l FROM range(300)",
    "SELECT range AS i FROM range(1000000)",
]


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bytes") / "empty.duckdb"
    duckdb.connect(str(path)).close()
    return path


@pytest.mark.parametrize("isolation", ["process", "thread"])
@pytest.mark.parametrize("sql", BIG)
def test_a_result_is_cut_at_the_byte_cap(empty_db: Path, isolation: str, sql: str) -> None:
    with DuckDBEngine(empty_db, isolation=isolation,  # type: ignore[arg-type]
                      max_result_bytes=CAP) as engine:
        capped = engine.execute(sql, max_rows=10_000_000)
        every = engine.execute(sql, max_rows=10_000_000, ordered=False)
    assert capped.truncated and capped.truncated_by == "bytes"
    assert 0 < capped.table.nbytes <= CAP
    assert capped.row_count > capped.table.num_rows
    # The fingerprint still covers every row, the same however many were kept.
    assert capped.result_hash == every.result_hash


def test_rows_then_bytes_say_which_bound_cut(empty_db: Path) -> None:
    with DuckDBEngine(empty_db, isolation="thread", max_result_bytes=CAP) as engine:
        by_rows = engine.execute("SELECT range AS i FROM range(100)", max_rows=10)
        whole = engine.execute("SELECT range AS i FROM range(100)", max_rows=1000)
    assert by_rows.truncated_by == "rows" and by_rows.table.num_rows == 10
    assert not whole.truncated and whole.truncated_by is None
    assert by_rows.result_hash == whole.result_hash


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "64MB"])
def test_the_byte_cap_must_be_positive(empty_db: Path, bad: object) -> None:
    with pytest.raises(ConfigError):
        DuckDBEngine(empty_db, isolation="thread", max_result_bytes=bad)  # type: ignore[arg-type]


def test_the_answer_says_the_byte_cap_cut_it(demo_database: Path, demo_catalog: Path,
                                             tmp_path: Path) -> None:
    engine = DuckDBEngine(demo_database, max_result_bytes=CAP)
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF, engine=engine,
                 audit_log=tmp_path / "a.jsonl", max_rows=1000) as sk:
        answer = sk.sql("SELECT repeat(domain_name, 60000) AS s FROM domains LIMIT 1000")
    assert answer.truncated and answer.to_arrow().nbytes <= CAP
    assert any("byte limit" in caveat for caveat in answer.caveats)
