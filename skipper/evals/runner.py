"""Running a cases file against a system: targets opened once, cases scored in parallel."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skipper.errors import ConfigError, EvalError, SkipperError
from skipper.evals import statements
from skipper.evals.cases import Case, CaseSuite, ResolvedTarget, Turn
from skipper.evals.gold import GoldDatabase, reference_for
from skipper.evals.metrics import summarize
from skipper.evals.results import SAMPLE_ROWS, CaseResult, TurnResult
from skipper.evals.scoring import Reference, Semantics, compare
from skipper.evals.systems import DECLINES, Response, System

DEFAULT_MAX_ROWS = 100_000


@dataclass
class EvalRun:
    """A finished run: every case result and the summary metrics."""

    cases_file: str
    system: str
    started_at: str
    duration_s: float
    settings: dict[str, Any]
    results: list[CaseResult]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases_file": self.cases_file,
            "system": self.system,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "settings": self.settings,
            "summary": self.summary,
            "cases": [case.to_dict() for case in self.results],
        }


def run_eval(
    suite: CaseSuite,
    system: System,
    *,
    workers: int = 1,
    max_rows: int = DEFAULT_MAX_ROWS,
    timeout_s: float | None = None,
    semantics: Semantics | None = None,
    cases: Iterable[Case] | None = None,
    on_case: Callable[[CaseResult], None] | None = None,
    on_target: Callable[[str], None] | None = None,
) -> EvalRun:
    """Score ``system`` on the suite's cases (or the ``cases`` given), one target at a time."""
    if workers < 1:
        raise EvalError("--workers must be at least 1", code="eval.invalid_option")
    selected = list(cases) if cases is not None else list(suite.cases)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    timeout = timeout_s or suite.spec.timeout_s
    by_target: dict[str, list[Case]] = {}
    for case in selected:
        by_target.setdefault(suite.target_of(case).name, []).append(case)
    results: dict[str, CaseResult] = {}
    with tempfile.TemporaryDirectory(prefix="skipper-eval-") as audit_dir:
        for name, target_cases in by_target.items():
            if on_target is not None:
                on_target(name)
            target = suite.targets[name]
            try:
                run = _TargetRun(suite, target, Path(audit_dir), max_rows=max_rows,
                                 timeout_s=timeout)
            except SkipperError as error:
                for case in target_cases:
                    results[case.id] = _unrunnable(suite, case, error)
                    if on_case is not None:
                        on_case(results[case.id])
                continue
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    scored = pool.map(run.evaluate, target_cases,
                                      [system] * len(target_cases),
                                      [semantics] * len(target_cases))
                    for result in scored:
                        problem = _misconfigured(result)
                        if problem is not None:  # every case would fail the same way: stop
                            pool.shutdown(wait=False, cancel_futures=True)
                            raise problem
                        results[result.id] = result
                        if on_case is not None:
                            on_case(result)
            finally:
                run.close()
    ordered = [results[case.id] for case in selected]
    return EvalRun(
        cases_file=str(suite.path),
        system=system.name,
        started_at=started_at,
        duration_s=round(time.perf_counter() - started, 3),
        settings={"workers": workers, "max_rows": max_rows, "timeout_s": timeout,
                  "semantics": semantics or suite.spec.semantics},
        results=ordered,
        summary=summarize(ordered),
    )


def _misconfigured(result: CaseResult) -> ConfigError | None:
    """The system's configuration error (``config.*``, e.g. no LLM set up), if that is all the
    case produced."""
    errors = [turn.error for turn in result.turns]
    if errors and all(e and e.get("code", "").startswith("config.") for e in errors):
        first = errors[0] or {}
        return ConfigError(first.get("message", "the system is not configured"),
                           code=first.get("code"))
    return None


def _unrunnable(suite: CaseSuite, case: Case, error: SkipperError) -> CaseResult:
    turns = [
        TurnResult(question=item.question, expect=item.expect, outcome="error", correct=False,
                   reason=f"the case's database could not be opened: {error.message}",
                   gold_sql=item.gold_sql, error={"code": error.code, "message": error.message})
        for item in [case, *case.turns]
    ]
    return CaseResult(id=case.id, db=suite.target_of(case).name, tags=case.tags, user=case.user,
                      turns=turns, line=suite.lines.get(case.id))


