"""evals/demo.yaml with the catalog planner, scored by the eval suite: CI fails below 90% on either
kind of turn (answerable, or to be declined), and prints every failure.

tests/test_evals_run.py runs the same gate through the CLI (`skipper eval run --planner catalog
--min-answer-accuracy 0.9 --min-decline-accuracy 0.9`); this one runs in-process beside the
planner's other tests and prints the suite's Markdown report of what went wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from skipper.catalog import Catalog
from skipper.evals import CaseSuite, Planner, load_cases, run_eval
from skipper.evals.cases import DEFAULT_TARGET
from skipper.evals.report import render_report

EVALS = Path(__file__).resolve().parents[1] / "evals" / "demo.yaml"
MIN_ANSWERED = 0.90
MIN_DECLINED = 0.90


@pytest.fixture(scope="module")
def demo_suite(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> CaseSuite:
    """evals/demo.yaml on the shared demo lake when it was built at the file's as_of; else on a
    lake built for it (never the one under SKIPPER_HOME)."""
    from skipper.demo import build_demo, demo_as_of

    suite = load_cases(EVALS)
    target = suite.targets[DEFAULT_TARGET]
    assert target.is_demo and target.as_of is not None and target.catalog is not None
    lake = demo_database
    if demo_as_of(demo_database) != target.as_of:
        lake = tmp_path_factory.mktemp("evals") / "lake.duckdb"
        build_demo(lake, as_of=target.as_of)
    on_lake = dataclasses.replace(target, database=lake)
    return dataclasses.replace(suite, targets={**suite.targets, DEFAULT_TARGET: on_lake})


def test_eval_file_shape() -> None:
    suite = load_cases(EVALS)  # validated at the door: unique ids, gold for every answerable turn
    answerable = [c for c in suite.cases if c.expect == "answer"]
    declined = [c for c in suite.cases if c.expect == "cannot_answer"]
    assert len(suite.cases) >= 80 and len(declined) >= 10
    assert all(c.gold_sql for c in answerable)
    catalog = suite.targets[DEFAULT_TARGET].catalog
    assert catalog is not None
    Catalog.load(catalog)


def test_catalog_planner_on_demo_evals(demo_suite: CaseSuite) -> None:
    run = run_eval(demo_suite, Planner("catalog"), workers=2)
    summary = run.summary
    answered = summary["answer_accuracy"] or 0.0
    declined = summary["decline_accuracy"] or 0.0
    report = (f"answered correctly: {answered:.1%} ({summary['answer_correct']} / "
              f"{summary['answerable']}), declined correctly: {declined:.1%} "
              f"({summary['decline_correct']} / {summary['declinable']}), "
              f"{summary['turns']} turns\n\n{render_report(run, 'md')}")
    print(report)
    assert answered >= MIN_ANSWERED, report
    assert declined >= MIN_DECLINED, report
