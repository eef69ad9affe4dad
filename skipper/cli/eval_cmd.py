"""`skipper eval run|check|import`: measure a planner or any system's SQL on YAML cases."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from skipper.cli.output import console, err_console, fail, print_json, styled
from skipper.errors import EvalError, SkipperError

if TYPE_CHECKING:
    from skipper.evals.runner import EvalRun

EXIT_BELOW_LINE = 4

eval_app = typer.Typer(help="Measure answer correctness on eval cases.", no_args_is_help=True)
import_app = typer.Typer(help="Import a public text-to-SQL benchmark as cases and catalogs.",
                         no_args_is_help=True)
eval_app.add_typer(import_app, name="import")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _quiet_sqlglot() -> None:
    # sqlglot warns on every statement it parses as a generic Command (CALL, EXPLAIN ...).
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


@eval_app.command("run")
def run(
    cases: Annotated[Path, typer.Argument(help="Cases YAML file.")],
    planner: Annotated[str | None, typer.Option(
        help="Planner to evaluate: catalog, llm or auto (default: Skipper's).")] = None,
    predictions: Annotated[Path | None, typer.Option(
        help="Score another system's SQL: a JSON object {case_id: sql}.")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the run (summary and every case) as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Write a report of every failure here (.md or .html).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="A previous run's --json, to show what got better and worse.")] = None,
    min_accuracy: Annotated[float | None, typer.Option(
        help="Exit non-zero when the share of correct cases is below this (0..1).")] = None,
    min_answer_accuracy: Annotated[float | None, typer.Option(
        help="Exit non-zero when execution accuracy on answerable turns is below this.")] = None,
    min_decline_accuracy: Annotated[float | None, typer.Option(
        help="Exit non-zero when the share of expected declines that happened is below this."
    )] = None,
    min_precision: Annotated[float | None, typer.Option(
        help="Exit non-zero when the share of answers given that are right is below this "
             "(0.99: at most 1 wrong answer in 100).")] = None,
    workers: Annotated[int, typer.Option(help="Cases scored in parallel.")] = 1,
    semantics: Annotated[str | None, typer.Option(
        help="spider (multiset, column permutations) or bird (set of rows).")] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Per-query timeout in seconds (default: the file's, else 30).")] = None,
    max_rows: Annotated[int, typer.Option(help="Largest result compared.")] = 100_000,
    case_ids: Annotated[list[str] | None, typer.Option(
        "--case", help="Run only this case id (repeatable).")] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tag", help="Run only cases with this tag (repeatable).")] = None,
) -> None:
    """Run eval cases against a planner or a predictions file and score them."""
    from skipper.evals.cases import load_cases
    from skipper.evals.report import compare_runs, load_run, write_report
    from skipper.evals.scoring import SEMANTICS
    from skipper.evals.systems import Planner, Predictions, System

    _quiet_sqlglot()
    try:
        if planner is not None and predictions is not None:
            raise EvalError("give --planner or --predictions, not both",
                            code="eval.invalid_option")
        if semantics is not None and semantics not in SEMANTICS:
            raise EvalError(f"--semantics must be one of {', '.join(SEMANTICS)}",
                            code="eval.invalid_option")
        for name, line in (("--min-accuracy", min_accuracy),
                           ("--min-answer-accuracy", min_answer_accuracy),
                           ("--min-decline-accuracy", min_decline_accuracy),
                           ("--min-precision", min_precision)):
            if line is not None and not 0 <= line <= 1:
                raise EvalError(f"{name} is a share between 0 and 1 (e.g. 0.9)",
                                code="eval.invalid_option")
        suite = load_cases(cases)
        selected = [c for c in suite.cases
                    if (not case_ids or c.id in case_ids) and (not tags or set(tags) & set(c.tags))]
        unknown = sorted(set(case_ids or ()) - {c.id for c in suite.cases})
        if unknown:
            raise EvalError(f"no case with id {', '.join(unknown)} in {cases}",
                            code="eval.unknown_case")
        if not selected:
            raise EvalError("no case matches the --case/--tag filters", code="eval.unknown_case")
        system: System = Planner(planner)
        if predictions is not None:
            system = Predictions.load(predictions)
            _warn_unmatched(system, {c.id for c in suite.cases})
        previous = load_run(baseline) if baseline else None
        result = _run_with_progress(suite, system, selected, workers=workers, max_rows=max_rows,
                                    timeout=timeout, semantics=semantics)
    except SkipperError as error:
        fail(error)
    payload = result.to_dict()
    if previous is not None:
        payload["baseline"] = compare_runs(previous, result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    _print_summary(result, payload.get("baseline"))
    if report is not None:
        try:
            written = write_report(result, report, previous)
        except SkipperError as error:
            fail(error)
        console.print(styled("Report: [bold]{}[/]", written))
    if json_out is not None:
        console.print(styled("JSON: [bold]{}[/]", json_out))
    _enforce_lines(result.summary, min_accuracy, min_answer_accuracy, min_decline_accuracy,
                   min_precision)


def _warn_unmatched(predictions: Any, ids: set[str]) -> None:
    """Say when predictions name no case: usually ids spelled differently than the cases'."""
    stray = sorted(key for key in predictions.predictions if key.split("#")[0] not in ids)
    if stray:
        shown = ", ".join(stray[:5]) + (", …" if len(stray) > 5 else "")
        err_console.print(styled("[yellow]warning[/] {} prediction(s) match no case id: {}",
                                 len(stray), shown))


