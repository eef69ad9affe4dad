"""Eval runs end to end: predictions through Skipper's guard, hand-computed scores, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from skipper.evals.cases import load_cases
from skipper.evals.runner import EvalRun, run_eval
from skipper.evals.systems import Predictions

FIXTURES = Path(__file__).parent / "fixtures" / "evals"
ROOT = Path(__file__).resolve().parents[1]
NSQL = ROOT.parent / "shared" / "datasets" / "duckdb-nsql"

guard = pytest.importorskip("skipper.guard")
if not hasattr(guard, "Guard"):  # the front door's guard lands with the spine
    pytest.skip("skipper.guard.Guard is not available yet", allow_module_level=True)


@pytest.fixture(scope="module")
def shop_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop cases next to a fresh shop database and its catalog."""
    folder = tmp_path_factory.mktemp("shop_eval")
    with duckdb.connect(str(folder / "shop.duckdb")) as con:
        con.execute((FIXTURES / "shop.sql").read_text())
        con.execute("CREATE TABLE staff AS SELECT 'Zed' AS name, 99000 AS salary")
    (folder / "catalog").mkdir()
    (folder / "catalog" / "shop.yaml").write_text((FIXTURES / "catalog" / "shop.yaml").read_text())
    (folder / "cases.yaml").write_text((FIXTURES / "shop_cases.yaml").read_text())
    (folder / "predictions.json").write_text((FIXTURES / "shop_predictions.json").read_text())
    return folder / "cases.yaml"


def _run(cases: Path, predictions: Path, **options: Any) -> EvalRun:
    return run_eval(load_cases(cases), Predictions.load(predictions), **options)


def test_known_mistakes_score_as_hand_computed(shop_cases: Path) -> None:
    run = _run(shop_cases, shop_cases.with_name("predictions.json"), workers=2)
    verdicts = {case.id: case.correct for case in run.results}
    assert verdicts == {
        "same": True, "lost-rows": False, "duplicated-rows": False, "reordered-columns": True,
        "rewrite": True, "wrong-order": False, "tie-at-limit": True, "float-rewrite": True,
        "delete-orders": True, "salaries": True, "outside-catalog": False,
        "no-prediction": False, "follow-up": False, "literal-rows": True,
    }
    outcomes = {case.id: case.first.outcome for case in run.results}
    assert outcomes["delete-orders"] == "refused"
    assert outcomes["salaries"] == "cannot_answer"
    assert outcomes["outside-catalog"] == "refused"
    assert outcomes["no-prediction"] == "missing"
    summary = run.summary
    assert (summary["cases"], summary["correct"]) == (14, 8)
    assert summary["accuracy"] == round(8 / 14, 4)
    assert (summary["turns"], summary["answerable"], summary["answer_correct"]) == (15, 13, 7)
    assert summary["decline_accuracy"] == 1.0
    assert summary["validity"] == round(11 / 12, 4)
    assert summary["refusal_precision"] == round(2 / 3, 4)
    assert summary["refusal_recall"] == 1.0
    assert summary["table_precision"] == round(11 / 12, 4)
    assert summary["table_recall"] == round(11 / 12, 4)
    assert summary["llm_calls_per_question"] == 0
    assert summary["by_tag"]["safety"] == {"cases": 2, "correct": 2, "accuracy": 1.0}
    follow_up = next(case for case in run.results if case.id == "follow-up")
    assert [turn.correct for turn in follow_up.turns] == [True, False]


