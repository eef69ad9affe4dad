"""Importing Spider / DuckDB-NSQL / BIRD layouts into cases, catalogs and DuckDB databases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.errors import DatasetError
from skipper.evals.cases import load_cases
from skipper.evals.gold import GoldDatabase, reference_for
from skipper.evals.importers import import_bird, import_spider
from skipper.evals.scoring import compare
from skipper.evals.statements import classify

NSQL = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "duckdb-nsql"


@pytest.mark.parametrize(
    ("sql", "read", "reason"),
    [
        ("SELECT 1", True, ""),
        ("FROM customers", True, ""),
        ("WITH t AS (SELECT 1 AS a) SELECT a FROM t UNION ALL SELECT 2", True, ""),
        ("PIVOT sales ON product USING sum(amount)", True, ""),
        ("SELECT * FROM unnest([1, 2])", True, ""),
        ("SET threads = 10", False, "SET"),
        ("PRAGMA show_tables", False, "PRAGMA"),
        ("CALL pragma_version()", False, "CALL"),
        ("CREATE TABLE t AS SELECT 1", False, "CREATE"),
        ("INSERT INTO t VALUES (1)", False, "INSERT"),
        ("UPDATE t SET a = 1", False, "UPDATE"),
        ("DELETE FROM t", False, "DELETE"),
        ("ALTER TABLE t ADD COLUMN b INT", False, "ALTER"),
        ("DROP TABLE t", False, "DROP"),
        ("COPY t FROM 'x.csv'", False, "COPY"),
        ("ATTACH 'other.db'", False, "ATTACH"),
        ("SUMMARIZE t", False, "SUMMARIZE"),
        ("EXPLAIN SELECT 1", False, "EXPLAIN"),
        ("SELECT * FROM read_csv_auto('test.csv')", False, "a file"),
        ("SELECT * FROM read_csv_auto('https://example.com/x.csv')", False, "a URL"),
        ("SELECT * FROM 'data/x.parquet'", False, "file"),
        ("SELECT * FROM range(10)", True, ""),  # a row generator, as the guard allows
        ("VALUES (1, 'a'), (2, 'b')", True, ""),
        ("SELECT * FROM t, LATERAL read_parquet('x.parquet')", False, "a file"),
        ("SELECT * FROM glob('*.csv')", False, "glob()"),
        ("SELECT 1 INTO t", False, "INTO"),
        ("SELECT 1; -- a trailing comment", True, ""),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", False, "DELETE"),
        ("SELECT 1; SELECT 2", False, "2 statements"),
        ("SELECT FROM WHERE (", False, "cannot be parsed"),
    ],
)
def test_classify(sql: str, read: bool, reason: str) -> None:
    kind = classify(sql)
    assert kind.read is read, kind.reason
    assert reason in kind.reason


@pytest.mark.skipif(not NSQL.is_dir(), reason="../shared/datasets/duckdb-nsql is absent")
def test_import_duckdb_nsql(tmp_path: Path) -> None:
    report = import_spider(NSQL, tmp_path / "nsql")
    entries = json.loads((NSQL / "dev.json").read_text())
    assert report.cases == len(entries) == 75
    assert (report.answerable, report.refused) == (46, 29)
    assert not report.skipped and not report.converted
    suite = load_cases(report.cases_file)
    by_id = {case.id: case for case in suite.cases}
    assert [case.id for case in suite.cases] == [
        f"{entry['db_id']}-{i}" for i, entry in enumerate(entries)]
    assert by_id["laptop-40"].expect == "refused"  # COPY ... FROM, with a setup_sql
    assert "setup_sql not run" in (by_id["laptop-40"].notes or "")
    assert by_id["none-24"].expect == "refused"  # read_csv_auto of a URL
    assert by_id["laptop-70"].expect == "refused"  # SET
    assert by_id["laptop_struct-63"].expect == "answer"
    assert by_id["nyc-21"].expect == "answer"  # USING SAMPLE: scored against its population
    for name in report.databases:
        Catalog.load(tmp_path / "nsql" / "catalogs" / name)


def test_import_refuses_a_non_empty_out(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    _spider_fixture(tmp_path / "spider")
    with pytest.raises(DatasetError) as caught:
        import_spider(tmp_path / "spider", tmp_path / "out")
    assert caught.value.code == "eval.out_not_empty"
    report = import_spider(tmp_path / "spider", tmp_path / "out", overwrite=True)
    assert report.cases == 3


def test_import_needs_the_split_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="dev.json is missing"):
        import_bird(tmp_path / "empty", tmp_path / "out")


def _sqlite(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.executescript(script)
    con.close()


SCHOOLS = """
CREATE TABLE schools (CDSCode TEXT PRIMARY KEY, County TEXT, `Enrollment (K-12)` REAL,
                      Charter INTEGER, OpenDate DATE, Mixed);
INSERT INTO schools VALUES ('01', 'Alameda', 1200.0, 1, '2001-09-01', 1);
INSERT INTO schools VALUES ('02', 'Alameda', 800.5, 0, '1995-08-15', 'two');
INSERT INTO schools VALUES ('03', 'Fresno', NULL, 1, '2010-01-20', 3.5);
INSERT INTO schools VALUES ('04', 'Fresno', 450, 0, NULL, NULL);
CREATE TABLE scores (cds TEXT, year INTEGER, avg_math INTEGER, photo BLOB);
INSERT INTO scores VALUES ('01', 2020, 510, x'00ff'), ('02', 2020, 470, NULL),
                          ('03', 2021, 530, NULL);
