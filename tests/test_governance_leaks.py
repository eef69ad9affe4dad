"""Leak attempts against the demo policy: each is refused or returns no protected value, and
allowed queries return exactly what hand-written SQL returns on raw DuckDB."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.errors import GuardError

CATALOG = Path(__file__).resolve().parents[1] / "catalog"

EMAIL_ATTACKS = [
    ("ana", "SELECT email FROM accounts"),
    ("ana", "SELECT a.email AS e FROM accounts a"),
    ("ana", "SELECT * FROM accounts"),
    ("ana", "SELECT a.* FROM accounts a"),
    ("ana", "SELECT accounts FROM accounts"),
    ("ana", "SELECT to_json(accounts) FROM accounts"),
    ("ana", "SELECT accounts::VARCHAR FROM accounts"),
    ("ana", "SELECT json_extract_string(to_json(a), '$.email') FROM accounts a"),
    ("ana", "SELECT COLUMNS('.*mail.*') FROM accounts"),
    ("ana", "SELECT * EXCLUDE (plan) FROM accounts"),
    ("ana", "SELECT * REPLACE (lower(email) AS email) FROM accounts"),
    ("ana", "SELECT struct_pack(e := email) FROM accounts"),
    ("ana", "SELECT [email, account_name] FROM accounts"),
    ("ana", "SELECT list(email) FROM accounts"),
    ("ana", "SELECT string_agg(email, ',') FROM accounts"),
    ("ana", "SELECT max(email), min(email), any_value(email) FROM accounts"),
    ("ana", "SELECT upper(email), reverse(email), substr(email, 1, 40) FROM accounts"),
    ("ana", "SELECT md5(email), sha256(email) FROM accounts"),
    ("ana", "SELECT split_part(email, '@', 1) || '@' || split_part(email, '@', 2) FROM accounts"),
    ("ana", "WITH c AS (SELECT * FROM accounts) SELECT email FROM c"),
    ("ana", "SELECT email FROM (SELECT email FROM accounts) s"),
    ("ana", "SELECT email FROM accounts UNION SELECT domain_name FROM domains"),
    ("ana", "SELECT first_value(email) OVER (ORDER BY account_id) FROM accounts"),
    ("ana", "SELECT lag(email) OVER (ORDER BY account_id) FROM accounts"),
    ("ana", "SELECT email FROM accounts WHERE email LIKE '%a%'"),
    ("ana", "SELECT CASE WHEN email LIKE 'z%' THEN account_name END FROM accounts"),
    ("ana", "SELECT a.account_id FROM accounts a JOIN accounts b ON a.email = b.email"),
    ("ana", "SELECT email FROM accounts ORDER BY email"),
    ("ana", "SELECT email, count(*) FROM accounts GROUP BY ALL"),
    ("ana", "SELECT account_id FROM accounts QUALIFY row_number() OVER (ORDER BY email) = 1"),
    ("ana", "PIVOT accounts ON plan USING first(email)"),
    ("ana", "SELECT * FROM accounts PIVOT (first(email) FOR plan IN ('free', 'pro'))"),
    ("ana", "UNPIVOT accounts ON email, account_name INTO NAME k VALUE v"),
    ("ana", "SELECT unnest([email]) FROM accounts"),
    ("ana", "SELECT (SELECT b.email FROM accounts b WHERE b.account_id = a.account_id) "
            "FROM accounts a"),
    ("ana", "SELECT email FROM main.accounts"),
    ("ana", "SELECT town_lake.main.accounts.email FROM town_lake.main.accounts"),
    ("ana", "SELECT e FROM accounts AS t(i, n, e)"),
    ("ana", "FROM accounts SELECT email"),
    ("ana", "SELECT email FROM accounts USING SAMPLE 50"),
    ("ana", "SELECT list_filter([email], x -> x LIKE '%@%') FROM accounts"),
    ("ana", "SELECT email FROM (FROM accounts)"),
    ("ana", "SELECT * FROM accounts, domains WHERE accounts.account_id = domains.account_id"),
    ("ana", "WITH RECURSIVE r(n, e) AS (SELECT 1, (SELECT max(email) FROM accounts) "
            "UNION ALL SELECT n + 1, e FROM r WHERE n < 3) SELECT * FROM r"),
    ("ana", "SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM accounts"),
    ("ana", "SELECT * FROM accounts a, LATERAL (SELECT a.email AS e2)"),
    ("finn", "SELECT email FROM accounts"),
    ("finn", "SELECT b.*, a.* FROM billing_usage b JOIN accounts a USING (account_id) LIMIT 500"),
    ("finn", "SELECT * FROM support_tickets"),
    ("ana", "SELECT * FROM billing_usage"),
]

SALARY_ATTACKS = [
    (user, sql)
    for user in ("ana", "finn", "sue", "ada", None)
    for sql in (
        "SELECT * FROM employee_salaries",
        'SELECT * FROM "EMPLOYEE_SALARIES"',
        "SELECT * FROM main.employee_salaries",
        "SELECT a.account_id, e.name FROM accounts a JOIN employee_salaries e ON true",
    )
]

EU_ATTACKS = [
    "SELECT * FROM accounts",
    "SELECT * FROM accounts WHERE region <> 'EU'",
    "SELECT * FROM accounts WHERE region = 'EU' OR 1 = 1",
    "SELECT string_agg(account_name, ',') FROM accounts",
    "WITH c AS (SELECT * FROM accounts) SELECT * FROM c WHERE region = 'NA'",
    "SELECT * FROM domains",
    "SELECT * FROM accounts UNION ALL SELECT * FROM accounts",
    "SELECT (SELECT list(account_name) FROM accounts)",
    "SELECT * FROM accounts AS accounts2",
    "SELECT * FROM main.accounts",
    "SELECT * FROM (SELECT * FROM accounts) WHERE region = 'APAC'",
    "SELECT account_name, lead(account_name) OVER (ORDER BY account_id) FROM accounts",
    "SELECT t.*, a.account_name, a.email FROM support_tickets t JOIN accounts a USING (account_id)",
    "SELECT t.ticket_id, d.domain_name FROM support_tickets t JOIN domains d USING (account_id)",
    "SELECT b.account_name FROM accounts a RIGHT JOIN accounts b ON a.account_id = b.account_id",
    "SELECT coalesce(a.account_name, b.account_name) FROM accounts a FULL JOIN accounts b "
    "ON a.account_id = b.account_id",
    "SELECT account_name FROM accounts WHERE account_id NOT IN "
    "(SELECT account_id FROM accounts WHERE region = 'EU')",
    "SELECT d.domain_name, x.account_name FROM domains d, LATERAL "
    "(SELECT account_name FROM accounts a WHERE a.account_id = d.account_id) x",
    "SELECT * FROM http_requests_sampled",
    "SELECT * FROM billing_usage",
]


@pytest.fixture(scope="module")
def sk(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Skipper]:
    audit = tmp_path_factory.mktemp("governance") / "audit.jsonl"
    with Skipper(CATALOG, demo_database, audit_log=audit, max_rows=100_000) as skipper:
        yield skipper


@pytest.fixture(scope="module")
def raw(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo_database), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def secrets(raw: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    emails = {r[0] for r in raw.execute("SELECT email FROM accounts").fetchall()}
    hashes = {hashlib.md5(e.encode()).hexdigest() for e in emails}
    hashes |= {hashlib.sha256(e.encode()).hexdigest() for e in emails}
    non_eu = {v for row in raw.execute(
        "SELECT account_name, email FROM accounts WHERE region <> 'EU'").fetchall() for v in row}
    non_eu |= {r[0] for r in raw.execute(
        "SELECT domain_name FROM domains JOIN accounts USING (account_id) "
        "WHERE region <> 'EU'").fetchall()}
    names = {r[0] for r in raw.execute("SELECT name FROM employee_salaries").fetchall()}
    return {"email": emails | hashes, "non_eu": non_eu, "salary": names}


def _values(sk: Skipper, sql: str, user: str | None) -> set[str] | None:
    """Every string the answer shows (nested values flattened), or None when refused."""
    try:
        answer = sk.sql(sql, user=user)
    except GuardError:
        return None
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif value is not None:
            found.add(str(value))

    walk(answer.table.to_pylist())
    return found


def _leaks(values: set[str], protected: set[str]) -> set[str]:
    direct = values & protected
    # emails and hashes inside longer strings (a JSON row, a joined list); names only whole,
    # as one company's name may be part of another's
    embedded = [p for p in protected if "@" in p or len(p) >= 32]
    inside = {v for v in values - direct for p in embedded if p in v}
    return direct | inside


def test_there_are_at_least_forty_attacks() -> None:
    assert len(EMAIL_ATTACKS) + len(EU_ATTACKS) + len(SALARY_ATTACKS) >= 40


@pytest.mark.parametrize(("user", "sql"), EMAIL_ATTACKS)
def test_masked_email_never_leaks(sk: Skipper, secrets: dict[str, set[str]], user: str,
                                  sql: str) -> None:
    values = _values(sk, sql, user)
    if values is not None:
        assert not _leaks(values, secrets["email"]), sql
        assert not _leaks(values, secrets["salary"]), sql


@pytest.mark.parametrize("sql", EU_ATTACKS)
def test_support_sees_only_eu_rows(sk: Skipper, secrets: dict[str, set[str]], sql: str) -> None:
    values = _values(sk, sql, "sue")
    if values is not None:
        assert not _leaks(values, secrets["non_eu"]), sql


@pytest.mark.parametrize(("user", "sql"), SALARY_ATTACKS)
def test_nobody_reaches_employee_salaries(sk: Skipper, user: str | None, sql: str) -> None:
    with pytest.raises(GuardError) as refused:
        sk.sql(sql, user=user)
    assert refused.value.code == "sql.unknown_table"


ALLOWED = [
    ("ana", "SELECT plan, count(*) AS n FROM accounts GROUP BY plan ORDER BY plan",
     "SELECT plan, count(*) AS n FROM accounts GROUP BY plan ORDER BY plan"),
    ("ana", "SELECT * FROM accounts ORDER BY account_id",
     "SELECT * REPLACE ('[redacted]' AS email) FROM accounts ORDER BY account_id"),
    ("ana", "SELECT sum(requests * sample_interval) AS r FROM http_requests_sampled",
     "SELECT sum(requests * sample_interval) AS r FROM http_requests_sampled"),
    ("finn", "SELECT a.plan, sum(b.amount_usd) AS usd FROM billing_usage b JOIN accounts a "
             "USING (account_id) GROUP BY a.plan ORDER BY a.plan",
     "SELECT a.plan, sum(b.amount_usd) AS usd FROM billing_usage b JOIN accounts a "
     "USING (account_id) GROUP BY a.plan ORDER BY a.plan"),
    ("sue", "SELECT count(*) AS n FROM accounts",
     "SELECT count(*) AS n FROM accounts WHERE region = 'EU'"),
    ("sue", "SELECT account_id, email FROM accounts ORDER BY account_id",
     "SELECT account_id, email FROM accounts WHERE region = 'EU' ORDER BY account_id"),
    ("sue", "SELECT priority, count(*) AS n FROM support_tickets GROUP BY ALL ORDER BY ALL",
     "SELECT t.priority, count(*) AS n FROM support_tickets t JOIN accounts a USING (account_id) "
     "WHERE a.region = 'EU' GROUP BY ALL ORDER BY ALL"),
    ("sue", "SELECT count(*) AS n FROM domains d JOIN accounts a USING (account_id)",
     "SELECT count(*) AS n FROM domains d JOIN accounts a USING (account_id) "
     "WHERE a.region = 'EU'"),
    ("sue", "SELECT count(*) AS n FROM accounts WHERE region <> 'EU' OR TRUE",
     "SELECT count(*) AS n FROM accounts WHERE region = 'EU'"),
    ("ada", "SELECT * FROM accounts ORDER BY account_id",
     "SELECT * FROM accounts ORDER BY account_id"),
    (None, "SELECT sum(amount_usd) AS usd FROM billing_usage",
     "SELECT sum(amount_usd) AS usd FROM billing_usage"),
]


@pytest.mark.parametrize(("user", "sql", "expected"), ALLOWED)
def test_allowed_queries_return_the_right_rows(sk: Skipper, raw: duckdb.DuckDBPyConnection,
                                                user: str | None, sql: str,
                                                expected: str) -> None:
    answer = sk.sql(sql, user=user)
    assert answer.rows == raw.execute(expected).fetchall()
