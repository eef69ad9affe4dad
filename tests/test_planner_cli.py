"""`skipper ask` in a real subprocess: a summary and rows, or exit code 3 when it cannot answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ask(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "skipper.cli", "ask", *args,
               "--catalog", str(ROOT / "catalog"), "--database", str(database)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def lake(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo lake, so this module's audit log stays beside its own copy."""
    copy = tmp_path_factory.mktemp("ask") / "lake.duckdb"
    copy.write_bytes(demo_database.read_bytes())
    return copy


def test_ask_json_answers_with_a_summary(lake: Path) -> None:
    done = ask("accounts by plan", "--json", database=lake)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "ok"
    assert answer["summary"].endswith(".")
    assert sorted(row[0] for row in answer["rows"]) == ["business", "enterprise", "free", "pro"]
    assert sum(row[1] for row in answer["rows"]) == 1992  # 8 internal accounts left out
    assert "leaves out internal accounts unless asked" in answer["interpretation"]


def test_ask_human_output_has_summary_table_and_sql(lake: Path) -> None:
    done = ask("tickets by priority", database=lake)
    assert done.returncode == 0, done.stderr
    assert "has the most tickets" in done.stdout
    assert "SELECT" in done.stdout and "support_tickets" in done.stdout


@pytest.mark.parametrize("question", ["what is the average salary of employees?",
                                      "drop the accounts table"])
def test_cannot_answer_exits_3_with_suggestions(lake: Path, question: str) -> None:
    done = ask(question, "--json", database=lake)
    assert done.returncode == 3, done.stdout + done.stderr
    payload = json.loads(done.stdout)
    assert payload["status"] == "cannot_answer"
    assert payload["message"] and payload["suggestions"] and payload["audit_id"]
    if "salary" in question:
        assert "salary" in payload["unknown_words"]
    human = ask(question, database=lake)
    assert human.returncode == 3
    assert "Cannot answer" in human.stdout and "Traceback" not in human.stderr


def test_ask_shows_the_reading_above_the_rows(lake: Path) -> None:
    done = ask("tickets by priority in June 2026", database=lake)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "Read as: Tickets (count of support tickets rows), opened" in out
    assert out.index("Read as") < out.index("┃ priority")
    answer = json.loads(ask("tickets by priority in June 2026", "--json", database=lake).stdout)
    assert answer["interpretation"].startswith("Tickets (count of support tickets rows), opened")


def test_two_readings_exit_3_and_offer_runnable_choices(lake: Path) -> None:
    done = ask("tickets open in June 2026", database=lake)
    assert done.returncode == 3, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "Which did you mean?" in out
    assert "1. tickets opened in June 2026" in out
    assert "2. tickets with ticket status open in June 2026" in out
    answer = json.loads(ask("tickets open in June 2026", "--json", database=lake).stdout)
    assert answer["status"] == "needs_clarification"
    for choice in answer["choices"]:
        chosen = ask(choice, "--json", database=lake)
        assert chosen.returncode == 0, chosen.stdout
        assert json.loads(chosen.stdout)["status"] == "ok"
