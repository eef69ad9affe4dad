"""The semantic catalog: YAML declarations loaded into checked, typed models."""

from skipper.catalog.catalog import Catalog
from skipper.catalog.models import (
    CatalogFile,
    Column,
    Dimension,
    Freshness,
    GlossaryTerm,
    Lineage,
    Metric,
    Relationship,
    Sampling,
    Segment,
    Source,
    Table,
    VerifiedQuery,
    catalog_json_schema,
)

__all__ = [
    "Catalog",
    "CatalogFile",
    "Column",
    "Dimension",
    "Freshness",
    "GlossaryTerm",
    "Lineage",
    "Metric",
    "Relationship",
    "Sampling",
    "Segment",
    "Source",
    "Table",
    "VerifiedQuery",
    "catalog_json_schema",
]
