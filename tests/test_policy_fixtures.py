"""Policy fixture cases (tests/fixtures/policy/*.sql): who asks, what the guard makes of the query
(the exact rewritten SQL, or the refusal's code), and that the rewritten SQL runs on the demo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.errors import GuardError
from skipper.guard import Guard

FIXTURES = Path(__file__).parent / "fixtures" / "policy"
CATALOG = Path(__file__).resolve().parents[1] / "catalog"


@dataclass
class PolicyCase:
    file: str
    line: int
    title: str
    user: str = ""
    expect: str = ""
    sql_lines: list[str] = field(default_factory=list)
    rewritten_lines: list[str] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return "\n".join(self.sql_lines)

    @property
    def rewritten(self) -> str | None:
        return "\n".join(self.rewritten_lines) if self.rewritten_lines else None


def read_cases(path: Path) -> list[PolicyCase]:
    """Paragraphs starting ``-- title:``; ``-- user:``/``-- expect:`` headers, the SQL, and
    optionally ``-- rewritten:`` followed by the exact SQL the guard hands the engine."""
    cases: list[PolicyCase] = []
    current: PolicyCase | None = None
    target: list[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("-- title:"):
            current = PolicyCase(path.name, number, stripped.removeprefix("-- title:").strip())
            cases.append(current)
            target = current.sql_lines
            continue
        if current is None or target is None:
            continue
        if stripped.startswith("-- user:"):
            current.user = stripped.removeprefix("-- user:").strip()
        elif stripped.startswith("-- expect:"):
            current.expect = stripped.removeprefix("-- expect:").strip()
        elif stripped == "-- rewritten:":
            target = current.rewritten_lines
        elif not stripped:
            if current.sql_lines:
                current, target = None, None
        else:
            target.append(line)
    return cases


ALL_CASES = [case for path in sorted(FIXTURES.glob("*.sql")) for case in read_cases(path)]


@pytest.fixture(scope="session")
def policy_guard() -> Guard:
    return Guard(Catalog.load(CATALOG), database="town_lake")


@pytest.fixture(scope="module")
def raw_demo(demo_database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo_database), read_only=True)
    yield connection
    connection.close()


def test_fixture_files_are_well_formed() -> None:
    assert len(ALL_CASES) >= 25
    for case in ALL_CASES:
        assert case.user and case.expect and case.sql, f"{case.file}:{case.line} {case.title}"


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.file}:{c.line}" for c in ALL_CASES])
def test_policy_case(case: PolicyCase, policy_guard: Guard,
                     raw_demo: duckdb.DuckDBPyConnection) -> None:
    if case.expect != "ok":
        with pytest.raises(GuardError) as refused:
            policy_guard.check(case.sql, user=case.user)
        assert refused.value.code == case.expect, refused.value.message
        return
    guarded = policy_guard.check(case.sql, user=case.user)
    assert guarded.sql == (case.rewritten or case.sql)
    raw_demo.execute(guarded.sql).fetchall()
