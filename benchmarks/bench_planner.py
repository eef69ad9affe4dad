"""Plan + compile time per question, on the demo and on a generated 2,000-table catalog.

Usage: python benchmarks/bench_planner.py [--database LAKE.duckdb] [--repeat N] [--tables N]
[--questions N] [--seed N] [--only demo|lake]

Demo: builds the scale-1 demo (as of evals/demo.yaml's as_of) in a temporary directory unless
--database is given, and prints, over the answerable questions of evals/demo.yaml, the median and
p95 of planning (understanding + compiling) and of executing, and their ratio.

Lake: generates a catalog of --tables tables (25 business areas x 16 entities x 5 variants, 8-20
columns each, value lists, relationships to each area's hub table, a count and a sum metric for
six entities per area and a dimension per listed column of their tables; names share words
across areas and variants), times building the planner over it (vocabulary, join graph), then
plans --questions questions phrased over it: counts, sums by a dimension, filters by a value,
time periods, and a tenth it must decline. Nothing is executed: the catalog has no data.
Target (issue 12): median <= 2 ms on the demo, <= 20 ms on the 2,000-table catalog.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_retrieval import AREAS, ENTITIES, REGIONS, STATUSES, VARIANTS  # noqa: E402

from skipper.catalog import Catalog  # noqa: E402
from skipper.catalog.models import CatalogFile  # noqa: E402
from skipper.clock import FixedClock  # noqa: E402
from skipper.planner import CatalogPlanner  # noqa: E402

DEMO_TARGET_MS = 2.0
LAKE_TARGET_MS = 20.0
# Columns a table draws from beyond its own, so widths differ and every word recurs in many tables.
EXTRAS: list[dict[str, Any]] = [
    {"name": "channel", "type": "VARCHAR", "description": "Channel it came through.",
     "values": ["web", "mobile", "partner", "store"]},
    {"name": "currency", "type": "VARCHAR", "description": "Currency of the amounts.",
     "values": ["USD", "EUR", "GBP", "JPY"]},
    {"name": "priority", "type": "VARCHAR", "description": "Priority given by the owner.",
     "values": ["low", "medium", "high", "urgent"]},
    {"name": "tier", "type": "VARCHAR", "description": "Customer tier.",
     "values": ["free", "pro", "business", "enterprise"]},
    {"name": "country_code", "type": "VARCHAR", "description": "ISO country of the record."},
    {"name": "owner_team", "type": "VARCHAR", "description": "Team that owns the record."},
    {"name": "source_system", "type": "VARCHAR", "description": "System the row came from."},
    {"name": "batch_id", "type": "BIGINT", "description": "Load batch.", "tags": ["id"]},
    {"name": "notes", "type": "VARCHAR", "description": "Free-text notes."},
    {"name": "updated_at", "type": "TIMESTAMP", "description": "When the row last changed."},
    {"name": "created_by", "type": "VARCHAR", "description": "Who created the record."},
    {"name": "discount_pct", "type": "DOUBLE", "description": "Discount applied, in percent."},
    {"name": "amount_local", "type": "DOUBLE", "description": "Amount in local currency."},
    {"name": "is_test", "type": "BOOLEAN", "description": "True for test rows."},
    {"name": "external_ref", "type": "VARCHAR", "description": "Reference in the source system."},
    {"name": "quantity", "type": "BIGINT", "description": "Units involved."},
    {"name": "score", "type": "DOUBLE", "description": "Internal quality score."},
    {"name": "city", "type": "VARCHAR", "description": "City of the record."},
]
DIMENSION_COLUMNS = ("region", "status", "channel", "tier")
METRIC_ENTITIES = 6  # per area: entities whose base table gets a count and a sum metric
PERIODS = ["last month", "in 2025", "in Q1 2026", "since January 2026", "last quarter",
           "in the first half of 2026", "this year", "between February and May 2026"]
ANSWERABLE = [
    "How many {area} {plural} were there {period}?",
    "Number of {area} {syn} {period}",
    "{area} {words} by {dim}",
    "Total {area} {words} by {dim} {period}",
    "How many {area} {plural} {filter}?",
    "{area} {words} {filter} {period}",
    "{area} {plural} by {dim} {period}",
    "{area} {words} per month {period}",
    "How many {area} {plural} by {dim} {filter}?",
]
DECLINED = [
    "What is the weather in Paris tomorrow?",
    "Delete all {area} {plural}",
    "How many unicorns did {area} adopt last month?",
    "Who will win the next election?",
    "Total {words} by favourite colour",
    "How many {plural} were there last month?",  # no area: the same words in 25 areas
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed_plans(planner: CatalogPlanner, question: str, repeat: int
                ) -> tuple[float, float, Any]:
    """The median plan + compile time of ``question`` over ``repeat`` runs (after a warm-up):
    wall and CPU milliseconds (CPU time is what a shared, loaded machine does not inflate)."""
    plan = planner.plan(question)
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        plan = planner.plan(question)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), plan


# ---- the demo -----------------------------------------------------------------------------
def bench_demo(database: Path | None, repeat: int) -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "evals" / "demo.yaml").read_text(encoding="utf-8"))
    as_of = spec["as_of"] if isinstance(spec["as_of"], date) else date.fromisoformat(spec["as_of"])
    questions = [c["question"] for c in spec["cases"] if c.get("expect", "answer") == "answer"]
    with tempfile.TemporaryDirectory() as scratch:
        if database is None:
            from skipper.demo import build_demo

            database = Path(scratch) / "lake.duckdb"
            print(f"building the demo lake as of {as_of} ...", file=sys.stderr)
            build_demo(database, as_of=as_of)
        started = time.perf_counter()
        planner = CatalogPlanner(Catalog.load(ROOT / "catalog"), FixedClock(as_of))
        setup_ms = (time.perf_counter() - started) * 1000
        plan_ms: list[float] = []
        cpu_ms: list[float] = []
        run_ms: list[float] = []
        ratios: list[float] = []
        with duckdb.connect(str(database), read_only=True) as connection:
            for question in questions:
                plan = planner.plan(question)
                if plan.status != "ok" or plan.sql is None:
                    continue
                connection.execute(plan.sql).fetchall()  # warm up
                planning, cpu, running = [], [], []
                for _ in range(repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    plan = planner.plan(question)
                    t1, c1 = time.perf_counter(), time.process_time()
                    connection.execute(plan.sql or "").fetchall()
                    t2 = time.perf_counter()
                    planning.append((t1 - t0) * 1000)
                    cpu.append((c1 - c0) * 1000)
                    running.append((t2 - t1) * 1000)
                plan_ms.append(statistics.median(planning))
                cpu_ms.append(statistics.median(cpu))
                run_ms.append(statistics.median(running))
                ratios.append(plan_ms[-1] / run_ms[-1])
    return {"setup_ms": setup_ms, "plan_ms": plan_ms, "cpu_ms": cpu_ms, "run_ms": run_ms,
            "ratios": ratios}


# ---- the generated lake -------------------------------------------------------------------
def build_lake(tables_wanted: int = 2000, seed: int = 11) -> tuple[Catalog, list[dict[str, Any]]]:
    """A catalog of ``tables_wanted`` tables (a multiple of 125) and the facts questions use."""
    rng = random.Random(seed)
    per_area = max(1, tables_wanted // (len(AREAS) * len(VARIANTS)))
    tables: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    dimensions: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    for area, area_label in AREAS:
        entities = rng.sample(ENTITIES, min(per_area, len(ENTITIES)))
        hub_entity = entities[0][0]
        hub = f"{area}_{entities[0][1]}"
        for index, (entity, plural, synonyms, measures) in enumerate(entities):
            base = f"{area}_{plural}"
            for suffix, variant, sentence, _ in VARIANTS:
                name = base + suffix
                time_column = "day" if suffix else "created_at"
                columns: list[dict[str, Any]] = [
                    {"name": f"{entity}_id", "type": "BIGINT",
                     "description": f"Identifier of the {entity}.", "tags": ["id"]},
                    {"name": "region", "type": "VARCHAR", "description": "Sales region.",
                     "values": REGIONS},
                    {"name": "status", "type": "VARCHAR",
                     "description": f"Lifecycle state of the {entity}.", "values": STATUSES},
                    {"name": time_column, "type": "TIMESTAMP",
                     "description": f"When the {entity} was recorded."},
                    *({"name": column, "type": "DOUBLE", "description": f"The {words}."}
                      for column, words in measures),
                ]
                table: dict[str, Any] = {
                    "name": name,
                    "label": f"{area_label} {plural}" + (f" ({variant})" if variant else ""),
                    "description": (f"{plural.capitalize()} ({synonyms[0]}) of the {area_label} "
                                    f"area. " + sentence.format(e=entity)),
                    "synonyms": [] if suffix else [f"{area_label} {s}" for s in synonyms],
                    "primary_key": [f"{entity}_id"],
                    "columns": columns,
                }
                if index > 0:
                    key = f"{hub_entity}_id"
                    columns.append({"name": key, "type": "BIGINT", "tags": ["id"],
                                    "description": f"The {hub_entity} it belongs to."})
                    table["relationships"] = [{"table": hub, "on": f"{name}.{key} = {hub}.{key}",
                                               "cardinality": "many_to_one"}]
                width = rng.randint(8, 20)
                columns += [dict(extra) for extra in
                            rng.sample(EXTRAS, max(0, min(len(EXTRAS), width - len(columns))))]
                tables.append(table)
                if suffix or index >= METRIC_ENTITIES:
                    continue
                column, words = measures[0]
                metrics += [
                    {"name": f"{base}_count", "label": f"{area_label} {plural}",
                     "description": f"Number of {plural} in the {area_label} area.",
                     "synonyms": [f"number of {area_label} {plural}",
                                  *(f"{area_label} {s}" for s in synonyms)],
                     "table": name, "expr": "count(*)", "time_column": time_column,
                     "format": "integer"},
                    {"name": f"{base}_{column}", "label": f"{area_label} {words}",
                     "description": f"Total {words} of {area_label} {plural}.",
                     "synonyms": [f"{area_label} {entity} {words}"],
                     "table": name, "expr": f"sum({column})", "time_column": time_column},
                ]
                listed = [c["name"] for c in columns if c["name"] in DIMENSION_COLUMNS]
                dimensions += [{"name": f"{base}_{d}", "label": d.capitalize(), "table": name,
                                "synonyms": [f"{entity} {d}", f"{area_label} {d}"], "expr": d}
                               for d in listed]
                facts.append({"area": area_label, "plural": plural, "synonyms": synonyms,
                              "words": words, "dimensions": listed,
                              "values": {c["name"]: c["values"] for c in columns
                                         if c.get("values")}})
    catalog = Catalog([CatalogFile.model_validate({
        "name": "Generated lake", "tables": tables, "metrics": metrics,
        "dimensions": dimensions})])
    return catalog, facts


def lake_questions(facts: list[dict[str, Any]], count: int = 60, seed: int = 11
                   ) -> list[tuple[str, str]]:
    """(question, "answer" or "decline"): one in ten the planner must decline."""
    rng = random.Random(seed + 1)
    chosen: list[tuple[str, str]] = []
    for i in range(count):
        fact = rng.choice(facts)
        column = rng.choice(sorted(fact["values"]))
        value = rng.choice(fact["values"][column])
        fill = {"area": fact["area"], "plural": fact["plural"], "words": fact["words"],
                "syn": rng.choice(fact["synonyms"]), "dim": rng.choice(fact["dimensions"]),
                "filter": f"in {value}" if column == "region" else f"with {column} {value}",
                "period": rng.choice(PERIODS)}
        if i % 10 == 0:
            chosen.append((DECLINED[(i // 10) % len(DECLINED)].format(**fill), "decline"))
        else:
            chosen.append((ANSWERABLE[i % len(ANSWERABLE)].format(**fill), "answer"))
    return chosen


def bench_lake(tables: int, count: int, seed: int, repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    catalog, facts = build_lake(tables, seed)
    generated = time.perf_counter()
    planner = CatalogPlanner(catalog, FixedClock(date(2026, 6, 30)))
    built = time.perf_counter()
    rows = []
    for question, expect in lake_questions(facts, count, seed):
        elapsed, cpu, plan = timed_plans(planner, question, repeat)
        answered = plan.status == "ok" and plan.sql is not None
        rows.append({"question": question, "expect": expect, "ms": elapsed, "cpu_ms": cpu,
                     "as_expected": answered == (expect == "answer"), "status": plan.status})
    return {"tables": len(catalog.tables), "columns": sum(len(t.columns) for t in catalog.tables),
            "metrics": len(catalog.metrics), "dimensions": len(catalog.dimensions),
            "catalog_s": generated - started, "build_s": built - generated, "rows": rows}


# ---- report -------------------------------------------------------------------------------
def line(label: str, values: list[float], digits: int = 2) -> str:
    return (f"{label:28}{statistics.median(values):>10.{digits}f}"
            f"{percentile(values, 0.95):>10.{digits}f}{max(values):>10.{digits}f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, help="a Town Lake demo file (default: build one)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per question")
    parser.add_argument("--tables", type=int, default=2000, help="tables in the generated lake")
    parser.add_argument("--questions", type=int, default=60, help="questions over the lake")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", choices=["demo", "lake"], help="run one of the two")
    args = parser.parse_args()
    header = f"{'':28}{'median':>10}{'p95':>10}{'max':>10}"
    met = True
    if args.only != "lake":
        demo = bench_demo(args.database, args.repeat)
        print(f"demo: planner set-up (catalog -> vocabulary, join graph): "
              f"{demo['setup_ms']:.1f} ms")
        print(f"demo: {len(demo['plan_ms'])} answerable questions, {args.repeat} timed runs each")
        print(header)
        print(line("plan + compile (ms)", demo["plan_ms"]))
        print(line("  of which CPU (ms)", demo["cpu_ms"]))
        print(line("execute (ms)", demo["run_ms"]))
        print(line("plan / execute ratio", demo["ratios"], 3))
        met &= statistics.median(demo["plan_ms"]) <= DEMO_TARGET_MS
    if args.only != "demo":
        lake = bench_lake(args.tables, args.questions, args.seed, args.repeat)
        rows = lake["rows"]
        print(f"\nlake: {lake['tables']} tables, {lake['columns']} columns, {lake['metrics']} "
              f"metrics, {lake['dimensions']} dimensions; catalog generated and validated in "
              f"{lake['catalog_s']:.2f} s")
        print(f"lake: planner build (vocabulary, index, join graph): {lake['build_s']:.2f} s")
        answered = [r["ms"] for r in rows if r["expect"] == "answer"]
        declined = [r["ms"] for r in rows if r["expect"] == "decline"]
        print(f"lake: {len(rows)} questions ({len(answered)} answerable, {len(declined)} to "
              f"decline), {args.repeat} timed runs each; "
              f"{sum(r['as_expected'] for r in rows)} planned as expected")
        print(header)
        print(line("plan + compile, all (ms)", [r["ms"] for r in rows]))
        print(line("  of which CPU (ms)", [r["cpu_ms"] for r in rows]))
        print(line("  answerable (ms)", answered))
        if declined:
            print(line("  declined (ms)", declined))
        for row in sorted(rows, key=lambda r: -r["ms"])[:5]:
            print(f"  slowest {row['ms']:8.1f} ms  {row['question']}")
        for row in rows:
            if not row["as_expected"]:
                print(f"  UNEXPECTED {row['status']} ({row['expect']} wanted): {row['question']}")
        met &= statistics.median(r["ms"] for r in rows) <= LAKE_TARGET_MS
    print(f"\ntarget (median <= {DEMO_TARGET_MS:g} ms on the demo, <= {LAKE_TARGET_MS:g} ms on "
          f"the generated lake):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
