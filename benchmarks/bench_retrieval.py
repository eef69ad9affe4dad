"""Retrieval recall and prompt size on a synthetic 2,000-table catalog, against the full schema.

Usage: python benchmarks/bench_retrieval.py [--tables 2000] [--questions 60] [--budget 3000]
[--seed 7] [--json]

Builds a lake-like catalog in memory: 25 business areas x 16 entities x 5 variants (the
table itself, daily and monthly rollups, a snapshot and a raw staging copy), with synonyms,
column descriptions, allowed values and relationships, so near-duplicates compete. Questions
are generated from templates that name an entity by a synonym, a measure by its description
words and the variant by its phrase — never by the table's name — and know their target
tables (one or two). For each question it renders the LLM planner's first prompt (system
message, question with retrieved context, tool schemas) and reports the share of target
tables the prompt shows (recall), its size in tokens, and the size of the whole schema.
Target: recall >= 0.95 with every prompt under 4,000 tokens.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skipper.catalog import Catalog  # noqa: E402
from skipper.catalog.models import CatalogFile  # noqa: E402
from skipper.clock import FixedClock  # noqa: E402
from skipper.llm.client import ChatClient  # noqa: E402
from skipper.llm.config import LLMConfig  # noqa: E402
from skipper.llm.context import ContextBuilder  # noqa: E402
from skipper.llm.planner import LLMPlanner  # noqa: E402
from skipper.llm.prompt import default_prompts  # noqa: E402
from skipper.llm.tokens import default_counter  # noqa: E402
from skipper.planner import CatalogPlanner  # noqa: E402

AREAS = [
    ("sales", "Sales"), ("marketing", "Marketing"), ("finance", "Finance"),
    ("people", "People operations"), ("logistics", "Logistics"), ("warehouse", "Warehouse"),
    ("support", "Customer support"), ("product", "Product analytics"), ("security", "Security"),
    ("billing", "Billing"), ("payments", "Payments"), ("risk", "Fraud and risk"),
    ("ads", "Advertising"), ("search", "Site search"), ("mobile", "Mobile apps"),
    ("web", "Web storefront"), ("messaging", "Email and messaging"), ("crm", "CRM"),
    ("procurement", "Procurement"), ("legal", "Legal"), ("facilities", "Facilities"),
    ("factory", "Manufacturing"), ("quality", "Quality assurance"), ("research", "Research"),
    ("partners", "Partner channel"),
]
# entity, plural, synonyms (the questions use these), measures (column, words)
ENTITIES: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    ('order',
     'orders',
     ['purchases', 'checkouts'],
     [('order_total_usd', 'order value in dollars'), ('item_count', 'number of items')]),
    ('invoice',
     'invoices',
     ['bills', 'statements'],
     [('invoice_amount_usd', 'invoiced amount in dollars'), ('days_overdue', 'days past due')]),
    ('shipment',
     'shipments',
     ['deliveries', 'parcels'],
     [('weight_kg', 'parcel weight in kilograms'), ('transit_days', 'days in transit')]),
    ('refund',
     'refunds',
     ['reimbursements', 'chargebacks'],
     [('refund_amount_usd', 'refunded amount in dollars')]),
    ('ticket',
     'tickets',
     ['cases', 'support requests'],
     [('resolution_minutes', 'minutes to resolve'), ('reopen_count', 'times reopened')]),
    ('campaign',
     'campaigns',
     ['promotions', 'marketing pushes'],
     [('budget_usd', 'budget in dollars'), ('impressions', 'ad impressions')]),
    ('lead', 'leads', ['prospects', 'sales opportunities'], [('lead_score', 'lead quality score')]),
    ('employee',
     'employees',
     ['staff', 'headcount', 'workers'],
     [('tenure_months', 'months of tenure'), ('overtime_hours', 'overtime hours worked')]),
    ('contract',
     'contracts',
     ['agreements', 'deals'],
     [('contract_value_usd', 'contract value in dollars'),
      ('term_months', 'term length in months')]),
    ('session',
     'sessions',
     ['visits', 'app opens'],
     [('duration_seconds', 'session length in seconds'), ('page_views', 'pages viewed')]),
    ('payment',
     'payments',
     ['transactions', 'charges'],
     [('payment_amount_usd', 'amount paid in dollars'), ('fee_usd', 'processing fee')]),
    ('alert',
     'alerts',
     ['incidents', 'alarms'],
     [('severity_score', 'severity score'), ('time_to_ack_minutes', 'minutes to acknowledge')]),
    ('supplier',
     'suppliers',
     ['vendors', 'providers'],
     [('on_time_rate', 'on-time delivery rate'), ('spend_usd', 'spend with the vendor')]),
    ('product',
     'products',
     ['items', 'SKUs'],
     [('list_price_usd', 'list price'), ('margin_pct', 'gross margin percent')]),
    ('review',
     'reviews',
     ['ratings', 'customer feedback'],
     [('stars', 'star rating'), ('helpful_votes', 'helpful votes')]),
    ('subscription',
     'subscriptions',
     ['memberships', 'plans sold'],
     [('mrr_usd', 'monthly recurring revenue'), ('seats', 'licensed seats')]),
    ('device',
     'devices',
     ['phones', 'handsets'],
     [('battery_pct', 'battery level'), ('crash_count', 'app crashes')]),
    ('query',
     'queries',
     ['searches', 'lookups'],
     [('results_returned', 'results returned'), ('latency_ms', 'response time in milliseconds')]),
    ('message',
     'messages',
     ['emails', 'notifications'],
     [('open_rate', 'open rate'), ('bounce_count', 'bounces')]),
    ('asset',
     'assets',
     ['equipment', 'machines'],
     [('downtime_hours', 'hours of downtime'), ('maintenance_cost_usd', 'maintenance cost')]),
    ('defect',
     'defects',
     ['bugs', 'faults'],
     [('defects_per_thousand', 'defect rate per thousand units')]),
    ('experiment',
     'experiments',
     ['A/B tests', 'trials'],
     [('uplift_pct', 'measured uplift'), ('sample_size', 'participants')]),
    ('claim',
     'claims',
     ['disputes', 'complaints'],
     [('claim_amount_usd', 'claimed amount'), ('days_open', 'days open')]),
    ('budget',
     'budgets',
     ['allocations', 'forecasts'],
     [('planned_usd', 'planned spend'), ('actual_usd', 'actual spend')]),
]
VARIANTS = [
    ("", "", "Each row is one {e}.", ""),
    ("_daily", "daily", "Rolled up per day: one row per day and region.", "per day"),
    ("_monthly", "monthly", "Rolled up per calendar month: one row per month and region.",
     "per month"),
    ("_snapshot", "snapshot",
     "A point-in-time copy taken every night; for historical state as of a date.",
     "as of a past date (nightly snapshot)"),
    ("_raw", "raw",
     "Raw, unvalidated rows as landed from the source system; may hold duplicates.",
     "in the raw unvalidated feed"),
]
REGIONS = ["NA", "EU", "APAC", "LATAM"]
STATUSES = ["open", "active", "closed", "cancelled"]
TEMPLATES = [
    "What is the total {measure} of {syn} {vphrase} in {area}?",
    "Show {measure} for {area} {syn} {vphrase}, by region",
    "How did {measure} of {syn} change {vphrase} for the {area} team?",
    "{area} {syn}: average {measure} {vphrase}",
    "Which region had the highest {measure} across {syn} {vphrase} ({area})?",
    "top 10 {syn} by {measure} in {area} {vphrase}",
]
JOIN_TEMPLATES = [
    "{measure} of {area} {syn} {vphrase} with the {other_syn} they belong to",
    "For each of the {area} {other_syn}, the {measure} of their {syn} {vphrase}",
]


@dataclass
class Question:
    text: str
    targets: list[str]


def build(tables_wanted: int = 2000, seed: int = 7) -> tuple[Catalog, list[dict[str, Any]]]:
    """A catalog of ``tables_wanted`` tables (a multiple of 5) and the facts questions use."""
    rng = random.Random(seed)
    per_area = max(1, tables_wanted // (len(AREAS) * len(VARIANTS)))
    tables: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    for area, area_label in AREAS:
        entities = rng.sample(ENTITIES, min(per_area, len(ENTITIES)))
        while len(entities) < per_area:
            entities.append(rng.choice(ENTITIES))
        hub = f"{area}_{entities[0][1]}"
        seen: set[str] = set()
        for index, (entity, plural, synonyms, measures) in enumerate(entities):
            base = f"{area}_{plural}"
            if base in seen:
                base = f"{area}_{plural}_{index}"
            seen.add(base)
            for suffix, vword, vsentence, vphrase in VARIANTS:
                name = base + suffix
                columns = [
                    {"name": f"{entity}_id", "type": "BIGINT",
                     "description": f"Identifier of the {entity}.", "tags": ["id"]},
                    {"name": "region", "type": "VARCHAR", "description": "Sales region.",
                     "values": REGIONS},
                    {"name": "status", "type": "VARCHAR",
                     "description": f"Lifecycle state of the {entity}.", "values": STATUSES},
                    {"name": "created_at" if not suffix else "day", "type": "TIMESTAMP",
                     "description": f"When the {entity} was recorded."},
                ] + [{"name": col, "type": "DOUBLE", "description": f"The {words}."}
                     for col, words in measures]
                for extra in rng.sample(["country_code", "channel", "currency", "owner_team",
                                         "source_system", "batch_id", "notes"], 3):
                    columns.append({"name": extra, "type": "VARCHAR",
                                    "description": f"{extra.replace('_', ' ').capitalize()} "
                                                   f"of the record."})
                table: dict[str, Any] = {
                    "name": name,
                    "label": f"{area_label} {plural}{' (' + vword + ')' if vword else ''}",
                    "description": (f"{plural.capitalize()} ({synonyms[0]}) of the {area_label} "
                                    f"area. " + vsentence.format(e=entity)),
                    "synonyms": synonyms[1:],
                    "grain": f"one row per {entity}" if not suffix else vsentence.split(":")[-1]
                    .strip(" ."),
                    "columns": columns,
                }
                if index > 0 and not suffix:
                    hub_key = f"{entities[0][0]}_id"
                    table["columns"].append({"name": hub_key, "type": "BIGINT",
                                             "description": f"The {entities[0][0]} it belongs to."})
                    table["relationships"] = [{
                        "table": hub, "on": f"{name}.{hub_key} = {hub}.{hub_key}",
                        "cardinality": "many_to_one"}]
                tables.append(table)
                facts.append({"table": name, "area": area_label, "entity": entity,
                              "synonyms": synonyms, "measures": measures, "variant": vphrase,
                              "hub": hub if index > 0 and not suffix else None,
                              "hub_synonyms": entities[0][2]})
    catalog = Catalog([CatalogFile.model_validate({"name": "Synthetic lake", "tables": tables})])
    return catalog, facts


def questions(facts: list[dict[str, Any]], count: int = 60, seed: int = 7) -> list[Question]:
    rng = random.Random(seed + 1)
    chosen: list[Question] = []
    joinable = [f for f in facts if f["hub"]]
    for i in range(count):
        if i % 5 == 4 and joinable:
            fact = rng.choice(joinable)
            template = rng.choice(JOIN_TEMPLATES)
            targets = [fact["table"], fact["hub"]]
        else:
            fact = rng.choice(facts)
            template = rng.choice(TEMPLATES)
            targets = [fact["table"]]
        measure = rng.choice(fact["measures"])[1]
        text = template.format(measure=measure, syn=rng.choice(fact["synonyms"]),
                               vphrase=fact["variant"], area=fact["area"],
                               other_syn=rng.choice(fact["hub_synonyms"]))
        chosen.append(Question(" ".join(text.split()), targets))
    return chosen


def run(tables: int = 2000, count: int = 60, budget: int = 3000, seed: int = 7) -> dict[str, Any]:
    started = time.perf_counter()
    catalog, facts = build(tables, seed)
    built = time.perf_counter()
    prompts, counter = default_prompts(), default_counter()
    clock = FixedClock(date(2026, 6, 30))
    config = LLMConfig(model="bench", base_url="http://127.0.0.1:9/v1", token_budget=budget)
    planner = LLMPlanner(catalog, clock, ChatClient(config), CatalogPlanner(catalog, clock),
                         config=config)
    indexed = time.perf_counter()
    tools_tokens = counter.count(json.dumps(prompts.tools))
    builder: ContextBuilder = planner.builder
    full_schema = "\n\n".join(builder.render_table(t, detail=0) for t in catalog.tables)
    full_tokens = counter.count(full_schema)
    rows = []
    for question in questions(facts, count, seed):
        t0 = time.perf_counter()
        messages, context = planner.first_messages(question.text)
        elapsed = time.perf_counter() - t0
        prompt_tokens = sum(counter.count(m["content"]) + 4 for m in messages) + tools_tokens
        found = [t for t in question.targets if t in context.tables]
        rows.append({"question": question.text, "targets": question.targets,
                     "found": found, "recall": len(found) / len(question.targets),
                     "prompt_tokens": prompt_tokens, "context_tokens": context.tokens,
                     "tables_shown": len(context.tables), "ms": elapsed * 1000})
    recall = sum(len(r["found"]) for r in rows) / sum(len(r["targets"]) for r in rows)
    sizes = [r["prompt_tokens"] for r in rows]
    return {
        "tables": len(catalog.tables),
        "columns": sum(len(t.columns) for t in catalog.tables),
        "questions": len(rows),
        "budget": budget,
        "token_counter": counter.name,
        "recall": round(recall, 4),
        "questions_fully_recalled": sum(r["recall"] == 1 for r in rows),
        "prompt_tokens_median": statistics.median(sizes),
        "prompt_tokens_max": max(sizes),
        "tables_shown_median": statistics.median(r["tables_shown"] for r in rows),
        "full_schema_tokens": full_tokens,
        "prompt_vs_full_schema": round(statistics.median(sizes) / full_tokens, 5),
        "tool_schema_tokens": tools_tokens,
        "catalog_build_s": round(built - started, 2),
        "index_build_s": round(indexed - built, 2),
        "retrieve_and_render_ms_median": round(statistics.median(r["ms"] for r in rows), 1),
        "misses": [r for r in rows if r["recall"] < 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.tables, args.questions, args.budget, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        if key != "misses":
            print(f"{key:32} {value}")
    for miss in report["misses"]:
        print(f"MISS {miss['question']!r}: wanted {miss['targets']}, shown {miss['found']}")
    ok = report["recall"] >= 0.95 and report["prompt_tokens_max"] < 4000
    print("target (recall >= 0.95, prompts < 4,000 tokens):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