def test_bird_semantics_on_the_same_predictions(shop_cases: Path) -> None:
    run = _run(shop_cases, shop_cases.with_name("predictions.json"), semantics="bird")
    verdicts = {case.id: case.correct for case in run.results}
    assert verdicts["duplicated-rows"] is True  # a set of rows
    assert verdicts["reordered-columns"] is False  # no column permutations
    assert verdicts["wrong-order"] is True  # order ignored
    assert verdicts["lost-rows"] is False


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`skipper eval ...` in a real subprocess (through a tiny host app until the lead
    registers the command group in skipper.cli)."""
    from skipper.cli import app

    registered = any(group.name == "eval" for group in app.registered_groups)
    if registered:
        command = [sys.executable, "-m", "skipper.cli", *args]
    else:
        host = ("import typer; from skipper.cli import eval_cmd; app = typer.Typer(); "
                "app.callback()(lambda: None); eval_cmd.register(app); app()")
        command = [sys.executable, "-c", host, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)


def test_cli_run_json_reports_baseline_and_min_accuracy(shop_cases: Path, tmp_path: Path) -> None:
    predictions = shop_cases.with_name("predictions.json")
    out = tmp_path / "run.json"
    done = _cli("eval", "run", str(shop_cases), "--predictions", str(predictions),
                "--json", str(out), "--report", str(tmp_path / "report.md"))
    assert done.returncode == 0, done.stderr
    assert "cases correct" in done.stdout and "8 / 14" in done.stdout
    payload = json.loads(out.read_text())
    assert payload["summary"]["correct"] == 8
    case = next(c for c in payload["cases"] if c["id"] == "lost-rows")
    assert case["correct"] is False and case["outcome"] == "answer"
    assert case["predicted_sql"].startswith("SELECT name FROM customers")
    assert case["gold_sql"] and case["tables"] == ["customers"]
    assert case["diff"]["only_in_gold"] == [["Ada"], ["Cy"]]
    assert "latency_ms" in case and case["error"] is None
    report = (tmp_path / "report.md").read_text()
    assert report.count("### ") == 6  # one section per failure
    assert "Rows only in the gold (2 of 2 shown)" in report

    better = dict(json.loads(predictions.read_text()))
    better["lost-rows"] = "SELECT name FROM customers WHERE city IS NOT NULL"
    better["same"] = "SELECT name FROM customers"
    (tmp_path / "better.json").write_text(json.dumps(better))
    done = _cli("eval", "run", str(shop_cases), "--predictions", str(tmp_path / "better.json"),
                "--baseline", str(out), "--report", str(tmp_path / "report.html"),
                "--min-accuracy", "0.9")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Below the line" in done.stderr and "Traceback" not in done.stderr
    html = (tmp_path / "report.html").read_text()
    assert "Got better (1)" in html and "Got worse (1)" in html
    assert "<code>lost-rows</code>" in html


def test_cli_errors_are_readable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalog: c\ndatabase: d.duckdb\ncases:\n  - id: x\n    question: q\n")
    done = _cli("eval", "run", str(bad), "--predictions", str(tmp_path / "p.json"))
    assert done.returncode == 1
    assert "bad.yaml:4 (case 'x')" in done.stderr and "needs gold_sql" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli("eval", "check", str(bad))
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_html_report_escapes_every_value(shop_cases: Path, tmp_path: Path) -> None:
    from skipper.evals.report import render_report

    cases = tmp_path / "cases.yaml"
    text = shop_cases.read_text().replace("list customer names and cities",
                                          "<script>alert('x')</script> & names")
    cases.write_text(text.replace("database: shop.duckdb",
                                  f"database: {shop_cases.with_name('shop.duckdb')}")
                     .replace("catalog: catalog", f"catalog: {shop_cases.with_name('catalog')}"))
    predictions = tmp_path / "p.json"
    bold = "SELECT '<b>bold</b>' AS name, city FROM customers"
    predictions.write_text(json.dumps({"same": bold}))
    run = run_eval(load_cases(cases), Predictions.load(predictions),
                   cases=[c for c in load_cases(cases).cases if c.id == "same"])
    html = render_report(run, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


# ---- DuckDB-NSQL: its own gold SQL, scored as predictions ------------------------------------

@pytest.mark.skipif(not NSQL.is_dir(), reason="../shared/datasets/duckdb-nsql is absent")
def test_duckdb_nsql_gold_scores_itself(tmp_path: Path) -> None:
    from skipper.evals.importers import import_spider

    report = import_spider(NSQL, tmp_path / "nsql")
    suite = load_cases(report.cases_file)
    gold = Predictions({case.id: case.gold_sql for case in suite.cases})
    run = run_eval(suite, gold, workers=2)
    refused = [case for case in run.results if case.first.expect == "refused"]
    answered = [case for case in run.results if case.first.expect == "answer"]
    assert len(refused) == 29 and len(answered) == 46
    assert all(case.correct and case.first.outcome == "refused" for case in refused)
    failures = [(case.id, case.first.reason, case.first.error)
                for case in answered if not case.correct]
    assert failures == []
    assert run.summary["accuracy"] == 1.0
    assert run.summary["refusal_recall"] == 1.0
    sampled = next(case for case in run.results if case.id == "nyc-21")
    assert sampled.correct and "sampled population" in sampled.first.reason


# ---- the demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cases(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """evals/demo.yaml pointed at the session's demo lake instead of building its own."""
    source = ROOT / "evals" / "demo.yaml"
    if not source.is_file():
        pytest.skip("evals/demo.yaml is not written yet")
    text = source.read_text()
    assert "database: demo\n" in text and "catalog: ../catalog\n" in text
    text = text.replace("database: demo\n", f"database: {demo_database}\n", 1)
    text = text.replace("catalog: ../catalog\n", f"catalog: {ROOT / 'catalog'}\n", 1)
    path = tmp_path_factory.mktemp("demo_eval") / "demo.yaml"
    path.write_text(text)
    return path


