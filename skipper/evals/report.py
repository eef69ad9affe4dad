"""Reports of an eval run for people: Markdown or HTML, every failure explained, baseline diffs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from skipper.answer import json_value
from skipper.errors import EvalError
from skipper.evals.runner import EvalRun

TEMPLATES = Path(__file__).parent / "templates"
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "Accuracy (cases)", "correct / cases"),
    ("answer_accuracy", "Execution accuracy", "answer_correct / answerable"),
    ("decline_accuracy", "Declined when expected", "decline_correct / declinable"),
    ("precision", "Answers given that are right", "answered_correct / answered"),
    ("validity", "Validity (guard pass rate)", ""),
    ("refusal_precision", "Refusal precision", ""),
    ("refusal_recall", "Refusal recall", ""),
    ("table_precision", "Table precision", ""),
    ("table_recall", "Table recall", ""),
)


def load_run(path: str | Path) -> dict[str, Any]:
    """A previous run's JSON (``skipper eval run --json``), for ``--baseline``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EvalError(f"cannot read the baseline {path}: {error.strerror}",
                        code="eval.baseline_invalid") from None
    except json.JSONDecodeError as error:
        raise EvalError(f"{path}: the baseline is not valid JSON ({error.msg})",
                        code="eval.baseline_invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise EvalError(f"{path}: not the JSON of `skipper eval run --json`",
                        code="eval.baseline_invalid")
    return data


def compare_runs(baseline: dict[str, Any], run: EvalRun) -> dict[str, Any]:
    """What got better and what got worse since ``baseline``, case by case."""
    before = {str(case.get("id")): case for case in baseline["cases"] if isinstance(case, dict)}
    now = {case.id: case for case in run.results}
    improved = [cid for cid, case in now.items()
                if cid in before and case.correct and not before[cid].get("correct")]
    regressed = [
        {"id": cid, "reason": (case.failed_turn.reason if case.failed_turn else ""),
         "before": before[cid].get("outcome"), "after": case.first.outcome}
        for cid, case in now.items() if cid in before and before[cid].get("correct")
        and not case.correct
    ]
    return {
        "accuracy_before": (baseline.get("summary") or {}).get("accuracy"),
        "accuracy_after": run.summary.get("accuracy"),
        "improved": improved,
        "regressed": regressed,
        "added": [cid for cid in now if cid not in before],
        "removed": [cid for cid in before if cid not in now],
    }


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _summary_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for key, label, counts in SUMMARY_ROWS:
        detail = ""
        if counts:
            numerator, denominator = (part.strip() for part in counts.split("/"))
            detail = f"{summary.get(numerator, 0)} / {summary.get(denominator, 0)}"
        rows.append((label, _percent(summary.get(key)), detail))
    latency = summary.get("latency_ms") or {}
    rows.append(("Latency p50 / p95", f"{latency.get('p50')} / {latency.get('p95')} ms", ""))
    rows.append(("LLM calls / tokens per question",
                 f"{summary.get('llm_calls_per_question')} / "
                 f"{summary.get('llm_tokens_per_question')}", ""))
    rows.append(("Execution errors", str(summary.get("execution_errors", 0)), ""))
    rows.append(("Gold errors", str(summary.get("gold_errors", 0)), ""))
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted((summary.get("outcomes") or {}).items()))
    rows.append(("Outcomes", outcomes, ""))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    shown = json_value(value)
    return shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)


def _table(columns: list[str], rows: list[Any]) -> dict[str, Any]:
    width = max([len(columns)] + [len(row) for row in rows]) if rows or columns else 0
    names = list(columns) + [f"col{i + 1}" for i in range(len(columns), width)]
    return {"columns": names, "rows": [[_cell(v) for v in row] for row in rows]}


def _failure(run: EvalRun, index: int) -> dict[str, Any]:
    case = run.results[index]
    turn_number, turn = next((n, t) for n, t in enumerate(case.turns, 1) if not t.correct)
    columns = turn.gold_columns or turn.predicted_columns
    shown_pred = turn.only_in_predicted
    return {
        "id": case.id,
        "question": turn.question,
        "turn": turn_number if len(case.turns) > 1 else None,
        "tags": case.tags,
        "db": case.db,
        "user": case.user,
        "line": case.line,
        "file": Path(run.cases_file).name,
        "expect": turn.expect,
        "outcome": turn.outcome,
        "reason": turn.reason,
        "error": turn.error,
        "gold_error": turn.gold_error,
        "gold_sql": turn.gold_sql,
        "predicted_sql": turn.predicted_sql,
        "notes": turn.notes,
        "ordered": turn.ordered,
        "gold_rows": turn.gold_row_count,
        "predicted_rows": turn.predicted_row_count,
        "only_gold": _table(columns, turn.only_in_gold),
        "only_gold_count": turn.only_in_gold_count,
        "only_pred": _table(columns, shown_pred),
        "only_pred_count": turn.only_in_predicted_count,
        "show_results": (turn.outcome == "answer" and turn.gold_row_count is not None
                         and not turn.only_in_gold_count and not turn.only_in_predicted_count),
        "gold_sample": _table(turn.gold_columns, turn.gold_rows),
        "pred_sample": _table(turn.predicted_columns, turn.predicted_rows),
    }


def render_report(run: EvalRun, fmt: str = "md", baseline: dict[str, Any] | None = None) -> str:
    """The report as Markdown (``md``) or HTML (``html``; every value escaped)."""
    if fmt not in ("md", "html"):
        raise EvalError(f"unknown report format {fmt!r}; use .md or .html",
                        code="eval.invalid_option")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=fmt == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = _markdown_cell
    environment.filters["percent"] = _percent
    environment.filters["fence"] = _fence
    failures = [_failure(run, i) for i, case in enumerate(run.results) if not case.correct]
    context = {
        "run": run,
        "summary_rows": _summary_rows(run.summary),
        "by_tag": run.summary.get("by_tag", {}),
        "failures": failures,
        "changes": compare_runs(baseline, run) if baseline is not None else None,
    }
    return environment.get_template(f"report.{fmt}.j2").render(**context)


def write_report(run: EvalRun, path: str | Path, baseline: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    fmt = "html" if path.suffix.lower() in (".html", ".htm") else "md"
    if path.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise EvalError(f"--report {path}: name it .md or .html", code="eval.invalid_option")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run, fmt, baseline), encoding="utf-8")
    return path


def _markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell or list item."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    return " ".join(text.split())


def _fence(sql: str | None) -> str:
    """A fenced code block that the SQL itself cannot close."""
    text = (sql or "").strip() or "(none)"
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}sql\n{text}\n{fence}"
