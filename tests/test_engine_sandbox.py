"""The second wall: raw SQL that bypasses the guard still cannot write, read files, load
extensions, reach the network or change settings, and the database file stays byte-identical."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from skipper.engine._sandbox import Sandbox
from skipper.engine.duckdb import DuckDBEngine
from skipper.errors import EngineError

OUTSIDE = "/etc/passwd"

# Statements the DuckDB configuration itself must refuse, sent straight to the sandboxed
# connection (no guard, no statement check): read-only, external access off, no extension
# loading, locked configuration.
CONFIG_ATTACKS = {
    "create_table": "CREATE TABLE pwned (a INTEGER)",
    "create_table_as": "CREATE TABLE pwned AS SELECT * FROM accounts",
    "create_view": "CREATE VIEW pwned AS SELECT 1",
    "create_macro": "CREATE MACRO pwned(a) AS a",
    "create_sequence": "CREATE SEQUENCE pwned",
    "insert": "INSERT INTO accounts (account_id) VALUES (-1)",
    "update": "UPDATE accounts SET plan = 'free'",
    "delete": "DELETE FROM employee_salaries",
    "drop": "DROP TABLE employee_salaries",
    "alter": "ALTER TABLE accounts ADD COLUMN pwned INTEGER",
    "truncate": "TRUNCATE employee_salaries",
    "copy_to_file": "COPY employee_salaries TO '{tmp}/salaries.csv'",
    "copy_query_to_parquet": "COPY (SELECT * FROM accounts) TO '{tmp}/a.parquet' (FORMAT parquet)",
    "copy_over_wal": "COPY (SELECT 1) TO '{db}.wal'",
    "copy_from": "COPY accounts FROM '{tmp}/in.csv'",
    "export_database": "EXPORT DATABASE '{tmp}/export'",
    "import_database": "IMPORT DATABASE '{tmp}/export'",
    "read_csv": f"SELECT * FROM read_csv('{OUTSIDE}')",
    "read_csv_auto": f"SELECT * FROM read_csv_auto('{OUTSIDE}')",
    "replacement_scan_file": f"SELECT * FROM '{OUTSIDE}'",
    "from_first_file": f"FROM '{OUTSIDE}'",
    "read_text": f"SELECT * FROM read_text('{OUTSIDE}')",
    "read_blob": f"SELECT * FROM read_blob('{OUTSIDE}')",
    "read_json": f"SELECT * FROM read_json('{OUTSIDE}')",
    "read_parquet": "SELECT * FROM read_parquet('{tmp}/*.parquet')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "sniff_csv": f"SELECT * FROM sniff_csv('{OUTSIDE}')",
    "attach_file": "ATTACH '{tmp}/other.duckdb' AS other",
    "attach_memory": "ATTACH ':memory:' AS scratch",
    "install_httpfs": "INSTALL httpfs",
    "force_install": "FORCE INSTALL httpfs",
    "load_httpfs": "LOAD httpfs",
    "load_path": "LOAD '{tmp}/evil.duckdb_extension'",
    "http_read": "SELECT * FROM read_csv('https://example.com/data.csv')",
    "http_replacement_scan": "SELECT * FROM 'https://example.com/data.parquet'",
    "s3_read": "SELECT * FROM read_parquet('s3://bucket/key.parquet')",
    "persistent_secret": "CREATE PERSISTENT SECRET pwned (TYPE http, BEARER_TOKEN 'x')",
    "set_memory": "SET memory_limit = '20GB'",
    "set_threads": "SET threads = 16",
    "pragma_threads": "PRAGMA threads = 16",
    "reset_memory": "RESET memory_limit",
    "reenable_external_access": "SET enable_external_access = true",
    "unlock": "SET lock_configuration = false",
    "reset_lock": "RESET lock_configuration",
    "temp_directory": "SET temp_directory = '{tmp}'",
    "allowed_directories": "SET allowed_directories = ['/']",
    "autoload": "SET autoload_known_extensions = true",
    "python_replacement_scan": "SELECT * FROM local_frame",
}

# Further statements the engine refuses even though the configuration alone would let them
# run harmlessly in memory (temporary objects, maintenance no-ops, several statements).
ENGINE_ONLY_ATTACKS = {
    "create_temp_table": "CREATE TEMP TABLE scratch AS SELECT 1 AS a",
    "shadow_catalog_table": "CREATE TEMP VIEW accounts AS SELECT 1 AS account_id",
    "checkpoint": "CHECKPOINT",
    "checkpoint_force": "FORCE CHECKPOINT",
    "vacuum": "VACUUM",
    "begin": "BEGIN TRANSACTION",
    "stacked_statements": "SELECT 1; CREATE TEMP TABLE scratch AS SELECT 1",
    "stacked_write": "SELECT 1; INSERT INTO accounts (account_id) VALUES (-1)",
    "call_pragma": "CALL pragma_database_size()",
    "set_variable": "SET VARIABLE pwned = 1",
    "prepare": "PREPARE pwned AS SELECT 1",
    "explain_analyze": "EXPLAIN ANALYZE SELECT 1",
    "use": "USE memory",
    "detach": "DETACH town_lake",
}


def fingerprint(database: Path) -> tuple[int, int, list[str]]:
    """The database file's size and modification time, and every file beside it (cheap enough
    to take around each attack; the bytes themselves are hashed around the whole module)."""
    stat = database.stat()
    return stat.st_size, stat.st_mtime_ns, sorted(p.name for p in database.parent.iterdir())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lake(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private copy of the demo lake that the attacks run against; after every test of this
    module has run, its bytes must be those of the original."""
    path = tmp_path_factory.mktemp("attacked") / "town_lake.duckdb"
    shutil.copyfile(demo_database, path)
    original = sha256(demo_database)
    yield path
    assert sha256(path) == original, "an attack changed the database file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["town_lake.duckdb"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the attacks aim at; a real file sits there to be read."""
    path = tmp_path_factory.mktemp("scratch")
    (path / "in.csv").write_text("account_id\n-1\n")
    duckdb.connect(str(path / "other.duckdb")).close()
    return path