def test_demo_gold_as_predictions_is_all_correct(demo_cases: Path) -> None:
    suite = load_cases(demo_cases)
    predictions: dict[str, str | None] = {}
    for case in suite.cases:
        predictions[case.id] = case.gold_sql
        for number, turn in enumerate(case.turns, 2):
            predictions[f"{case.id}#{number}"] = turn.gold_sql
    run = run_eval(suite, Predictions(predictions), workers=2)
    assert run.summary["accuracy"] == 1.0, [
        (c.id, c.failed_turn.reason) for c in run.results if c.failed_turn]
    assert run.summary["table_precision"] == run.summary["table_recall"] == 1.0


def test_ci_command_on_the_demo_with_the_catalog_planner(demo_cases: Path, tmp_path: Path
                                                         ) -> None:
    done = _cli("eval", "run", str(demo_cases), "--planner", "catalog",
                "--min-answer-accuracy", "0.9", "--min-decline-accuracy", "0.9",
                "--json", str(tmp_path / "run.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "run.json").read_text())["summary"]
    assert summary["answer_accuracy"] >= 0.9 and summary["decline_accuracy"] >= 0.9
    assert summary["llm_calls_per_question"] == 0


def test_demo_target_builds_or_reuses_the_lake(demo_database: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from skipper.evals.runner import demo_database_path

    monkeypatch.setenv("SKIPPER_HOME", str(tmp_path / "home"))
    as_of = __import__("datetime").date(2026, 6, 30)
    lake = demo_database_path(as_of, 1)
    lake.parent.mkdir(parents=True)
    shutil.copy(demo_database, lake)  # already built for this as-of day: reused, not rebuilt
    cases = tmp_path / "cases.yaml"
    cases.write_text("database: demo\nas_of: 2026-06-30\ncases:\n"
                     "  - id: accounts\n    question: how many accounts?\n"
                     "    gold_sql: SELECT count(*) FROM accounts\n")
    run = run_eval(load_cases(cases), Predictions({"accounts": "SELECT count(*) FROM accounts"}))
    assert run.results[0].correct
    assert sorted(p.name for p in lake.parent.iterdir() if p.suffix == ".duckdb") == [lake.name]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1}', "must be SQL text or null"),
        ('{"a": ', "not valid JSON"),
    ],
)
def test_bad_predictions_files(tmp_path: Path, content: str, message: str) -> None:
    from skipper.errors import EvalError

    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(EvalError, match=message) as caught:
        Predictions.load(path)
    assert caught.value.code == "eval.predictions_invalid"


def test_llm_usage_is_read_from_the_audit_record(tmp_path: Path) -> None:
    import pyarrow as pa

    from skipper.annotate import Lineage
    from skipper.answer import Answer
    from skipper.audit import AuditLog
    from skipper.evals.systems import llm_usage

    audit = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    record = audit.append(question="q", planner="llm", sql="SELECT 1", outcome="ok",
                          extra={"llm": {"llm_calls": 3, "prompt_tokens": 900,
                                         "completion_tokens": 120, "total_tokens": 1020}})

    def answer(planner: str) -> Answer:
        return Answer(sql="SELECT 1", table=pa.table({"x": [1]}), row_count=1, truncated=False,
                      lineage=Lineage(tables=[], columns={}), caveats=[], freshness={},
                      sampling=[], audit_id=record.id, timings={}, planner=planner)

    assert llm_usage(answer("llm"), audit) == (3, 1020)
    assert llm_usage(answer("catalog"), audit) == (0, 0)
    assert llm_usage(answer("llm"), None) == (0, 0)


def test_llm_planner_runs_count_calls_and_tokens(shop_cases: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from skipper.evals.systems import Planner
    from tests.llm_stub import Reply, StubServer, completion

    cases = tmp_path / "cases.yaml"
    cases.write_text(
        f"catalog: {shop_cases.with_name('catalog')}\n"
        f"database: {shop_cases.with_name('shop.duckdb')}\n"
        "cases:\n"
        "  - id: total\n    question: total order amount\n"
        "    gold_sql: SELECT SUM(amount) FROM orders\n"
        "  - id: salaries\n    question: what do the staff earn?\n    expect: cannot_answer\n")
    script: list[Reply | Callable[[dict[str, Any]], Reply]] = [
        completion(("final_answer", {"sql": "SELECT SUM(amount) AS total FROM orders",
                                     "explanation": "Sum of order amounts."}),
                   prompt_tokens=900, completion_tokens=40),
        completion(("final_answer", {"explanation": "The catalog has no salaries."}),
                   prompt_tokens=500, completion_tokens=20),
    ]
    with StubServer(script) as server:
        monkeypatch.setenv("SKIPPER_MODEL", "stub-model")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        run = run_eval(load_cases(cases), Planner("llm"))
    assert [(c.id, c.correct, c.first.outcome) for c in run.results] == [
        ("total", True, "answer"), ("salaries", True, "cannot_answer")]
    assert [(c.first.llm_calls, c.first.llm_tokens) for c in run.results] == [(1, 940), (1, 520)]
    assert run.summary["llm_calls_per_question"] == 1.0
    assert run.summary["llm_tokens_per_question"] == 730.0
