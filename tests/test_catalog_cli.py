"""`skipper catalog check|init|schema`, and introspecting real third-party DuckDB databases."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from skipper.catalog import Catalog
from skipper.catalog.introspect import init_catalog, introspect_duckdb
from skipper.errors import CatalogError, DatabaseNotFoundError, EngineError

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog"
NSQL = ROOT.parent / "shared" / "datasets" / "duckdb-nsql" / "databases"
NSQL_DATABASES = sorted(NSQL.glob("*/*.duckdb")) if NSQL.is_dir() else []


def skipper(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skipper.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def line_of(file: Path, text: str) -> int:
    return next(i for i, line in enumerate(file.read_text().splitlines(), 1) if text in line)


@pytest.fixture()
def catalog_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "catalog"
    copy.mkdir()
    for file in [CATALOG / "catalog.yaml", *(CATALOG / "tables").glob("*.yaml")]:
        target = copy / file.relative_to(CATALOG)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)
    return copy


# ---- check --------------------------------------------------------------------------------------
def test_check_summarises_a_good_catalog() -> None:
    run = skipper("catalog", "check", str(CATALOG))
    assert run.returncode == 0, run.stderr
    assert "Town Lake" in run.stdout and "is valid" in run.stdout
    for name in ("accounts", "http_requests_sampled", "traffic_rank_daily", "dns_queries_daily"):
        assert name in run.stdout
    assert "1%" in run.stdout  # the sample rate column


def test_check_json() -> None:
    run = skipper("catalog", "check", str(CATALOG), "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["ok"] is True and payload["summary"]["tables"] >= 7
    assert payload["version"] == Catalog.load(CATALOG).version


@pytest.mark.parametrize("file, old, new, field, message", [
    ("tables/domains.yaml", "cardinality: many_to_one", "cardinality: many_to_few",
     "tables[0].relationships[0].cardinality", "many_to_one"),
    ("tables/accounts.yaml", "    grain: one row per account", "    grian: one row per account",
     "tables[0].grian", "unknown field 'grian'"),
    ("tables/dns_queries_daily.yaml", "on: dns_queries_daily.domain_id = domains.domain_id",
     "on: dns_queries_daily.domain_id = domains.zone_id", "tables[0].relationships[0].on",
     "zone_id"),
    ("tables/http_requests_sampled.yaml", "      sla: 1d", "      sla: soon",
     "tables[0].freshness.sla", "duration"),
])
def test_check_names_file_line_and_field(
    catalog_copy: Path, file: str, old: str, new: str, field: str, message: str
) -> None:
    broken = catalog_copy / file
    text = broken.read_text()
    assert old in text
    broken.write_text(text.replace(old, new, 1))
    run = skipper("catalog", "check", str(catalog_copy))
    assert run.returncode == 1
    assert f"{broken}:{line_of(broken, new.strip())} ({field})" in run.stderr, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr


def test_check_reports_yaml_syntax_errors_with_their_line(catalog_copy: Path) -> None:
    broken = catalog_copy / "tables" / "support_tickets.yaml"
    lines = broken.read_text().splitlines()
    at = line_of(broken, "name: category")
    lines[at - 1] = lines[at - 1] + ": ["
    broken.write_text("\n".join(lines) + "\n")
    run = skipper("catalog", "check", str(catalog_copy))
    assert run.returncode == 1
    assert f"{broken}:{at}: invalid YAML" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_check_a_missing_directory(tmp_path: Path) -> None:
    run = skipper("catalog", "check", str(tmp_path / "nowhere"))
    assert run.returncode == 1 and "catalog.not_found" in run.stderr


# ---- schema -------------------------------------------------------------------------------------
def test_schema_prints_the_committed_json_schema(tmp_path: Path) -> None:
    committed = json.loads((ROOT / "skipper" / "catalog" / "catalog.schema.json").read_text())
    run = skipper("catalog", "schema")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == committed
    out = tmp_path / "schema.json"
    assert skipper("catalog", "schema", "--out", str(out)).returncode == 0
    assert json.loads(out.read_text()) == committed


# ---- init ---------------------------------------------------------------------------------------
def expected_schema(database: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Tables and columns as DuckDB's information_schema reports them (an independent view)."""
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns WHERE table_catalog = current_database() "
            "ORDER BY table_schema, table_name, ordinal_position").fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in rows:
        out.setdefault((schema, table), []).append((column, kind))
    return out


def assert_catalog_describes(out: Path, database: Path) -> Catalog:
    catalog = Catalog.load(out)
    listed = {(schema, table): list(columns.items())
              for schema, tables in catalog.schema().items() for table, columns in tables.items()}
    assert listed == expected_schema(database)
    mapping = MappingSchema(dict(catalog.schema()), dialect="duckdb")
    for table in catalog.tables:
        # The guard qualifies queries against this schema: nested types must not trip it.
        query = exp.select("*").from_(exp.table_(table.name, db=table.db_schema))
        qualify(query, schema=mapping, dialect="duckdb")
    return catalog


@pytest.mark.skipif(not NSQL_DATABASES, reason="../shared/datasets/duckdb-nsql is absent")
@pytest.mark.parametrize("database", NSQL_DATABASES, ids=lambda p: p.stem)
def test_init_describes_every_nsql_database(database: Path, tmp_path: Path) -> None:
    before = digest(database)
    report = init_catalog(database, tmp_path / "out")
    catalog = assert_catalog_describes(tmp_path / "out", database)
    assert report.skipped == []
    with duckdb.connect(str(database), read_only=True) as con:
        counts = {t.name: t.row_count for t in introspect_duckdb(con)}
    assert {t.name: t.row_count for t in catalog.tables} == counts
    assert digest(database) == before


