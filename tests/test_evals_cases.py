"""Cases files: valid ones load with their defaults; invalid ones name the file, line and case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from skipper.errors import EvalCaseError
from skipper.evals.cases import CasesFile, dump_cases, load_cases

FIXTURES = Path(__file__).parent / "fixtures" / "evals"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def _header(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        fields[key.strip()] = value.strip()
    return fields


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_cases_file(path: Path) -> None:
    expected = _header(path)
    with pytest.raises(EvalCaseError) as caught:
        load_cases(path)
    error = caught.value
    assert expected["error"] in error.message, error.message
    assert error.file == str(path)
    assert error.line == int(expected["line"]), error.message
    assert (error.case or "") == expected["case"], error.message
    assert error.code == "eval.invalid_case"


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(EvalCaseError) as caught:
        load_cases(tmp_path / "nope.yaml")
    assert caught.value.code == "eval.cases_not_found"


def test_valid_file_defaults_and_resolution(tmp_path: Path) -> None:
    path = tmp_path / "evals" / "cases.yaml"
    path.parent.mkdir()
    path.write_text(
        """
catalog: ../catalog
database: demo
as_of: 2026-06-30
tolerance: 0.01
cases:
  - id: open-p1
    question: open P1 tickets by plan
    gold_sql: SELECT 1
    tags: [tickets]
    tolerance: 0.5
    turns:
      - question: only enterprise
        expected_rows: [[no, 1]]
  - id: salaries
    question: what does Alice earn?
    expect: cannot_answer
    user: analyst
""",
        encoding="utf-8",
    )
    suite = load_cases(path)
    first, second = suite.cases
    target = suite.target_of(first)
    assert target.is_demo and target.as_of == dt.date(2026, 6, 30)
    assert target.catalog == (tmp_path / "catalog").resolve()
    assert suite.tolerance_of(first) == 0.5
    assert suite.tolerance_of(first, first.turns[0]) == 0.5
    assert suite.tolerance_of(second) == 0.01
    assert first.turns[0].expected_rows == [["no", 1]]  # YAML 1.2: `no` stays a string
    assert second.expect == "cannot_answer" and second.user == "analyst"
    assert suite.lines == {"open-p1": 7, "salaries": 15}


def test_dump_round_trips(tmp_path: Path) -> None:
    spec = CasesFile.model_validate({
        "databases": {"shop": {"catalog": "catalog", "database": "shop.duckdb"}},
        "cases": [
            {"id": "a-0", "db": "shop", "question": "q", "gold_sql": "SELECT 1\nFROM t"},
            {"id": "a-1", "db": "shop", "question": "drop it", "expect": "refused",
             "gold_sql": "DROP TABLE t", "notes": "not a read"},
        ],
    })
    path = tmp_path / "cases.yaml"
    path.write_text(dump_cases(spec), encoding="utf-8")
    assert "gold_sql: |-\n" in path.read_text()
    assert load_cases(path).spec == spec


def test_json_schema_describes_cases() -> None:
    schema = CasesFile.model_json_schema()
    case = schema["$defs"]["Case"]
    assert case["additionalProperties"] is False
    assert {"id", "question", "gold_sql", "expected_rows", "expect", "turns", "tolerance",
            "ordered", "user", "tags"} <= set(case["properties"])
