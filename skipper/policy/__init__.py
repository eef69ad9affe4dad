"""Governance: who may read which tables, columns and rows, enforced by the guard's rewrite."""

from skipper.policy.access import Access, Policy, TablePolicy, Visibility
from skipper.policy.principal import CatalogResolver, GroupResolver, Principal

__all__ = [
    "Access",
    "CatalogResolver",
    "GroupResolver",
    "Policy",
    "Principal",
    "TablePolicy",
    "Visibility",
]