def _run_with_progress(suite: Any, system: Any, selected: list[Any], *, workers: int,
                       max_rows: int, timeout: float | None, semantics: Any) -> EvalRun:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from skipper.evals.runner import run_eval

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[correct]} correct"), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task("scoring", total=len(selected), correct=0)
        correct = 0

        def on_case(case: Any) -> None:
            nonlocal correct
            correct += int(case.correct)
            progress.update(task, advance=1, correct=correct)

        def on_target(name: str) -> None:
            progress.update(task, description=styled("scoring [bold]{}[/]", name).markup)

        return run_eval(suite, system, workers=workers, max_rows=max_rows, timeout_s=timeout,
                        semantics=semantics, cases=selected, on_case=on_case,
                        on_target=on_target)


def _print_summary(result: EvalRun, changes: dict[str, Any] | None) -> None:
    summary = result.summary
    table = Table(title=styled("{} on {}", result.system, result.cases_file),
                  title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("cases correct", f"{summary['correct']} / {summary['cases']} "
                                   f"({_share(summary['accuracy'])})")
    table.add_row("execution accuracy", f"{summary['answer_correct']} / {summary['answerable']} "
                                        f"({_share(summary['answer_accuracy'])})")
    table.add_row("declined when expected", f"{summary['decline_correct']} / "
                                            f"{summary['declinable']} "
                                            f"({_share(summary['decline_accuracy'])})")
    table.add_row("answers given that are right", f"{summary['answered_correct']} / "
                                                  f"{summary['answered']} "
                                                  f"({_share(summary['precision'])})")
    table.add_row("validity (guard pass rate)", _share(summary["validity"]))
    table.add_row("refusal precision / recall", f"{_share(summary['refusal_precision'])} / "
                                                f"{_share(summary['refusal_recall'])}")
    table.add_row("table precision / recall", f"{_share(summary['table_precision'])} / "
                                              f"{_share(summary['table_recall'])}")
    latency = summary["latency_ms"]
    table.add_row("latency p50 / p95", f"{latency['p50']} / {latency['p95']} ms")
    table.add_row("LLM calls / tokens per question", f"{summary['llm_calls_per_question']} / "
                                                     f"{summary['llm_tokens_per_question']}")
    table.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())))
    if changes is not None:
        table.add_row("vs baseline", f"{_share(changes['accuracy_before'])} -> "
                                     f"{_share(changes['accuracy_after'])}: "
                                     f"{len(changes['improved'])} better, "
                                     f"{len(changes['regressed'])} worse")
    console.print(table)
    failures = [case for case in result.results if not case.correct]
    for case in failures[:10]:
        turn = case.failed_turn
        reason = turn.reason if turn else ""
        if turn is not None and turn.error:
            reason += f" [{turn.error['code']}: {turn.error['message']}]"
        console.print(styled("[red]✗[/] {}: {}", case.id, reason), soft_wrap=True)
    if len(failures) > 10:
        console.print(f"… and {len(failures) - 10} more failures (see --report)", style="dim")