class _TargetRun:
    """One target opened for a run: its gold connection and one Skipper per worker thread."""

    def __init__(self, suite: CaseSuite, target: ResolvedTarget, audit_dir: Path, *,
                 max_rows: int, timeout_s: float) -> None:
        self.suite = suite
        self.target = target
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.audit_log = audit_dir / f"{target.name}.audit.jsonl"
        self.database, self.catalog, self.today = _open_target(target)
        self.gold = GoldDatabase(self.database, timeout_s=timeout_s, max_rows=max_rows)
        self._local = threading.local()
        self._skippers: list[Any] = []
        self._lock = threading.Lock()

    def skipper(self) -> Any:
        skipper = getattr(self._local, "skipper", None)
        if skipper is None:
            from skipper.app import Skipper
            from skipper.audit import AuditLog

            # The run's audit log is thrown away afterwards: no fsync per record.
            skipper = Skipper(self.catalog, self.database, max_rows=self.max_rows,
                              timeout_s=self.timeout_s, today=self.today,
                              audit_log=AuditLog(self.audit_log, fsync=False))
            self._local.skipper = skipper
            with self._lock:
                self._skippers.append(skipper)
            _warm_up(skipper, self.timeout_s)
        return skipper

    def close(self) -> None:
        for skipper in self._skippers:
            skipper.close()
        self.gold.close()

    def evaluate(self, case: Case, system: System, semantics: Semantics | None) -> CaseResult:
        turns: list[TurnResult] = []
        try:
            conversation = system.conversation(self.skipper(), case.id)
        except SkipperError as error:
            return _unrunnable(self.suite, case, error)
        items: list[Case | Turn] = [case, *case.turns]
        for number, item in enumerate(items):
            question = item.question
            if number == 0 and case.evidence:
                question = f"{question}\nHint: {case.evidence}"
            response = conversation.ask(question, user=case.user)
            turns.append(self.score(case, item, response, semantics))
        return CaseResult(id=case.id, db=self.target.name, tags=case.tags, user=case.user,
                          turns=turns, line=self.suite.lines.get(case.id))

    def reference(self, case: Case, item: Case | Turn) -> Reference:
        ordered = item.ordered if item.ordered is not None else case.ordered
        if item.expected_rows is not None:
            rows = [tuple(row) for row in item.expected_rows]
            return Reference(columns=item.expected_columns or [], rows=rows,
                             ordered=bool(ordered))
        assert item.gold_sql is not None
        return reference_for(self.gold, item.gold_sql, ordered=ordered,
                             tolerance=self.suite.tolerance_of(case, item))

    def score(self, case: Case, item: Case | Turn, response: Response,
              semantics: Semantics | None) -> TurnResult:
        result = TurnResult(
            question=item.question, expect=item.expect, outcome=response.outcome,
            correct=False, reason="", predicted_sql=response.sql, gold_sql=item.gold_sql,
            error=response.error, latency_ms=response.latency_ms,
            llm_calls=response.llm_calls, llm_tokens=response.llm_tokens,
        )
        if response.sql is not None:
            result.guard_passed = response.outcome != "refused"
            result.tables = statements.tables_read(response.sql)
        if response.outcome == "answer":
            result.predicted_columns = response.columns
            result.predicted_rows = response.rows[:SAMPLE_ROWS]
            result.predicted_row_count = response.row_count
        if item.expect != "answer":
            result.correct = response.outcome in DECLINES
            result.reason = (f"declined as expected ({response.outcome})" if result.correct
                             else f"expected the system to decline ({item.expect}), but it "
                                  f"returned {_outcome_words(response)}")
            return result
        if item.gold_sql is not None:
            result.gold_tables = statements.tables_read(item.gold_sql)
        try:
            reference = self.reference(case, item)
        except SkipperError as error:
            result.gold_error = {"code": error.code, "message": error.message}
            result.reason = f"the gold could not be computed: {error.message}"
            return result
        result.ordered = reference.ordered
        result.notes = list(reference.notes)
        result.gold_columns = reference.columns
        result.gold_rows = reference.rows[:SAMPLE_ROWS]
        result.gold_row_count = len(reference.rows)
        if response.outcome != "answer":
            result.reason = "expected an answer, but " + _NOT_ANSWERED[response.outcome]
            return result
        if response.truncated:
            result.reason = (f"the prediction returned more than {self.max_rows:,} rows "
                             f"({response.row_count:,}); raise --max-rows to compare them")
            return result
        verdict = compare(reference, response.rows, predicted_columns=response.columns,
                          semantics=semantics or self.suite.semantics_of(case),
                          tolerance=self.suite.tolerance_of(case, item))
        result.correct = verdict.correct
        result.reason = verdict.reason
        result.only_in_gold = verdict.only_in_gold
        result.only_in_predicted = verdict.only_in_predicted
        result.only_in_gold_count = verdict.only_in_gold_count
        result.only_in_predicted_count = verdict.only_in_predicted_count
        return result


_NOT_ANSWERED = {
    "refused": "the guard refused the SQL (see the error)",
    "cannot_answer": "the system said it cannot answer",
    "needs_clarification": "the system asked which reading is meant",
    "error": "running it failed (see the error)",
    "missing": "there is no prediction for this question",
}


def _outcome_words(response: Response) -> str:
    if response.outcome == "answer":
        return f"an answer ({response.row_count:,} row(s))"
    if response.error:
        return f"{response.outcome} [{response.error['code']}]: {response.error['message']}"
    if response.message:
        return f"{response.outcome}: {response.message}"
    return response.outcome


def _warm_up(skipper: Any, timeout_s: float) -> None:
    """Start the engine (its worker process) before anything is timed, so latency measures
    answering, not start-up. A constant query straight to the sandboxed engine: nothing to
    guard, nothing to audit."""
    with contextlib.suppress(SkipperError):
        skipper.engine.execute("SELECT 1", max_rows=1, timeout_s=timeout_s)


def demo_database_path(as_of: dt.date, scale: int) -> Path:
    """Where evals keep the demo lake for one as-of day and scale (built on first use)."""
    from skipper.app import skipper_home

    suffix = f"-x{scale}" if scale != 1 else ""
    return skipper_home() / "evals" / f"town_lake-{as_of.isoformat()}{suffix}.duckdb"


def _open_target(target: ResolvedTarget) -> tuple[Path, Path, dt.date | None]:
    """(database file, catalog directory, today) for a target, building the demo if needed."""
    if not target.is_demo:
        assert target.database is not None and target.catalog is not None
        return target.database, target.catalog, target.as_of
    from skipper.clock import SystemClock
    from skipper.demo import build_demo, bundled_catalog_path, demo_as_of

    as_of = target.as_of or SystemClock().today()
    path = demo_database_path(as_of, target.scale)
    if demo_as_of(path) != as_of:
        path.parent.mkdir(parents=True, exist_ok=True)
        build_demo(path, as_of=as_of, scale=target.scale)
    return path, target.catalog or bundled_catalog_path(), as_of
