"""Masks and row filters hold through the star expressions and PIVOTs the guard now resolves with
DuckDB's binder (issue 11, points 6 and 13): a star never unmasks a column or widens a row filter,
and a PIVOT's value columns are named after masked or filtered values only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_governance_leaks import _leaks, _values, raw, secrets, sk  # noqa: E402

from skipper import Skipper  # noqa: E402
from skipper.errors import EngineError  # noqa: E402

__all__ = ["raw", "secrets", "sk"]

EMAIL_ATTACKS = [
    "SELECT email FROM (SELECT COLUMNS('.*mail.*') FROM accounts) t",
    "SELECT email FROM (SELECT COLUMNS('(?i)EMAIL') FROM accounts) t",
    "SELECT email FROM (SELECT COLUMNS(lambda c: c LIKE '%mail') FROM accounts) t",
    "SELECT e FROM (SELECT COLUMNS('email') AS e FROM accounts) t",
    "SELECT m FROM (SELECT max(COLUMNS('email')) AS m FROM accounts) t",
    "SELECT email FROM (SELECT * LIKE 'e%' FROM accounts) t",
    "SELECT email FROM (SELECT * REPLACE (lower(email) AS email) FROM accounts) t",
    "SELECT email FROM (SELECT * EXCLUDE (plan) FROM accounts) t",
    "SELECT x FROM (SELECT * RENAME (email AS x) FROM accounts) t",
    "WITH c AS (SELECT COLUMNS('^e') FROM accounts) SELECT * FROM c",
    "SELECT * FROM (PIVOT (SELECT email, plan FROM accounts) ON email USING count(*)) p",
    "SELECT * FROM (PIVOT accounts ON plan USING first(email) GROUP BY region) p",
    "SELECT free FROM (PIVOT accounts ON plan USING max(email) GROUP BY region) p",
    "SELECT v FROM (UNPIVOT (SELECT account_id, email, account_name FROM accounts) "
    "ON email, account_name INTO NAME k VALUE v) u",
    "SELECT v FROM (SELECT account_id, email, account_name FROM accounts) "
    "UNPIVOT (v FOR k IN (email, account_name))",
]

EU_ATTACKS = [
    "SELECT account_name FROM (SELECT COLUMNS('^account_') FROM accounts) t",
    "SELECT * FROM (SELECT COLUMNS(lambda c: c LIKE 'account%') FROM accounts) t",
    "SELECT NA FROM (PIVOT (SELECT region, account_name FROM accounts) ON region "
    "USING string_agg(account_name, ',')) p",
    "SELECT * FROM (PIVOT (SELECT region, account_name FROM accounts) ON region IN ('NA', 'APAC') "
    "USING list(account_name)) p",
    "SELECT * FROM (SELECT region, account_name FROM accounts) "
    "PIVOT (list(account_name) FOR region IN ('NA', 'EU'))",
    "SELECT * FROM (PIVOT (SELECT domain_name FROM domains) ON domain_name USING count(*)) p",
]


@pytest.mark.parametrize("sql", EMAIL_ATTACKS)
def test_masked_email_never_leaks_through_a_star_or_pivot(
    sk: Skipper, secrets: dict[str, set[str]], sql: str
) -> None:
    values = _values(sk, sql, "ana")
    if values is not None:
        assert not _leaks(values, secrets["email"]), sql


@pytest.mark.parametrize("sql", EU_ATTACKS)
def test_support_sees_only_eu_rows_through_a_star_or_pivot(
    sk: Skipper, secrets: dict[str, set[str]], sql: str
) -> None:
    try:
        values = _values(sk, sql, "sue")
    except EngineError as error:  # a value column only other regions have does not exist for sue
        assert "not found" in error.message, error.message
        return
    if values is not None:
        assert not _leaks(values, secrets["non_eu"]), sql


def test_the_issues_strings_are_refused_or_answered(sk: Skipper) -> None:
    answer = sk.sql("SELECT account_name FROM (SELECT COLUMNS('^account_') FROM accounts) t "
                    "ORDER BY 1 LIMIT 3", user="sue")
    assert answer.rows and len(answer.rows[0]) == 1
