"""Governance on a small catalog of its own: the default rules, each mask kind, row filters that
name the user, group unions, a pluggable resolver, load-time checks, audit and planners."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.catalog import Catalog
from skipper.errors import CatalogError, GuardError, PolicyError
from skipper.guard import Guard
from skipper.policy import Policy, Principal
from tests.conftest import DEMO_AS_OF

TABLES = """
tables:
  - name: people
    columns:
      - {name: id, type: BIGINT}
      - {name: name, type: VARCHAR, classification: name}
      - {name: email, type: VARCHAR, classification: email}
      - {name: phone, type: VARCHAR, classification: phone}
      - {name: ip, type: VARCHAR, classification: ip}
      - {name: team, type: VARCHAR}
  - name: notes
    columns:
      - {name: id, type: BIGINT}
      - {name: person_id, type: BIGINT}
      - {name: body, type: VARCHAR}
  - name: drafts
    reviewed: false
    columns:
      - {name: id, type: BIGINT}
"""

POLICIES = """
classifications:
  - {name: email, mask: redact}
  - {name: name, mask: deny}
  - {name: phone, mask: partial, keep_start: 0, keep_end: 2}
  - {name: ip, mask: hash}
groups:
  - name: staff
    tables: [people, notes]
    row_filters:
      - {table: people, where: "email = :user_email"}
      - table: notes
        where: >-
          person_id IN (SELECT p.id FROM people AS p WHERE p.email = :user_email)
  - name: leads
    tables: [people]
    unmask: [email]
  - name: hr
    tables: ["*"]
    unmask: ["*"]
users:
  - {name: una, email: una@corp.example, groups: [staff]}
  - {name: lee, email: lee@corp.example, groups: [staff, leads]}
  - {name: hana, email: hana@corp.example, groups: [hr]}
