"""Planning: questions in plain English -> semantic queries -> SQL, from the catalog alone."""

from skipper.planner.compiler import Compiler, compile_query
from skipper.planner.planner import CatalogPlanner, Plan
from skipper.planner.query import (
    Breakdown,
    Comparison,
    Filter,
    Order,
    RelativePeriod,
    SegmentRef,
    SemanticQuery,
    TimeRange,
)

__all__ = [
    "Breakdown",
    "CatalogPlanner",
    "Comparison",
    "Compiler",
    "Filter",
    "Order",
    "Plan",
    "RelativePeriod",
    "SegmentRef",
    "SemanticQuery",
    "TimeRange",
    "compile_query",
]
