"""A table in parentheses is the table, for every user: governed or not, DuckDB runs it."""

from __future__ import annotations

import pytest

from skipper import Skipper

CASES = [
    ("SELECT DISTINCT region FROM (accounts)", [("EU",)]),
    ("SELECT DISTINCT x.region FROM ((accounts)) AS x", [("EU",)]),
    ("SELECT DISTINCT a.region FROM (accounts a)", [("EU",)]),
    ("SELECT DISTINCT t.region FROM (accounts) AS t, (domains) AS d "
     "WHERE t.account_id = d.account_id", [("EU",)]),
]


@pytest.mark.parametrize(("sql", "rows"), CASES)
@pytest.mark.parametrize("user", ["sue", None])
def test_parenthesized_tables_run_under_policies(skipper_on_demo: Skipper, sql: str,
                                                 rows: list[tuple[str]], user: str | None) -> None:
    answer = skipper_on_demo.sql(sql, user=user)
    assert answer.lineage.tables == sorted({"accounts"} | ({"domains"} if "domains" in sql
                                                           else set()))
    if user == "sue":
        assert answer.rows == rows  # the row filter applies inside the parentheses
    else:
        assert len(answer.rows) > 1
    assert any("without its parentheses" in note
               for note in skipper_on_demo.audit.get(answer.audit_id).extra["rewrites"])
