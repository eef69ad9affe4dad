"""Replay says "identical" exactly when the data is the same: every row counts (not only those
kept), row order counts only under an outermost ORDER BY, and the verdict says what changed.
Real DuckDB files, rewritten between the record and its replay."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from skipper import Skipper
from skipper.audit import AuditLog, hash_result
from skipper.catalog import Catalog
from skipper.fingerprint import ORDERED, UNORDERED, RowFingerprint, fingerprint_rows
from skipper.policy import Policy

CATALOG = """
tables:
  - name: facts
    columns:
      - {name: id, type: BIGINT}
      - {name: grp, type: VARCHAR}
      - {name: amount, type: "DECIMAL(10,2)"}
      - {name: ratio, type: DOUBLE}
      - {name: tags, type: "VARCHAR[]"}
      - {name: info, type: "STRUCT(a BIGINT, b VARCHAR)"}
      - {name: ip, type: VARCHAR, classification: ip}
"""
POLICIES = """
classifications:
  - {name: ip, mask: hash}
groups:
  - {name: staff, tables: [facts]}
users:
  - {name: una, groups: [staff]}
default_user: una
"""
ROWS = 1000
#: Every type the issue names: Decimal, float, NULL (in each column), nested values.
FILL = (
    "SELECT i AS id, 'g' || (i % 7) AS grp, CAST(i / 8 AS DECIMAL(10,2)) AS amount, "
    "CASE WHEN i % 11 = 0 THEN NULL ELSE CAST(i AS DOUBLE) * 0.1 END AS ratio, "
    "CASE WHEN i % 13 = 0 THEN NULL ELSE ['t' || (i % 3), 'u'] END AS tags, "
    "CASE WHEN i % 17 = 0 THEN NULL ELSE {{'a': i, 'b': 'x' || i}} END AS info, "
    "'10.0.' || (i % 250) || '.1' AS ip FROM range({rows}) t(i)"
)


def build(path: Path, *, order: str = "id", change: str | None = None) -> None:
    """(Re)write the table with the same rows stored in ``order``, then apply ``change``."""
    with duckdb.connect(str(path)) as con:
        con.execute("SET threads = 1")  # rows stored, and read back, in the order inserted
        con.execute(f"CREATE OR REPLACE TABLE facts AS {FILL.format(rows=ROWS)} ORDER BY {order}")
        if change:
            con.execute(change)


@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    path = tmp_path / "lake.duckdb"
    build(path)
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "tables.yaml").write_text(CATALOG)
    (tmp_path / "catalog" / "policies.yaml").write_text(POLICIES)
    return path


def open_skipper(lake: Path, *, max_rows: int = 5, salt: str = "pepper",
                 isolation: str = "process") -> Skipper:
    catalog = Catalog.load(lake.parent / "catalog")
    return Skipper(catalog, lake, max_rows=max_rows, audit_log=lake.parent / "audit.jsonl",
                   policy=Policy(catalog, salt=salt), isolation=isolation)  # type: ignore[arg-type]


def record_then_replay(lake: Path, sql: str, rebuild: Callable[[], None], **options: object):
    with open_skipper(lake, **options) as sk:  # type: ignore[arg-type]
        audit_id = sk.sql(sql).audit_id
    rebuild()
    with open_skipper(lake, **options) as sk:  # type: ignore[arg-type]
        return sk.replay(audit_id)


UNORDERED_QUERIES = [
    "SELECT id, grp, amount, ratio, tags, info FROM facts",
    "SELECT grp, count(*) AS n, sum(amount) AS total FROM facts GROUP BY ALL",
    "SELECT DISTINCT grp FROM facts",
]


@pytest.mark.parametrize("sql", UNORDERED_QUERIES)
@pytest.mark.parametrize("order", ["id DESC", "hash(id)", "grp, id DESC"])
def test_the_same_rows_stored_in_another_order_replay_identical(lake: Path, sql: str,
                                                               order: str) -> None:
    replayed = record_then_replay(lake, sql, lambda: build(lake, order=order))
    assert replayed.verdict == "identical", replayed.reason
    assert replayed.matches and replayed.record.result_hash_kind == UNORDERED


CHANGES = [
    "UPDATE facts SET amount = amount + 0.01 WHERE id = 999",  # a Decimal, past the kept rows
    "UPDATE facts SET ratio = nextafter(ratio, 1e9) WHERE id = 1",  # a float's last bit
    "UPDATE facts SET ratio = NULL WHERE id = 998",  # a value becomes NULL
    "UPDATE facts SET tags = ['t0', 'v'] WHERE id = 997",  # inside a list
    "UPDATE facts SET info = {'a': 996, 'b': 'y996'} WHERE id = 996",  # inside a struct
    "UPDATE facts SET grp = 'g1' WHERE id = 994",  # a string, to another row's value
    "UPDATE facts SET grp = 'g0' || '' WHERE id >= 6",  # a thousand rows past row 5
]


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_past_the_kept_rows_is_a_different_result(lake: Path, change: str) -> None:
    """The issue: with max_rows=5, changing rows past row 5 replayed as 'matches'."""
    replayed = record_then_replay(lake, "SELECT id, grp, amount, ratio, tags, info FROM facts",
                                  lambda: build(lake, change=change))
    assert replayed.verdict == "different_rows"
    assert (replayed.recorded_row_count, replayed.row_count) == (ROWS, ROWS)
    assert not replayed.matches


def test_rows_added_or_removed_say_the_counts(lake: Path) -> None:
    replayed = record_then_replay(lake, "SELECT id, grp FROM facts",
                                  lambda: build(lake, change="DELETE FROM facts WHERE id > 990"))
    assert replayed.verdict == "different_rows"
    assert (replayed.recorded_row_count, replayed.row_count) == (ROWS, 991)
    assert "1,000 rows then, 991 now" in (replayed.reason or "")


def test_order_counts_under_an_outermost_order_by(lake: Path) -> None:
    sql = "SELECT id, grp FROM facts ORDER BY id DESC"
    same = record_then_replay(lake, sql, lambda: build(lake, order="hash(id)"))
    assert same.verdict == "identical" and same.record.result_hash_kind == ORDERED
    # The same rows in another order: only the ordered part of the fingerprint differs.
    table = pa.table({"id": [1, 2, 3], "grp": ["a", "b", "c"]})
    forward, _ = fingerprint_rows(table, ordered=True)
    backward, _ = fingerprint_rows(table.take([2, 1, 0]), ordered=True)
    assert forward.split(".")[:2] == backward.split(".")[:2] and forward != backward
    assert fingerprint_rows(table)[0] == fingerprint_rows(table.take([2, 1, 0]))[0]


def test_different_columns(lake: Path) -> None:
    retype = "ALTER TABLE facts ALTER amount SET DATA TYPE DECIMAL(12,3)"
    replayed = record_then_replay(lake, "SELECT id, amount FROM facts",
                                  lambda: build(lake, change=retype))
    assert replayed.verdict == "different_columns"


@pytest.mark.parametrize(("change", "code"), [
    ("DROP TABLE facts", "engine"),
    ("ALTER TABLE facts DROP COLUMN ratio", "engine"),
])
def test_gone_tables_and_columns_cannot_replay(lake: Path, change: str, code: str) -> None:
    replayed = record_then_replay(lake, "SELECT id, ratio FROM facts",
                                  lambda: build(lake, change=change))
    assert replayed.verdict == "cannot_replay" and replayed.answer is None
    assert replayed.code and replayed.reason


def test_a_user_who_may_no_longer_read_it_cannot_replay(lake: Path) -> None:
    with open_skipper(lake) as sk:
        audit_id = sk.sql("SELECT id FROM facts").audit_id
    (lake.parent / "catalog" / "policies.yaml").write_text(
        POLICIES.replace("tables: [facts]", "tables: []"))
    with open_skipper(lake) as sk:
        replayed = sk.replay(audit_id)
    assert replayed.verdict == "cannot_replay"


def test_hash_masks_replay_with_the_same_salt_and_say_so_without_it(lake: Path) -> None:
    sql = "SELECT id, ip FROM facts"
    assert record_then_replay(lake, sql, lambda: None).verdict == "identical"
    with open_skipper(lake, salt="pepper") as sk:
        audit_id = sk.sql(sql).audit_id
    with open_skipper(lake, salt="another") as sk:
        replayed = sk.replay(audit_id)
    assert replayed.verdict == "cannot_replay" and replayed.code == "audit.salt_differs"


def test_records_without_a_kind_keep_replaying(lake: Path) -> None:
    """Records written before v2 hold hash_result of the rows kept: still compared that way."""
    with open_skipper(lake) as sk:
        answer = sk.sql("SELECT id, grp FROM facts ORDER BY id")
        new = sk.audit.get(answer.audit_id)
        old = AuditLog(lake.parent / "audit.jsonl").append(
            sql=new.sql, extra=new.extra, policies=new.policies, outcome="ok",
            row_count=answer.row_count, truncated=True, result_hash=hash_result(answer.to_arrow()))
        replayed = sk.replay(old.id)
    assert old.result_hash_kind is None
    assert replayed.verdict == "identical"


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_the_engine_fingerprints_every_row_not_only_the_kept_ones(lake: Path,
                                                                 isolation: str) -> None:
    from skipper.engine.duckdb import DuckDBEngine

    copy = lake.with_name("copy.duckdb")  # a plain connection may not share the engine's file
    shutil.copyfile(lake, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        everything = con.sql("SELECT id, grp, amount, ratio, tags, info FROM facts"
                             ).to_arrow_table()
    with DuckDBEngine(lake, isolation=isolation) as engine:  # type: ignore[arg-type]
        kept = engine.execute("SELECT id, grp, amount, ratio, tags, info FROM facts",
                              max_rows=5)
    assert kept.truncated and kept.table.num_rows == 5
    assert (kept.result_hash, kept.result_hash_kind) == fingerprint_rows(everything)


def test_fingerprint_is_blind_to_batches_and_slices() -> None:
    values = pa.table({
        "n": pa.array([1, None, 3, 4, 5, 6], pa.int64()),
        "d": pa.array([Decimal("1.10"), None, Decimal("0"), Decimal("-2.5"), None,
                       Decimal("9")], pa.decimal128(10, 2)),
        "s": pa.array(["", None, "a" * 9, "ü" * 20, "x", "longer than eight bytes"]),
        "l": pa.array([[1], None, [], [2, 3], [None], [4]], pa.list_(pa.int64())),
        "b": pa.array([True, None, False, True, False, True]),
    })
    whole = fingerprint_rows(values)[0]
    pieces = RowFingerprint(values.schema)
    pieces.add(values.slice(4), 4)
    pieces.add(values.slice(0, 4), 0)
    assert pieces.hexdigest() == whole
    assert fingerprint_rows(pa.Table.from_batches(values.to_batches(max_chunksize=2)))[0] == whole
    empty_vs_null = values.set_column(2, "s", pa.array(["", "", "a" * 9, "ü" * 20, "x",
                                                        "longer than eight bytes"]))
    assert fingerprint_rows(empty_vs_null)[0] != whole


def test_long_values_hash_alike_in_any_grouping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values past the chunk size go alone through strided views: the same fingerprint."""
    import skipper.fingerprint as fingerprint

    values = pa.table({"s": pa.array(
        ["x" * 60000 if i % 3 == 0 else f"d{i}" * (i % 50) for i in range(600)]
        + [None, "", "é" * 9])})
    expected = fingerprint_rows(values)[0]
    for words in (1, 7, 1 << 30):
        monkeypatch.setattr(fingerprint, "_CHUNK_WORDS", words)
        assert fingerprint_rows(values)[0] == expected