def _enforce_lines(summary: dict[str, Any], *lines: float | None) -> None:
    names = ("accuracy", "answer_accuracy", "decline_accuracy", "precision")
    below = []
    for name, line in zip(names, lines, strict=True):
        value = summary.get(name)
        if line is not None and (value if value is not None else 1.0) < line:
            below.append(f"{name.replace('_', ' ')} {_share(value)} is below {_share(line)}")
    if below:
        err_console.print(styled("[bold red]Below the line[/]: {}", "; ".join(below)))
        raise typer.Exit(EXIT_BELOW_LINE)


@eval_app.command("check")
def check(
    cases: Annotated[Path, typer.Argument(help="Cases YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate a cases file without running it. Errors name the file, line and case."""
    from skipper.evals.cases import load_cases

    try:
        suite = load_cases(cases)
    except SkipperError as error:
        fail(error, as_json=as_json)
    expects: dict[str, int] = {}
    for case in suite.cases:
        expects[case.expect] = expects.get(case.expect, 0) + 1
    turns = sum(1 + len(case.turns) for case in suite.cases)
    targets = sorted(suite.targets)
    if as_json:
        print_json({"ok": True, "cases": len(suite.cases), "turns": turns, "expect": expects,
                    "targets": targets})
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(expects.items()))
    console.print(styled("[bold green]{} is valid[/]: {} cases ({}), {} questions, {} target(s).",
                         cases, len(suite.cases), counts, turns, len(targets)))


def _import(kind: str, directory: Path, out: Path, split: str, overwrite: bool) -> None:
    from skipper.evals.importers import import_bird, import_spider

    _quiet_sqlglot()
    importer = import_spider if kind == "spider" else import_bird
    try:
        with console.status(styled("importing {}", directory)) as status:
            report = importer(directory, out, split=split, overwrite=overwrite,
                              progress=lambda message: status.update(styled("{}", message)))
    except SkipperError as error:
        fail(error)
    converted = f", {len(report.converted)} converted from SQLite" if report.converted else ""
    console.print(styled("Wrote [bold]{}[/]: {} cases ({} to answer, {} to refuse) over {} "
                         "databases{}.", report.cases_file, report.cases, report.answerable,
                         report.refused, len(report.databases), converted))
    for case_id, reason in report.skipped:
        err_console.print(styled("[yellow]skipped[/] {}: {}", case_id, reason))
    for warning in report.warnings:
        err_console.print(styled("[yellow]warning[/] {}", warning))
    console.print(styled("Next: [cyan]skipper eval run {} --predictions FILE[/]",
                         report.cases_file))


SplitOption = Annotated[str, typer.Option(help="Which split file to read (<split>.json).")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")]


@import_app.command("spider")
def import_spider_command(
    directory: Annotated[Path, typer.Argument(help="Dataset folder (dev.json, tables.json, "
                                                   "database/ or databases/).")],
    out: OutOption,
    split: SplitOption = "dev",
    overwrite: OverwriteOption = False,
) -> None:
    """Import Spider or DuckDB-NSQL: one cases file and a catalog per database."""
    _import("spider", directory, out, split, overwrite)


@import_app.command("bird")
def import_bird_command(
    directory: Annotated[Path, typer.Argument(help="Dataset folder (dev.json and "
                                                   "dev_databases/).")],
    out: OutOption,
    split: SplitOption = "dev",
    overwrite: OverwriteOption = False,
) -> None:
    """Import BIRD: SQLite databases converted to DuckDB, evidence kept with each question."""
    _import("bird", directory, out, split, overwrite)


@eval_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of cases files (for editor autocompletion and validation)."""
    from skipper.evals.cases import CasesFile

    print_json(CasesFile.model_json_schema())
