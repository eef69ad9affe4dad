"""hash_result and hash_sql: canonical, deterministic, blind to chunking, alert to everything
else; and replay at the library level (re-run a record's SQL, compare hashes)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from skipper.audit import AuditLog, hash_result, hash_sql
from skipper.engine.duckdb import DuckDBEngine


def sample() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, None, 4, 5], pa.int64()),
        "name": ["a", "", None, "dd", "é"],
        "amount": pa.array([Decimal("1.50"), None, Decimal("0"), Decimal("-2.25"),
                            Decimal("9.99")], pa.decimal128(10, 2)),
        "ratio": [0.5, None, 1.0, -0.0, 2.5],
        "flag": [True, None, False, True, False],
        "day": [date(2026, 1, 1), None, date(2026, 1, 3), date(2026, 1, 4), date(2026, 1, 5)],
        "at": [datetime(2026, 1, 1, 12), None, None, datetime(2026, 1, 4), datetime(2026, 1, 5)],
        "tags": [["x"], [], None, ["y", None], ["z"]],
        "meta": [{"k": 1}, None, {"k": None}, {"k": 4}, {"k": 5}],
        "raw": [b"\x00", None, b"", b"ab", b"c"],
    })


def test_known_sql_hash() -> None:
    assert hash_sql("SELECT 1") == hashlib.sha256(b"SELECT 1").hexdigest()
    assert hash_sql("SELECT 1") != hash_sql("select 1")


def test_same_data_same_hash_whatever_the_chunking() -> None:
    table = sample()
    digest = hash_result(table)
    assert len(digest) == 64
    for size in (1, 2, 3, 4):
        rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=size))
        assert rechunked.column(0).num_chunks > 1
        assert hash_result(rechunked) == digest
    padded = pa.concat_tables([table.slice(0, 0), table.slice(0, 2), table.slice(2)])
    assert hash_result(padded) == digest
    # Slices with non-zero offsets, compared with a fresh copy of the same rows.
    assert hash_result(table.slice(1, 3)) == hash_result(pa.table(table.slice(1, 3).to_pydict(),
                                                                  schema=table.schema))


def test_dictionary_encoding_is_physical_only() -> None:
    plain = pa.table({"s": ["a", "b", "a", None]})
    encoded = pa.table({"s": pa.array(["a", "b", "a", None]).dictionary_encode()})
    assert hash_result(encoded) == hash_result(plain)


@pytest.mark.parametrize("change", [
    "column_order", "column_name", "row_order", "null_vs_empty", "null_vs_zero",
    "int_width", "value", "decimal_scale", "nested_value", "nested_null", "float_sign",
    "one_row_fewer",
])
def test_any_real_change_changes_the_hash(change: str) -> None:
    table = sample()
    changed = {
        "column_order": lambda: table.select(["name", "id"] + table.column_names[2:]),
        "column_name": lambda: table.rename_columns(["ID"] + table.column_names[1:]),
        "row_order": lambda: table.take([1, 0, 2, 3, 4]),
        "null_vs_empty": lambda: table.set_column(
            1, "name", pa.array(["a", None, None, "dd", "é"])),
        "null_vs_zero": lambda: table.set_column(0, "id", pa.array([1, 2, 0, 4, 5], pa.int64())),
        "int_width": lambda: table.set_column(0, "id", table.column("id").cast(pa.int32())),
        "value": lambda: table.set_column(0, "id", pa.array([1, 2, None, 4, 6], pa.int64())),
        "decimal_scale": lambda: table.set_column(
            2, "amount", table.column("amount").cast(pa.decimal128(12, 3))),
        "nested_value": lambda: table.set_column(
            7, "tags", pa.array([["x"], [], None, ["y", "q"], ["z"]])),
        "nested_null": lambda: table.set_column(
            7, "tags", pa.array([["x"], None, None, ["y", None], ["z"]])),
        "float_sign": lambda: table.set_column(3, "ratio", pa.array([0.5, None, 1.0, 0.0, 2.5])),
        "one_row_fewer": lambda: table.slice(0, 4),
    }[change]()
    assert hash_result(changed) != hash_result(table)


def test_hidden_bytes_under_nulls_do_not_matter() -> None:
    """Arrow leaves whatever bytes it likes under a NULL; the hash must not see them."""
    values = pa.array([7, 8, 9], pa.int64())
    with_garbage = pa.Array.from_buffers(pa.int64(), 3, [pa.array([True, False, True]).buffers()[1],
                                                         values.buffers()[1]], null_count=1)
    clean = pa.array([7, None, 9], pa.int64())
    assert hash_result(pa.table({"x": with_garbage})) == hash_result(pa.table({"x": clean}))


def test_hidden_bytes_under_null_strings_do_not_matter() -> None:
    """A NULL string slot may span bytes too; those are skipped, as an empty value's are."""
    for kind, width in ((pa.string(), "<i4"), (pa.large_string(), "<i8"),
                        (pa.binary(), "<i4"), (pa.large_binary(), "<i8")):
        offsets = pa.py_buffer(np.array([0, 2, 8, 10], dtype=width).tobytes())
        data = pa.py_buffer(b"abHIDDENcd")
        valid = pa.array([True, False, True]).buffers()[1]
        with_garbage = pa.Array.from_buffers(kind, 3, [valid, offsets, data], null_count=1)
        clean = pa.array([b"ab", None, b"cd"] if kind in (pa.binary(), pa.large_binary())
                         else ["ab", None, "cd"], kind)
        assert hash_result(pa.table({"s": with_garbage})) == hash_result(pa.table({"s": clean}))