@pytest.fixture(scope="module")
def sandbox(lake: Path) -> Iterator[Sandbox]:
    box = Sandbox(lake)
    yield box
    box.close()


@pytest.mark.parametrize("name", sorted(CONFIG_ATTACKS))
def test_configuration_alone_refuses(name: str, sandbox: Sandbox, lake: Path,
                                     scratch: Path) -> None:
    sql = CONFIG_ATTACKS[name].format(tmp=scratch, db=lake)
    local_frame = pa.table({"a": [1]})  # noqa: F841 - a scan target
    before = fingerprint(lake)
    with pytest.raises(duckdb.Error):
        sandbox.con.execute(sql).fetchall()
    assert fingerprint(lake) == before
    assert sorted(p.name for p in scratch.iterdir()) == ["in.csv", "other.duckdb"]


def test_settings_are_the_sandbox(sandbox: Sandbox) -> None:
    settings = dict(sandbox.con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('access_mode', "
        "'enable_external_access', 'autoload_known_extensions', 'autoinstall_known_extensions', "
        "'allow_community_extensions', 'allow_persistent_secrets', 'python_enable_replacements', "
        "'lock_configuration', 'threads', 'temp_directory', 'allow_extension_repositories')"
    ).fetchall())
    assert settings == {
        "access_mode": "read_only",
        "enable_external_access": "false",
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_persistent_secrets": "false",
        "python_enable_replacements": "false",
        "lock_configuration": "true",
        "threads": "2",
        "temp_directory": "",
        "allow_extension_repositories": "forbidden",
    }


@pytest.fixture(scope="module", params=["process", "thread"])
def engine(request: pytest.FixtureRequest, lake: Path) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(lake, isolation=request.param) as engine:
        yield engine