"""


def _bird_fixture(root: Path) -> None:
    _sqlite(root / "dev_databases" / "schools" / "schools.sqlite", SCHOOLS)
    entries = [
        {"question_id": 0, "db_id": "schools", "question": "How many charter schools?",
         "evidence": "Charter = 1 means a charter school", "difficulty": "simple",
         "SQL": "SELECT COUNT(*) FROM schools WHERE Charter = 1"},
        {"question_id": 1, "db_id": "schools", "question": "Share of charter schools by county",
         "evidence": "", "difficulty": "moderate",
         "SQL": "SELECT County, CAST(SUM(IIF(Charter = 1, 1, 0)) AS REAL) * 100 / COUNT(*) "
                "FROM schools GROUP BY County"},
        {"question_id": 2, "db_id": "schools", "question": "Schools opened after 2000",
         "evidence": "", "difficulty": "simple",
         "SQL": "SELECT CDSCode FROM schools WHERE strftime('%Y', OpenDate) > '2000'"},
        {"question_id": 3, "db_id": "schools", "question": "Best math score and its school",
         "evidence": "", "difficulty": "simple",
         "SQL": "SELECT T1.`CDSCode`, T2.avg_math FROM schools AS T1 INNER JOIN scores AS T2 "
                "ON T1.CDSCode = T2.cds ORDER BY T2.avg_math DESC LIMIT 1"},
        {"question_id": 4, "db_id": "schools", "question": "Remove the closed schools",
         "evidence": "", "difficulty": "simple", "SQL": "DELETE FROM schools WHERE 1"},
    ]
    (root / "dev.json").write_text(json.dumps(entries), encoding="utf-8")


def test_import_bird_converts_sqlite_offline(tmp_path: Path) -> None:
    _bird_fixture(tmp_path / "bird")
    report = import_bird(tmp_path / "bird", tmp_path / "out")
    assert report.converted == ["schools"]
    assert (report.cases, report.answerable, report.refused) == (5, 4, 1)
    database = tmp_path / "out" / "databases" / "schools.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        types = dict(con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'schools'"
        ).fetchall())
        assert types == {"CDSCode": "VARCHAR", "County": "VARCHAR",
                         "Enrollment (K-12)": "DOUBLE", "Charter": "BIGINT",
                         "OpenDate": "VARCHAR", "Mixed": "VARCHAR"}
        assert con.execute("SELECT Mixed FROM schools ORDER BY CDSCode").fetchall() == [
            ("1",), ("two",), ("3.5",), (None,)]
        assert con.execute("SELECT photo FROM scores WHERE cds = '01'").fetchone() == (
            b"\x00\xff",)
    suite = load_cases(report.cases_file)
    cases = {case.id: case for case in suite.cases}
    assert cases["schools-0"].evidence == "Charter = 1 means a charter school"
    assert cases["schools-0"].tags == ["schools", "simple"]
    assert cases["schools-4"].expect == "refused"
    assert "transpiled from sqlite" in (cases["schools-1"].notes or "")
    gold = GoldDatabase(database)
    try:
        with sqlite3.connect(tmp_path / "bird" / "dev_databases" / "schools" /
                             "schools.sqlite") as raw:
            for case_id in ("schools-0", "schools-1", "schools-2", "schools-3"):
                original = json.loads((tmp_path / "bird" / "dev.json").read_text())[
                    int(case_id.split("-")[1])]["SQL"]
                expected = raw.execute(original).fetchall()
                reference = reference_for(gold, cases[case_id].gold_sql or "")
                verdict = compare(reference, expected, semantics="bird")
                assert verdict.correct, (case_id, verdict.reason, expected, reference.rows)
    finally:
        gold.close()


def _spider_fixture(root: Path) -> None:
    _sqlite(root / "database" / "schools" / "schools.sqlite", SCHOOLS)
    entries = [
        {"db_id": "schools", "question": q, "query": sql}
        for q, sql in (
            ("How many schools?", "SELECT count(*) FROM schools"),
            ("Counties", "SELECT DISTINCT County FROM schools"),
            ("Add a school", "INSERT INTO schools (CDSCode) VALUES ('9')"),
        )
    ]
    (root / "dev.json").write_text(json.dumps(entries), encoding="utf-8")
    (root / "tables.json").write_text(json.dumps([{"db_id": "schools"}]), encoding="utf-8")


def test_import_spider_sqlite_layout(tmp_path: Path) -> None:
    _spider_fixture(tmp_path / "spider")
    report = import_spider(tmp_path / "spider", tmp_path / "out")
    assert report.converted == ["schools"] and not report.warnings
    suite = load_cases(report.cases_file)
    assert [(c.id, c.expect) for c in suite.cases] == [
        ("schools-0", "answer"), ("schools-1", "answer"), ("schools-2", "refused")]


#: Guard refusals that are about what the statement is, not about this catalog's tables,
#: columns or functions: a statement the evals call "not a read" must meet one of these.
_STATEMENT_REFUSALS = frozenset({"sql.not_read_only", "sql.multiple_statements",
                                 "sql.parse_error", "sql.table_function"})


def test_classify_agrees_with_the_guard_on_its_fixtures() -> None:
    """The evals decide which gold statements a read-only agent must refuse with their own
    reading of the tree; the guard's fixture cases pin the two to the same answer, so the
    scoring of refusals cannot drift from what Skipper refuses."""
    from tests.test_guard import ALL_CASES

    checked = 0
    for case in ALL_CASES:
        if case.expect != "ok" and case.expect not in _STATEMENT_REFUSALS:
            continue  # refused for this catalog's tables, columns or functions
        kind = classify(case.sql)
        assert kind.read is (case.expect == "ok"), \
            f"{case.file}:{case.line} {case.title}: guard {case.expect}, evals {kind}"
        checked += 1
    assert checked >= 150