def test_fingerprints_are_stable_across_versions() -> None:
    """Audit records keep these hashes for good: replay compares against them, so a faster
    way to compute them must give the very same digests."""
    assert hash_result(sample()) == \
        "9a6071dba3c5d171ca9ed6e2cbf8f2b4a7a2e864ab351c33ec1317d1928d8c1b"
    strings = pa.table({
        "s": pa.array(["abc", None, "de", "", "f" * 40]).slice(1),
        "l": pa.array(["x", None, "yy", "zzz"], pa.large_string()),
        "b": pa.array([b"1", b"", None, b"22"], pa.large_binary()),
    })
    assert hash_result(strings) == \
        "0ffbdd91a0de721aabef5cbe790fd2f28be9dfedad96b3b87be541547192d449"


def test_all_null_and_all_empty_columns() -> None:
    assert hash_result(pa.table({"x": pa.nulls(3, pa.int64())})) == \
        hash_result(pa.table({"x": pa.array([None, None, None], pa.int64())}))
    assert hash_result(pa.table({"s": pa.array(["", ""])})) != \
        hash_result(pa.table({"s": pa.array([None, None], pa.string())}))
    assert hash_result(pa.table({"n": pa.nulls(2)})) != hash_result(pa.table({"n": pa.nulls(3)}))


def test_empty_tables() -> None:
    empty = pa.table({"a": pa.array([], pa.int64())})
    assert hash_result(empty) == hash_result(pa.table({"a": pa.array([], pa.int64())}))
    assert hash_result(empty) != hash_result(pa.table({"a": pa.array([], pa.int32())}))
    assert hash_result(empty) != hash_result(pa.table({"b": pa.array([], pa.int64())}))


def test_deterministic_across_processes() -> None:
    here = str(Path(__file__).parent)
    code = (f"import sys; sys.path.insert(0, {here!r}); from test_audit_hash import sample; "
            "from skipper.audit import hash_result; print(hash_result(sample()))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == hash_result(sample())


# ---- through the engine, and replay -----------------------------------------------------

@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    path = tmp_path / "lake.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales AS SELECT i AS id, i % 3 AS region, i * 1.5 AS amount, "
                    "CASE WHEN i % 4 = 0 THEN NULL ELSE 'r' || i END AS note "
                    "FROM range(3000) r(i)")
    return path


QUERY = "SELECT region, sum(amount) AS total, count(note) AS notes FROM sales GROUP BY region " \
        "ORDER BY region"


def test_both_isolations_hash_alike(lake: Path) -> None:
    copy = lake.with_name("copy.duckdb")
    shutil.copyfile(lake, copy)
    with DuckDBEngine(lake) as process, DuckDBEngine(copy, isolation="thread") as thread:
        assert hash_result(process.execute(QUERY).table) == hash_result(thread.execute(QUERY).table)
        big = "SELECT * FROM sales ORDER BY id"
        assert hash_result(process.execute(big).table) == hash_result(thread.execute(big).table)


def test_replay_matches_then_notices_changed_data(lake: Path, tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with DuckDBEngine(lake) as engine:
        result = engine.execute(QUERY, max_rows=100)
        record = log.append(sql=QUERY, outcome="ok", row_count=result.row_count,
                            result_hash=hash_result(result.table))
        replayed = engine.execute(log.get(record.id).sql, max_rows=100)
        assert hash_result(replayed.table) == record.result_hash
    with duckdb.connect(str(lake)) as con:
        con.execute("UPDATE sales SET amount = amount + 1 WHERE id = 7")
    with DuckDBEngine(lake) as engine:
        again = engine.execute(log.get(record.id).sql, max_rows=100)
        assert again.row_count == record.row_count
        assert hash_result(again.table) != record.result_hash
