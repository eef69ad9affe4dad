"""DuckDBEngine: results, row caps, error codes, soft and hard timeouts, crashes, introspection."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from skipper.engine import Engine
from skipper.engine._worker import Channel, attempt, frame, rebuild_error, unframe
from skipper.engine.duckdb import DuckDBEngine, parse_bytes
from skipper.errors import ConfigError, DatabaseNotFoundError, EngineError, QueryTimeoutError
from skipper.fingerprint import fingerprint_rows

EVENTS = 5000
# Runs for many seconds in one uninterruptible function call (sorting a 20M-element list).
HUGE_CALL = "SELECT len(list_sort(range(20000000))) AS n"
# A cross join an interrupt stops at once.
SLOW_JOIN = "SELECT count(*) AS n FROM wide a, wide b WHERE a.x + b.x > 1.5"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "lake.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE parent (id BIGINT PRIMARY KEY, name VARCHAR NOT NULL)")
    con.execute("CREATE TABLE child (id BIGINT, parent_id BIGINT REFERENCES parent (id), "
                "k INTEGER, PRIMARY KEY (id, k))")
    con.execute("INSERT INTO parent VALUES (1, 'one'), (2, 'two')")
    con.execute("INSERT INTO child VALUES (10, 1, 0), (11, 1, 1), (12, 2, 0)")
    con.execute(f"""
        CREATE TABLE events AS SELECT
          i AS id, i % 7 AS grp, ((i % 1000) / 10)::DECIMAL(10, 2) AS amount,
          CASE WHEN i % 5 = 0 THEN NULL ELSE 'label ' || i END AS label,
          TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE AS at,
          [i, i + 1] AS pair, {{'a': i, 'b': 'x'}} AS meta
        FROM range({EVENTS}) r(i)""")
    con.execute("CREATE TABLE wide AS SELECT random() AS x FROM range(200000)")
    con.execute("CREATE VIEW parent_names AS SELECT name FROM parent")
    con.close()
    return path


@pytest.fixture(scope="module", params=["process", "thread"])
def engine(request: pytest.FixtureRequest, database: Path) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(database, isolation=request.param) as engine:
        yield engine


def test_is_an_engine(engine: DuckDBEngine) -> None:
    typed: Engine = engine
    assert typed.dialect == "duckdb"


def test_result_matches_raw_duckdb(engine: DuckDBEngine, database: Path) -> None:
    sql = "SELECT * FROM events WHERE grp = 3 ORDER BY id"
    result = engine.execute(sql)
    with duckdb.connect(":memory:") as raw:
        # A separate instance reading the same bytes through ATTACH, so it does not clash
        # with the engine's own in-process instance.
        raw.execute(f"ATTACH '{database}' AS lake (READ_ONLY)")
        expected = raw.sql("SELECT * FROM lake." + sql.removeprefix("SELECT * FROM ")).fetchall()
    assert [tuple(row.values()) for row in result.table.to_pylist()] == expected
    assert result.row_count == len(expected) and not result.truncated
    assert result.columns == ["id", "grp", "amount", "label", "at", "pair", "meta"]
    assert result.types == ["BIGINT", "BIGINT", "DECIMAL(10,2)", "VARCHAR", "TIMESTAMP",
                            "BIGINT[]", 'STRUCT(a BIGINT, b VARCHAR)']
    assert result.duration_s > 0
    # The worker hashes after sending the rows; the hash is still of exactly these rows.
    assert (result.result_hash, result.result_hash_kind) == fingerprint_rows(result.table)


def test_types_and_nulls_survive_the_trip(engine: DuckDBEngine) -> None:
    table = engine.execute("SELECT amount, label, pair, meta FROM events WHERE id = 5").table
    assert table.to_pylist() == [{"amount": Decimal("0.50"), "label": None, "pair": [5, 6],
                                  "meta": {"a": 5, "b": "x"}}]
    assert table.schema.field("amount").type == pa.decimal128(10, 2)


@pytest.mark.parametrize("max_rows, kept, truncated", [
    (10, 10, True), (0, 0, True), (EVENTS, EVENTS, False), (EVENTS + 1, EVENTS, False),
    (None, EVENTS, False), (200_000, EVENTS, False),
])
def test_row_cap_keeps_some_and_counts_all(engine: DuckDBEngine, max_rows: int | None,
                                           kept: int, truncated: bool) -> None:
    result = engine.execute("SELECT id FROM events ORDER BY id", max_rows=max_rows)
    assert result.table.num_rows == kept
    assert result.row_count == EVENTS
    assert result.truncated is truncated
    assert result.table.column("id").to_pylist() == list(range(kept))


def test_row_cap_across_many_batches(engine: DuckDBEngine) -> None:
    result = engine.execute("SELECT x FROM wide", max_rows=150_000)
    assert (result.table.num_rows, result.row_count, result.truncated) == (150_000, 200_000, True)


def test_empty_result_keeps_its_schema(engine: DuckDBEngine) -> None:
    result = engine.execute("SELECT id, label FROM events WHERE false", max_rows=5)
    assert result.table.num_rows == 0 and result.row_count == 0 and not result.truncated
    assert result.table.column_names == ["id", "label"]


def test_pivot_runs(engine: DuckDBEngine) -> None:
    result = engine.execute("PIVOT (SELECT grp FROM events WHERE grp < 2) ON grp USING count(*)")
    assert result.table.to_pylist() == [{"0": 715, "1": 715}]


@pytest.mark.parametrize("sql, code, words", [
    ("SELECT nope FROM events", "engine.binder_error", 'column "nope"'),
    ("SELECT * FROM nowhere", "engine.catalog_error", "nowhere"),
    ("SELEC 1", "engine.parse_error", "syntax error"),
    ("SELECT 1/0::INTEGER, 'x'::INTEGER", "engine.conversion_error", "'x'"),
    ("SELECT 1; SELECT 2", "engine.refused", "one statement"),
    ("INSERT INTO parent VALUES (3, 'x')", "engine.refused", "INSERT"),
])
def test_errors_have_codes_and_clean_messages(engine: DuckDBEngine, sql: str, code: str,
                                              words: str) -> None:
    with pytest.raises(EngineError) as caught:
        engine.execute(sql)
    assert caught.value.code == code
    assert words in caught.value.message
    assert "LINE 1" not in caught.value.message and "\n" not in caught.value.message
    assert engine.execute("SELECT 1 AS ok").table.to_pylist() == [{"ok": 1}]


def test_missing_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseNotFoundError) as caught:
        DuckDBEngine(tmp_path / "nope.duckdb")
    assert caught.value.code == "engine.database_not_found"


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_not_a_database(tmp_path: Path, isolation: str) -> None:
    path = tmp_path / "text.duckdb"
    path.write_text("hello")
    with pytest.raises(EngineError) as caught, \
            DuckDBEngine(path, isolation=isolation) as engine:  # type: ignore[arg-type]
        engine.execute("SELECT 1")
    assert caught.value.code == "engine.cannot_open"
    assert "not a valid DuckDB database" in caught.value.message


def test_bad_settings(database: Path) -> None:
    with pytest.raises(ConfigError):
        DuckDBEngine(database, isolation="fork")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        DuckDBEngine(database, memory_limit="lots")
    assert parse_bytes("2GB") == 2 * 10**9
    assert parse_bytes("512 MiB") == 512 * 2**20


def test_closed_engine(database: Path) -> None:
    engine = DuckDBEngine(database)
    pid = engine.worker_pid
    engine.close()
    engine.close()
    with pytest.raises(EngineError) as caught:
        engine.execute("SELECT 1")
    assert caught.value.code == "engine.closed"
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_introspect(engine: DuckDBEngine) -> None:
    tables = {table.name: table for table in engine.introspect()}
    assert set(tables) == {"parent", "child", "events", "wide", "parent_names"}
    assert [name for name, table in tables.items() if table.is_view] == ["parent_names"]
    assert tables["parent_names"].row_count == 0  # a view is not run to count it
    assert tables["child"].primary_key == ["id", "k"]
    assert tables["child"].foreign_keys == [(["parent_id"], "parent", ["id"])]
    assert tables["events"].row_count == EVENTS
    assert [(c.name, c.type, c.nullable) for c in tables["parent"].columns] == [
        ("id", "BIGINT", False), ("name", "VARCHAR", False)]


def test_one_query_at_a_time_from_many_threads(engine: DuckDBEngine) -> None:
    answers: dict[int, object] = {}

    def ask(n: int) -> None:
        answers[n] = engine.execute(f"SELECT count(*) AS c FROM events WHERE grp = {n % 7}")\
            .table.to_pylist()[0]["c"]

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {n: 715 if n % 7 < 2 else 714 for n in range(16)}


# ---- time bounds ------------------------------------------------------------------------

def test_soft_timeout_interrupts_near_the_limit(engine: DuckDBEngine) -> None:
    pid = engine.worker_pid
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as caught:
        engine.execute(SLOW_JOIN, timeout_s=0.5)
    elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 1.4
    assert caught.value.code == "engine.timeout"
    assert caught.value.details["hard"] is False
    assert "0.5 s" in caught.value.message and "interrupted" in caught.value.message
    assert engine.worker_pid == pid  # an interrupt keeps the worker
    assert engine.execute("SELECT 2 AS n").table.to_pylist() == [{"n": 2}]


def test_interrupt_does_not_leak_into_the_next_query(engine: DuckDBEngine) -> None:
    """Deadlines that land around the end of a query (some before, some after) never reach
    the query that follows."""
    for step in range(20):
        with contextlib.suppress(QueryTimeoutError):
            engine.execute("SELECT sum(x) FROM wide", timeout_s=0.001 * (step + 1))
        assert engine.execute("SELECT count(*) AS n FROM events").table.to_pylist() == [
            {"n": EVENTS}]


def test_a_short_timeout_after_long_ones_still_interrupts(engine: DuckDBEngine) -> None:
    """The watchdog sleeps towards the last deadline it saw and is woken only for an earlier
    one: a 0.5 s query after 30 s ones must still be interrupted at 0.5 s."""
    for _ in range(3):
        engine.execute("SELECT 1", timeout_s=30)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as caught:
        engine.execute(SLOW_JOIN, timeout_s=0.5)
    assert 0.45 < time.monotonic() - started < 1.4
    assert caught.value.details["hard"] is False


def test_submit_returns_while_the_worker_runs_the_query(database: Path) -> None:
    """A soft timeout serves as the clock: the worker gives up at 0.5 s; if it started when
    submit returned, the result is waiting by the time the caller has worked for 1 s."""
    with DuckDBEngine(database) as engine:
        engine.execute("SELECT 1")
        with engine.submit(SLOW_JOIN, timeout_s=0.5) as pending:
            time.sleep(1.0)  # the caller's own work
            waited = time.monotonic()
            with pytest.raises(QueryTimeoutError):
                pending.result()
            assert time.monotonic() - waited < 0.3
        assert engine.execute("SELECT 5 AS n").table.to_pylist() == [{"n": 5}]


def test_leaving_a_submitted_query_frees_the_engine(engine: DuckDBEngine) -> None:
    with engine.submit("SELECT 6 AS n"):
        pass  # nobody asked for the result: leaving collects it
    with pytest.raises(ZeroDivisionError), engine.submit("SELECT * FROM missing"):
        raise ZeroDivisionError  # the body's error wins over the query's
    pending = engine.submit("SELECT 7 AS n")
    assert pending.result().table.to_pylist() == [{"n": 7}]
    assert pending.result().table.to_pylist() == [{"n": 7}]  # asked twice, same result
    failed = engine.submit("SELECT * FROM missing")
    for _ in range(2):
        with pytest.raises(EngineError) as caught:
            failed.result()
        assert caught.value.code == "engine.catalog_error"
    assert engine.execute("SELECT 8 AS n").table.to_pylist() == [{"n": 8}]


def test_hard_timeout_kills_a_single_huge_call(database: Path) -> None:
    with DuckDBEngine(database, kill_grace_s=1.0) as engine:
        engine.execute("SELECT 1")
        first = engine.worker_pid
        assert first is not None
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as caught:
            engine.execute(HUGE_CALL, timeout_s=0.5)
        elapsed = time.monotonic() - started
        assert 1.4 < elapsed < 3.0
        assert caught.value.details["hard"] is True
        assert "stopped the worker process" in caught.value.message
        assert engine.worker_pid != first
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)
        assert engine.execute("SELECT 42 AS n").table.to_pylist() == [{"n": 42}]


def test_worker_dying_mid_query_is_reported_then_replaced(database: Path) -> None:
    with DuckDBEngine(database) as engine:
        engine.execute("SELECT 1")
        victim = engine.worker_pid
        assert victim is not None
        threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
        with pytest.raises(EngineError) as caught:
            engine.execute(SLOW_JOIN, timeout_s=10)
        assert caught.value.code == "engine.crashed"
        assert "signal 9" in caught.value.message
        assert engine.execute("SELECT 3 AS n").table.to_pylist() == [{"n": 3}]
        assert engine.worker_pid != victim


def test_worker_dying_between_queries_is_replaced_quietly(database: Path) -> None:
    with DuckDBEngine(database) as engine:
        engine.execute("SELECT 1")
        victim = engine.worker_pid
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.1)
        assert engine.execute("SELECT 4 AS n").table.to_pylist() == [{"n": 4}]


def test_worker_memory_is_bounded(database: Path) -> None:
    """DuckDB's memory_limit does not cover one huge value; the worker's address-space limit
    does, and the worker survives to answer the next query."""
    with DuckDBEngine(database, memory_limit="500MB") as engine:
        with pytest.raises(EngineError) as caught:
            engine.execute("SELECT list_sum(range(400000000)) AS s", timeout_s=20)
        assert caught.value.code == "engine.out_of_memory"
        assert engine.execute("SELECT 5 AS n").table.to_pylist() == [{"n": 5}]


# ---- the worker's channel ---------------------------------------------------------------

def test_channel_keeps_messages_apart_whatever_the_reads() -> None:
    """Small messages arrive several to a read, big ones over many reads; each comes out
    whole and in order, and a deadline or a closed end is reported, not waited out."""
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(theirs), Channel(ours)
    sizes = [1, 5, 0, 70_000, 3, 65_535, 65_536, 200_001, 8]
    messages = [os.urandom(size) for size in sizes]
    for message in messages[:3]:
        sender.send(message)  # three small ones, likely one read
    thread = threading.Thread(target=lambda: [sender.send(m) for m in messages[3:]])
    thread.start()
    received = [bytes(receiver.receive(time.monotonic() + 10)) for _ in messages]
    thread.join()
    assert received == messages
    with pytest.raises(TimeoutError):
        receiver.receive(time.monotonic() + 0.05)
    sender.close()
    with pytest.raises(EOFError):
        receiver.receive(time.monotonic() + 1)
    receiver.close()


def _tables() -> dict[str, pa.Table]:
    plain = pa.table({
        "i": pa.array([1, None, 3], pa.int64()), "s": ["a", None, "ccc"],
        "d": pa.array([Decimal("1.50"), None, Decimal("-2.25")], pa.decimal128(10, 2)),
        "t": pa.array([0, None, 86_400_000_000], pa.timestamp("us")),
        "b": [True, None, False], "n": pa.array([None] * 3, pa.null()),
        "v": pa.array(["x", "y" * 40, None], pa.string_view()),
    })
    return {
        "plain": plain,
        "empty": plain.slice(0, 0),
        "batches": pa.Table.from_batches([pa.record_batch({"x": [1, 2]}),
                                          pa.record_batch({"x": [3]})]),
        "dictionary": pa.table({"e": pa.array(["a", "b", "a", None]).dictionary_encode()}),
        "nested": pa.table({"l": [[1, 2], None, []], "m": [{"k": 1}, None, {"k": None}]}),
        "big": pa.table({"s": [os.urandom(64).hex() for _ in range(5000)]}),
    }


@pytest.mark.parametrize("name", list(_tables()))
def test_tables_cross_the_channel_unchanged(name: str) -> None:
    """Plain columns go as a schema and record batches (8-byte aligned in the message),
    dictionaries and nested columns as an IPC stream; big messages as gathered writes. The
    table and the header come out as they went in."""
    table = _tables()[name]
    header = {"ok": True, "row_count": table.num_rows, "types": ["x"]}
    ours, theirs = socket.socketpair()
    sender, receiver = Channel(theirs), Channel(ours)
    thread = threading.Thread(target=sender.send, args=(frame(header, table),))
    thread.start()
    message = receiver.receive(time.monotonic() + 10)
    thread.join()
    back_header, back = unframe(message)
    assert back_header == header
    assert back is not None and back.schema == table.schema and back.equals(table)
    sizes = json.loads(bytes(message[4:4 + int.from_bytes(message[:4], "big")])).get("ipc")
    assert (sizes is not None) == (name not in ("dictionary", "nested"))
    if sizes is not None:
        assert (4 + int.from_bytes(message[:4], "big")) % 8 == 0
    sender.close()
    receiver.close()


def test_the_worker_runs_this_code_whatever_the_working_directory(
        database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller's working directory holding another `skipper` (a checkout) or a module named
    like a dependency changes nothing: the worker imports this process's code."""
    (tmp_path / "skipper" / "engine").mkdir(parents=True)
    (tmp_path / "skipper" / "__init__.py").write_text("raise SystemExit('decoy skipper')\n")
    (tmp_path / "skipper" / "engine" / "__init__.py").write_text("")
    (tmp_path / "duckdb.py").write_text("raise SystemExit('decoy duckdb')\n")
    monkeypatch.chdir(tmp_path)
    with DuckDBEngine(database) as engine:
        assert engine.execute("SELECT 42 AS n").table.to_pylist() == [{"n": 42}]


def test_whatever_fails_in_the_worker_is_answered_as_an_error() -> None:
    """The worker answers every request: a failure becomes an error header the parent turns
    back into the same typed error (the worker never leaves the parent waiting)."""
    def refuse() -> None:
        raise EngineError("no", code="engine.refused", statement_type="SET")

    assert attempt(lambda: 42) == (42, None)
    for call, code in ((refuse, "engine.refused"), (lambda: 1 / 0, "engine.error"),
                       (lambda: bytearray(2**62), "engine.out_of_memory")):
        value, failure = attempt(call)
        assert value is None and failure is not None
        header, table = unframe(memoryview(b"".join(frame(failure))))
        assert table is None and header["ok"] is False
        error = rebuild_error(header["error"])
        assert isinstance(error, EngineError) and error.code == code
    assert rebuild_error(attempt(refuse)[1]["error"]).details == {"statement_type": "SET"}