@pytest.mark.parametrize("name", sorted(CONFIG_ATTACKS) + sorted(ENGINE_ONLY_ATTACKS))
def test_engine_refuses(name: str, engine: DuckDBEngine, lake: Path, scratch: Path) -> None:
    sql = {**CONFIG_ATTACKS, **ENGINE_ONLY_ATTACKS}[name].format(tmp=scratch, db=lake)
    before = fingerprint(lake)
    with pytest.raises(EngineError) as caught:
        engine.execute(sql, timeout_s=10)
    assert caught.value.code.startswith("engine.")
    assert caught.value.code != "engine.crashed"
    assert fingerprint(lake) == before
    assert sorted(p.name for p in scratch.iterdir()) == ["in.csv", "other.duckdb"]


@pytest.mark.parametrize("sql", [
    "CREATE TEMP TABLE scratch AS PIVOT accounts ON plan USING count(*)",
    "CREATE TEMP VIEW accounts AS PIVOT accounts ON plan USING count(*)",
    "INSERT INTO accounts PIVOT accounts ON plan USING count(*)",
    "COPY (PIVOT accounts ON plan USING count(*)) TO '{tmp}/pivot.csv'",
])
def test_writes_hidden_in_a_pivot_leave_nothing(sql: str, engine: DuckDBEngine, lake: Path,
                                                scratch: Path) -> None:
    """A PIVOT parses as MULTI, which the engine runs; what it hides meets the read-only
    database, the file-system lock and a rollback, so nothing outlives the call."""
    before = fingerprint(lake)
    accounts = engine.execute("SELECT count(*) AS n FROM accounts").table.to_pylist()
    with contextlib.suppress(EngineError):
        engine.execute(sql.format(tmp=scratch), timeout_s=10)
    assert engine.execute("SELECT count(*) AS n FROM accounts").table.to_pylist() == accounts
    with pytest.raises(EngineError, match="scratch"):
        engine.execute("SELECT * FROM scratch")
    assert fingerprint(lake) == before
    assert sorted(p.name for p in scratch.iterdir()) == ["in.csv", "other.duckdb"]


def test_no_extension_is_loaded_and_none_can_be(engine: DuckDBEngine) -> None:
    for sql in ("LOAD httpfs", "INSTALL httpfs", "SELECT * FROM 'https://example.com/x.csv'"):
        with pytest.raises(EngineError):
            engine.execute(sql)
    with pytest.raises(EngineError, match="(?i)extension|access"):
        engine.execute("SELECT * FROM duckdb_extensions()")


def test_the_lake_still_answers_after_every_attack(engine: DuckDBEngine,
                                                   sandbox: Sandbox) -> None:
    expected = sandbox.con.execute("SELECT count(*) FROM employee_salaries").fetchall()[0][0]
    assert expected > 0
    result = engine.execute("SELECT count(*) AS n FROM employee_salaries")
    assert result.table.to_pylist() == [{"n": expected}]


def test_replacement_scans_would_work_without_the_sandbox(sandbox: Sandbox) -> None:
    """The control for ``python_replacement_scan``: an ordinary connection does read a Python
    variable by name, so the sandbox's refusal is the setting at work, not a typo."""
    local_frame = pa.table({"a": [7]})  # noqa: F841 - a scan target
    assert duckdb.connect().execute("SELECT * FROM local_frame").fetchall() == [(7,)]
    with pytest.raises(duckdb.CatalogException):
        sandbox.con.execute("SELECT * FROM local_frame").fetchall()


def test_a_database_whose_macros_replace_builtins_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "macro.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE accounts (account_name VARCHAR)")
        con.execute("CREATE TABLE secrets (salary INTEGER)")
        con.execute("INSERT INTO secrets VALUES (42)")
        con.execute("CREATE MACRO lower(a) AS (SELECT max(salary) FROM secrets)")
    with pytest.raises(EngineError) as refused:
        DuckDBEngine(database).execute("SELECT 1")
    assert refused.value.code == "engine.shadowed_functions"
    assert "lower" in refused.value.message
