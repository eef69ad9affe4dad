"""The guard: nothing reaches an engine unless it is one read-only query over catalog tables."""

from skipper.guard.context import GuardContext, TableRef
from skipper.guard.guard import RULES, Guard, GuardedQuery, Rule
from skipper.guard.lineage import ColumnRead

__all__ = ["RULES", "ColumnRead", "Guard", "GuardContext", "GuardedQuery", "Rule", "TableRef"]
