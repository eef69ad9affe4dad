"""The hash mask's salt stays secret: the engine defines the salted hash function, so the salt
is in no SQL text, answer, audit record, error or worker command line; users cannot call it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_policy import write_catalog

from skipper import Skipper
from skipper.catalog import Catalog
from skipper.engine import MASK_HASH_FUNCTION
from skipper.engine.duckdb import DuckDBEngine
from skipper.errors import EngineError, GuardError, SkipperError
from skipper.policy import Policy

SALT = "s3cret-Salt-7f2c"

TABLES = """
tables:
  - name: hosts
    columns:
      - {name: id, type: BIGINT}
      - {name: ip, type: VARCHAR, classification: ip}
      - {name: port, type: INTEGER, classification: port}
"""

POLICIES = """
classifications:
  - {name: ip, mask: hash}
  - {name: port, mask: hash}
groups:
  - {name: staff, tables: [hosts]}
users:
  - {name: una, groups: [staff]}
"""

ROWS = [(1, "10.0.0.1", 22), (2, "10.0.0.2", 443), (3, None, None)]


def salted(value: object) -> str:
    return hashlib.sha256(f"{SALT}{value}".encode()).hexdigest()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("salt") / "hosts.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE hosts (id BIGINT, ip VARCHAR, port INTEGER)")
        con.executemany("INSERT INTO hosts VALUES (?, ?, ?)", ROWS)
    return path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("salt-catalog")
    return Catalog.load(write_catalog(root, tables=TABLES, policies=POLICIES))


@pytest.fixture(params=["process", "thread"])
def sk(request: pytest.FixtureRequest, catalog: Catalog, database: Path,
       tmp_path: Path) -> Iterator[Skipper]:
    with Skipper(catalog, database, audit_log=tmp_path / "audit.jsonl", user="una",
                 isolation=request.param, policy=Policy(catalog, salt=SALT)) as skipper:
        yield skipper


def test_hash_is_sha256_of_salt_and_value_and_null_stays_null(sk: Skipper) -> None:
    answer = sk.sql("SELECT id, ip, port FROM hosts ORDER BY id")
    assert answer.rows == [(1, salted("10.0.0.1"), salted(22)), (2, salted("10.0.0.2"),
                                                                 salted(443)), (3, None, None)]
    assert f"{MASK_HASH_FUNCTION}(" in answer.sql.lower()


def test_salt_is_in_no_sql_answer_audit_record_or_error(sk: Skipper) -> None:
    texts: list[str] = []
    for sql in ("SELECT * FROM hosts", "SELECT upper(ip), length(ip) FROM hosts",
                "SELECT to_json(hosts) FROM hosts", "SELECT * FROM hosts AS h, hosts AS g"):
        answer = sk.sql(sql)
        texts += [answer.sql, repr(answer.rows), answer.to_arrow().to_string()]
    for sql in ("SELECT CAST(ip AS INTEGER) FROM hosts",  # fails in the engine, on a hash
                f"SELECT {MASK_HASH_FUNCTION}('10.0.0.1')",
                "SELECT getvariable('skipper_mask_salt')",
                "SELECT * FROM hosts WHERE ip = '10.0.0.1'"):
        with pytest.raises(SkipperError) as failed:
            sk.sql(sql)
        texts += [str(failed.value), repr(failed.value.details)]
    assert not any(SALT in text for text in texts)
    assert SALT.encode() not in sk.audit.path.read_bytes()
    assert sk.audit.verify().ok


def test_same_salt_same_hashes_and_replay_matches(catalog: Catalog, database: Path,
                                                  tmp_path: Path) -> None:
    sql = "SELECT id, ip FROM hosts ORDER BY id"
    with Skipper(catalog, database, audit_log=tmp_path / "a.jsonl", user="una",
                 policy=Policy(catalog, salt=SALT)) as first:
        answer = first.sql(sql)
    with Skipper(catalog, database, audit_log=tmp_path / "a.jsonl", user="una",
                 isolation="thread", policy=Policy(catalog, salt=SALT)) as second:
        assert second.sql(sql).rows == answer.rows
        replayed = second.replay(answer.audit_id)
        assert replayed.matches and replayed.answer.rows == answer.rows
    with Skipper(catalog, database, audit_log=tmp_path / "b.jsonl", user="una",
                 policy=Policy(catalog, salt="another-salt")) as other:
        assert other.sql(sql).rows[0][1] != answer.rows[0][1]
        assert other.replay(other.sql(sql).audit_id).answer.rows != answer.rows


def test_salt_from_the_environment_reaches_the_engine(
    catalog: Catalog, database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKIPPER_POLICY_SALT", SALT)
    with Skipper(catalog, database, audit_log=tmp_path / "a.jsonl", user="una") as sk:
        assert sk.sql("SELECT ip FROM hosts WHERE id = 1").rows == [(salted("10.0.0.1"),)]


@pytest.mark.parametrize("sql", [
    f"SELECT {MASK_HASH_FUNCTION}('10.0.0.1')",
    f"SELECT upper({MASK_HASH_FUNCTION.upper()}('10.0.0.1'))",
    f'SELECT "{MASK_HASH_FUNCTION}"(ip) FROM hosts',
    f"SELECT temp.main.{MASK_HASH_FUNCTION}('10.0.0.1')",
    f"SELECT main.{MASK_HASH_FUNCTION}(id) FROM hosts",
    f"SELECT ('10.0.0.1').{MASK_HASH_FUNCTION}()",
    f"SELECT id FROM hosts WHERE {MASK_HASH_FUNCTION}('10.0.0.1') = ip",
    "SELECT getvariable('skipper_mask_salt')",
    "SELECT * FROM duckdb_functions()",
    "SELECT macro_definition FROM duckdb_functions() WHERE function_name LIKE 'skipper%'",
    "SELECT * FROM duckdb_variables()",
    "SELECT * FROM temp.main.duckdb_variables()",
])
def test_users_cannot_call_the_hash_or_read_its_salt(catalog: Catalog, sql: str) -> None:
    from skipper.guard import Guard

    with pytest.raises(GuardError):
        Guard(catalog, policy=Policy(catalog, salt=SALT)).check(sql, user="una")


def test_worker_argv_and_environment_do_not_hold_the_salt(database: Path) -> None:
    with DuckDBEngine(database, mask_salt=SALT) as engine:
        assert engine.execute(f"SELECT {MASK_HASH_FUNCTION}('x')").table.column(0)[0].as_py() \
            == salted("x")
        pid = engine.worker_pid
        for name in ("cmdline", "environ"):
            assert SALT.encode() not in Path(f"/proc/{pid}/{name}").read_bytes()


def test_thread_engines_on_one_file_keep_their_own_salts(database: Path) -> None:
    sql = f"SELECT {MASK_HASH_FUNCTION}('x')"
    with DuckDBEngine(database, isolation="thread", mask_salt=SALT) as one, \
            DuckDBEngine(database, isolation="thread", mask_salt="other") as two:
        assert one.execute(sql).table.column(0)[0].as_py() == salted("x")
        assert two.execute(sql).table.column(0)[0].as_py() == hashlib.sha256(
            b"otherx").hexdigest()
        assert one.execute(sql).table.column(0)[0].as_py() == salted("x")


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_engine_without_a_salt_has_no_hash_function(database: Path, isolation: str) -> None:
    with DuckDBEngine(database, isolation=isolation) as engine:  # type: ignore[arg-type]
        with pytest.raises(EngineError) as failed:
            engine.execute(f"SELECT {MASK_HASH_FUNCTION}('x')")
        assert failed.value.code == "engine.catalog_error"


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_database_defining_the_mask_function_is_refused(tmp_path: Path, isolation: str) -> None:
    path = tmp_path / "planted.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE MACRO {MASK_HASH_FUNCTION}(x) AS CAST(x AS VARCHAR)")
    with pytest.raises(EngineError) as refused, \
            DuckDBEngine(path, isolation=isolation, mask_salt=SALT) as engine:  # type: ignore[arg-type]
        engine.execute("SELECT 1")
    assert refused.value.code == "engine.shadowed_functions"
    assert SALT not in str(refused.value)


def test_demo_redaction_and_replay_still_work(demo_database: Path, demo_catalog: Path,
                                              tmp_path: Path) -> None:
    with Skipper(demo_catalog, demo_database, audit_log=tmp_path / "a.jsonl",
                 llm=False) as sk:
        answer = sk.sql("SELECT account_id, email FROM accounts ORDER BY account_id LIMIT 3",
                        user="ana")
        assert {row[1] for row in answer.rows} == {"[redacted]"}
        assert sk.replay(answer.audit_id).matches