"""

ROWS = [
    (1, "Una Ulm", "una@corp.example", "+44 20 7946 0001", "10.0.0.1", "red"),
    (2, "Lee Lo", "lee@corp.example", "+44 20 7946 0002", "10.0.0.2", "blue"),
    (3, "Max Mu", "max@corp.example", "+44 20 7946 0003", "10.0.0.3", "red"),
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "corp.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE people (id BIGINT, name VARCHAR, email VARCHAR, phone VARCHAR, "
                    "ip VARCHAR, team VARCHAR)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", ROWS)
        con.execute("CREATE TABLE notes AS SELECT i AS id, i % 3 + 1 AS person_id, "
                    "'note ' || i AS body FROM range(9) t(i)")
        con.execute("CREATE TABLE drafts AS SELECT 1 AS id")
    return path


def write_catalog(root: Path, *, tables: str = TABLES, policies: str | None = POLICIES) -> Path:
    """A catalog directory: ``tables.yaml`` and, unless None, ``policies.yaml``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tables.yaml").write_text(tables, encoding="utf-8")
    if policies is not None:
        (root / "policies.yaml").write_text(policies, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(write_catalog(tmp_path_factory.mktemp("governed") / "catalog"))


@pytest.fixture()
def sk(governed: Catalog, database: Path, tmp_path: Path):
    with Skipper(governed, database, audit_log=tmp_path / "audit.jsonl",
                 policy=Policy(governed, salt="pepper")) as skipper:
        yield skipper


def rows(sk: Skipper, sql: str, user: str | None) -> list[tuple[object, ...]]:
    return sk.sql(sql, user=user).rows


def test_without_users_everyone_reads_every_reviewed_table(tmp_path: Path, database: Path) -> None:
    catalog = Catalog.load(write_catalog(tmp_path / "open", policies=None))
    assert not catalog.governed
    with Skipper(catalog, database, audit_log=tmp_path / "a.jsonl") as sk:
        for user in (None, "anyone"):
            assert rows(sk, "SELECT email FROM people ORDER BY id", user)[0] == (ROWS[0][2],)
        with pytest.raises(GuardError) as refused:
            sk.sql("SELECT * FROM drafts")
        assert refused.value.code == "sql.unknown_table"


def test_governed_catalog_without_default_user_needs_a_user(sk: Skipper) -> None:
    with pytest.raises(PolicyError) as refused:
        sk.sql("SELECT id FROM notes")
    assert refused.value.code == "policy.user_required"


def test_unknown_user_reads_nothing_and_forbidden_looks_like_missing(governed: Catalog) -> None:
    guard = Guard(governed)
    with pytest.raises(PolicyError) as unknown:
        guard.check("SELECT * FROM notes", user="mallory")
    assert unknown.value.code == "policy.unknown_user" and "notes" not in unknown.value.message
    messages = {}
    for user, table in (("una", "notes_x"), ("una", "drafts"), ("una", "nosuch")):
        with pytest.raises(GuardError) as refused:
            guard.check(f"SELECT * FROM {table}", user=user)
        assert refused.value.code == "sql.unknown_table"
        messages[table] = refused.value.message.replace(table, "T")
    assert len(set(messages.values())) == 1


def test_row_filter_names_the_user(sk: Skipper) -> None:
    assert rows(sk, "SELECT id, team FROM people", "una") == [(1, "red")]
    assert rows(sk, "SELECT count(*) FROM people WHERE TRUE OR id > 0", "una") == [(1,)]
    assert rows(sk, "SELECT DISTINCT person_id FROM notes", "una") == [(1,)]


def test_groups_union_grants_unmasks_and_rows(sk: Skipper) -> None:
    # lee is staff (filtered, masked) and leads (every row, email in clear): the wider wins
    assert rows(sk, "SELECT email FROM people ORDER BY id", "lee") == [(r[2],) for r in ROWS]
    assert rows(sk, "SELECT count(*) FROM notes", "lee") == [(3,)]


def test_each_mask_kind(sk: Skipper) -> None:
    got = rows(sk, "SELECT * FROM people", "una")
    assert got == [(1, None, "***01", hashlib.sha256(b"pepper10.0.0.1").hexdigest(), "red")]
    assert sk.sql("SELECT * FROM people", user="una").columns == ["id", "email", "phone", "ip",
                                                                  "team"]
    with pytest.raises(GuardError) as refused:
        sk.sql("SELECT name FROM people", user="una")
    assert refused.value.code == "sql.unknown_column"
    assert rows(sk, "SELECT name, email FROM people WHERE id = 3", "hana") == [(ROWS[2][1],
                                                                                 ROWS[2][2])]


def test_hash_salt_comes_from_the_constructor_or_environment(
    governed: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = "SELECT ip FROM people"
    guard = Guard(governed, policy=Policy(governed, salt="pepper"))
    assert guard.policy.salt == "pepper" and "pepper" not in guard.check(sql, "una").sql
    monkeypatch.setenv("SKIPPER_POLICY_SALT", "from-env")
    guard = Guard(governed)
    assert guard.policy.salt == "from-env" and "from-env" not in guard.check(sql, "una").sql


def test_masked_column_in_predicate_is_refused(sk: Skipper) -> None:
    for sql in ("SELECT id FROM people WHERE ip = '10.0.0.1'",
                "SELECT ip, count(*) FROM people GROUP BY ip",
                "SELECT id FROM people ORDER BY phone"):
        with pytest.raises(PolicyError) as refused:
            sk.sql(sql, user="una")
        assert refused.value.code == "policy.column_in_predicate"


def test_pluggable_resolver(governed: Catalog, database: Path, tmp_path: Path) -> None:
    class Directory:
        def resolve(self, user: str) -> Principal | None:
            return Principal(user, f"{user}@corp.example", ("hr",)) if user == "dir" else None

    with Skipper(governed, database, audit_log=tmp_path / "a.jsonl",
                 policy=Policy(governed, resolver=Directory())) as sk:
        assert rows(sk, "SELECT count(*) FROM people", "dir") == [(3,)]
        with pytest.raises(GuardError):
            sk.sql("SELECT count(*) FROM people", user="una")  # not in the directory


def test_audit_records_user_groups_and_policies(sk: Skipper) -> None:
    answer = sk.sql("SELECT email FROM people", user="una")
    record = sk.audit.get(answer.audit_id)
    assert record.user == "una" and record.groups == ["staff"]
    kinds = {(p["kind"], p["table"]) for p in record.policies}
    assert ("mask", "people") in kinds and ("row_filter", "people") in kinds
    with pytest.raises(PolicyError):
        sk.sql("SELECT id FROM people WHERE email = 'x'", user="una")
    refusal = sk.audit.tail(1)[0]
    assert refusal.outcome == "refused" and refusal.groups == ["staff"]


def test_visible_lists_what_planners_may_show(sk: Skipper) -> None:
    seen = sk.visible("una")
    assert seen.tables == ("people", "notes")
    assert "name" not in seen.columns["people"] and seen.masked["people"] == ("email", "ip",
                                                                               "phone")
    assert sk.visible("hana").tables == ("people", "notes")


@pytest.mark.parametrize(("policies", "field"), [
    ("users: [{name: a, groups: [nope]}]", "groups[0]"),
    ("groups: [{name: g, tables: [nope]}]", "tables[0]"),
    ("groups: [{name: g, tables: [people], row_filters: [{table: people, where: 'nope = 1'}]}]",
     "where"),
    ("groups: [{name: g, unmask: [nope]}]", "unmask[0]"),
    ("users: [{name: a}]\ndefault_user: b", "default_user"),
])
def test_policy_mistakes_fail_at_load(tmp_path: Path, policies: str, field: str) -> None:
    with pytest.raises(CatalogError) as failed:
        Catalog.load(write_catalog(tmp_path / "bad", policies=policies))
    assert field in (failed.value.field or ""), failed.value.message
    assert (failed.value.file or "").endswith("policies.yaml") and failed.value.line


def test_demo_policy_through_the_cli(demo_database: Path, demo_catalog: Path) -> None:
    def run(user: str, sql: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "skipper.cli", "sql", sql, "--catalog", str(demo_catalog),
             "--database", str(demo_database), "--user", user, "--json"],
            capture_output=True, text=True, timeout=120, check=False)
        return dict(json.loads(done.stdout))

    assert run("sue", "SELECT DISTINCT region FROM accounts")["rows"] == [["EU"]]
    refused = run("ana", "SELECT * FROM billing_usage")
    assert refused["error"] == {"code": "sql.unknown_table",
                                "message": "table 'billing_usage' is not in the catalog; "
                                           "query only the catalog's tables"}


def test_ask_plans_over_what_the_user_may_see(demo_database: Path, demo_catalog: Path,
                                              tmp_path: Path) -> None:
    # "last month" of the lake's own today: a month the data holds
    with Skipper(demo_catalog, demo_database, audit_log=tmp_path / "a.jsonl", llm=False,
                 today=DEMO_AS_OF) as sk:
        assert sk.ask("total revenue last month", user="finn").status == "ok"
        assert sk.ask("total revenue last month", user="ana").status == "cannot_answer"
        eu = sk.ask("How many enterprise accounts are in the EU?", user="sue")
        assert eu.status == "ok" and eu.rows == sk.ask(
            "How many enterprise accounts are in the EU?").rows
        assert "billing_usage" not in sk.visible("ana").tables


def test_each_check_asks_the_resolver_once(governed: Catalog) -> None:
    """A directory lookup (LDAP, SCIM) is on every query's path: the guard makes it once."""
    asked: list[str] = []

    class Directory:
        def resolve(self, user: str) -> Principal | None:
            asked.append(user)
            return Principal(user, f"{user}@corp.example", ("hr",))

    guard = Guard(governed, policy=Policy(governed, resolver=Directory()))
    assert guard.check("SELECT count(*) FROM people", user="dir").tables == ["people"]
    assert asked == ["dir"]


def test_access_cache_stays_bounded_for_made_up_users(governed: Catalog) -> None:
    from skipper.policy.access import ACCESS_CACHE_SIZE, Policy

    policy = Policy(governed)
    for i in range(ACCESS_CACHE_SIZE + 50):
        assert not policy.access(f"nobody{i}").principal.known
    assert len(policy._cache) == ACCESS_CACHE_SIZE  # noqa: SLF001
