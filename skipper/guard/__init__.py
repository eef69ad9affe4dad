"""The guard: nothing reaches an engine unless it is one read-only query over catalog tables."""

from skipper.guard.context import GuardContext, TableRef
from skipper.guard.guard import RULES, STATEMENT_RULES, Guard, GuardedQuery, Rule, check_statement
from skipper.guard.lineage import ColumnRead

__all__ = ["RULES", "STATEMENT_RULES", "ColumnRead", "Guard", "GuardContext", "GuardedQuery",
           "Rule", "TableRef", "check_statement"]