@pytest.mark.skipif(not NSQL_DATABASES, reason="../shared/datasets/duckdb-nsql is absent")
def test_init_cli_on_an_nsql_database(tmp_path: Path) -> None:
    database = next((p for p in NSQL_DATABASES if p.stem == "laptop_struct"), NSQL_DATABASES[0])
    run = skipper("catalog", "init", "--database", str(database), "--out", str(tmp_path / "cat"))
    assert run.returncode == 0, run.stderr
    assert "TODO" in run.stdout or "Wrote" in run.stdout
    check = skipper("catalog", "check", str(tmp_path / "cat"))
    assert check.returncode == 0, check.stderr
    assert "no description yet" in check.stdout


@pytest.fixture()
def awkward_database(tmp_path: Path) -> Path:
    """A database with the shapes that trip naive introspection."""
    path = tmp_path / "awkward-db.v2.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("""
            CREATE TABLE "user" (id INTEGER PRIMARY KEY, "select" VARCHAR, "first name" VARCHAR,
                                 "null" BOOLEAN);
            CREATE TABLE ticket (ticket_id INTEGER, user_id INTEGER REFERENCES "user" (id),
                                 tags VARCHAR[], meta STRUCT("name" VARCHAR, n INTEGER),
                                 props MAP(VARCHAR, INTEGER), kind ENUM ('a', 'b'),
                                 PRIMARY KEY (ticket_id));
            CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b));
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (order_id BIGINT, amount DECIMAL(18, 3));
            CREATE TABLE sales.ticket (x INTEGER);
            CREATE TABLE "Odd Table" (x INTEGER);
            CREATE VIEW open_tickets AS SELECT ticket_id, user_id FROM ticket;
            INSERT INTO "user" VALUES (1, 'a', 'Ada', NULL), (2, 'b', 'Bo', true);
            INSERT INTO ticket VALUES (10, 1, ['x'], {'name': 'n', 'n': 1}, MAP {'k': 1}, 'a');
        """)
    return path


def test_init_handles_awkward_names_schemas_views_and_nested_types(
    awkward_database: Path, tmp_path: Path
) -> None:
    report = init_catalog(awkward_database, tmp_path / "out")
    catalog = Catalog.load(tmp_path / "out")
    assert sorted(report.skipped) == sorted([
        'column user.first name: the catalog only holds names like my_column_1',
        "table Odd Table: the catalog only holds names like my_table_1",
        "table sales.ticket: a table of the same name is already included",
    ])
    assert catalog.table("orders").db_schema == "sales"
    assert catalog.table("orders").column("amount").type == "DECIMAL(18,3)"  # type: ignore[union-attr]
    assert catalog.table("open_tickets").row_count is None  # a view: not counted into the file
    assert catalog.table("user").row_count == 2
    assert catalog.table("pairs").primary_key == ["a", "b"]
    assert [c.name for c in catalog.table("user").columns] == ["id", "select", "null"]
    ticket = catalog.table("ticket")
    assert (ticket.column("meta").type  # type: ignore[union-attr]
            == 'STRUCT("name" VARCHAR, n INTEGER)')
    relations = {(t.name, r.table, r.cardinality, r.on) for t in catalog.tables
                 for r in t.relationships}
    assert relations == {
        ("ticket", "user", "many_to_one", 'ticket.user_id = "user".id'),
        ("user", "ticket", "one_to_many", 'ticket.user_id = "user".id'),
    }
    assert catalog.name == "awkward-db.v2" and catalog.sources[0].name == "awkward_db_v2"


def test_init_refuses_a_non_empty_out_unless_told(awkward_database: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    run = skipper("catalog", "init", "--database", str(awkward_database), "--out", str(out))
    assert run.returncode == 1 and "catalog.out_not_empty" in run.stderr
    assert [p.name for p in out.iterdir()] == ["notes.md"]
    run = skipper("catalog", "init", "--database", str(awkward_database), "--out", str(out),
                  "--overwrite")
    assert run.returncode == 0, run.stderr
    assert "skipped" in run.stderr and "first name" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["catalog.yaml", "metrics.yaml", "tables"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["awkward-db.v2.duckdb", "out"]


def test_init_writes_nothing_when_it_fails(tmp_path: Path) -> None:
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("this is not a database")
    with pytest.raises(EngineError):
        init_catalog(not_duckdb, tmp_path / "out")
    with pytest.raises(DatabaseNotFoundError):
        init_catalog(tmp_path / "missing.duckdb", tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CatalogError):
        init_catalog(not_duckdb, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "notes.duckdb"]
    run = skipper("catalog", "init", "--database", str(not_duckdb), "--out", str(tmp_path / "o"))
    assert run.returncode == 1 and "engine.cannot_open" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "o").exists()


def test_init_output_is_deterministic(awkward_database: Path, tmp_path: Path) -> None:
    init_catalog(awkward_database, tmp_path / "a")
    init_catalog(awkward_database, tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.yaml"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.yaml"))
    assert files_a == files_b
    for name in files_a:
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
