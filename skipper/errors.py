"""Skipper's one exception hierarchy: every failure a user can cause has a stable ``code``."""

from __future__ import annotations

from typing import Any


class SkipperError(Exception):
    """Base of every error Skipper raises on purpose.

    ``code`` is stable and machine-readable (``sql.not_read_only``); ``message`` tells the user
    what went wrong and what to do. ``details`` carries structured context for JSON output.
    """

    code: str = "skipper.error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        return self.message


def _located(message: str, file: str | None, line: int | None, where: str | None) -> str:
    """``file:line (where): message`` with whatever parts are known."""
    place = (file + (f":{line}" if line else "")) if file else ""
    if where:
        place = f"{place} ({where})" if place else where
    return f"{place}: {message}" if place else message


class CatalogError(SkipperError):
    """The catalog cannot be loaded: a file, line and field say where."""

    code = "catalog.invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(_located(message, file, line, field), code=code, **details)
        self.file = file
        self.line = line
        self.field = field


class GuardError(SkipperError):
    """The guard refused a query: nothing was executed."""

    code = "sql.refused"


class InvalidTextError(GuardError):
    """Text that is not Unicode, or that the guard and the engine would read differently
    (skipper.text says which): refused before it reaches either."""

    code = "sql.invalid_text"


class ParseError(GuardError):
    code = "sql.parse_error"


class MultipleStatementsError(GuardError):
    code = "sql.multiple_statements"


class NotReadOnlyError(GuardError):
    code = "sql.not_read_only"


class UnknownTableError(GuardError):
    code = "sql.unknown_table"


class UnknownColumnError(GuardError):
    code = "sql.unknown_column"


class FunctionNotAllowedError(GuardError):
    code = "sql.function_not_allowed"


class TableFunctionError(GuardError):
    code = "sql.table_function"


class TooComplexError(GuardError):
    code = "sql.too_complex"


class UncheckableError(GuardError):
    """The engine cannot bind the statement ahead to check what it reads (a PIVOT without an
    IN list runs a hidden query first), so it does not run it."""

    code = "sql.uncheckable"


class PolicyError(GuardError):
    """A permission check refused the query (governance)."""

    code = "policy.denied"


class EngineError(SkipperError):
    """The database could not run a guarded query."""

    code = "engine.error"


class QueryTimeoutError(EngineError):
    code = "engine.timeout"


class DatabaseNotFoundError(EngineError):
    code = "engine.database_not_found"


class AuditError(SkipperError):
    code = "audit.error"


class AuditTamperedError(AuditError):
    code = "audit.tampered"


class AuditRecordNotFoundError(AuditError):
    code = "audit.not_found"


class DemoError(SkipperError):
    code = "demo.error"


class ConfigError(SkipperError):
    code = "config.invalid"


class PlannerError(SkipperError):
    """A semantic query cannot be turned into SQL over this catalog."""

    code = "planner.error"


class UnknownTermError(PlannerError):
    """A semantic query names a metric, dimension or segment the catalog does not declare."""

    code = "planner.unknown_term"


class NoJoinPathError(PlannerError):
    """No declared relationships connect the tables a semantic query needs."""

    code = "planner.no_join_path"


class AmbiguousJoinError(PlannerError):
    """Two equally short join paths connect two tables; Skipper will not pick one."""

    code = "planner.ambiguous_join"


class FanOutError(PlannerError):
    """Grouping a metric by a dimension across a one-to-many join would count rows twice."""

    code = "planner.fan_out"


class TimeColumnError(PlannerError):
    """A period or time grain was asked of a metric that has no time column."""

    code = "planner.no_time_column"


class EvalError(SkipperError):
    """An evaluation could not run: a case file, a dataset or a predictions file is unusable."""

    code = "eval.error"


class EvalCaseError(EvalError):
    """A cases file is invalid: the file, line and case id say where."""

    code = "eval.invalid_case"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        file: str | None = None,
        line: int | None = None,
        case: str | None = None,
        **details: Any,
    ) -> None:
        where = f"case {case!r}" if case else None
        super().__init__(_located(message, file, line, where), code=code, **details)
        self.file = file
        self.line = line
        self.case = case


class DatasetError(EvalError):
    """A benchmark dataset (Spider, BIRD, DuckDB-NSQL) is not laid out as expected."""

    code = "eval.dataset_invalid"


class LLMError(SkipperError):
    """The LLM planner could not produce an answer: the endpoint failed or the model misbehaved."""

    code = "llm.error"


class LLMUnavailableError(LLMError):
    """The model endpoint refused or kept failing: auth, unknown model, 429/5xx past retries."""

    code = "llm.unavailable"


class LLMTimeoutError(LLMError):
    """The endpoint did not answer in time, or the whole run passed its wall-time bound."""

    code = "llm.timeout"


class LLMResponseError(LLMError):
    """The model kept answering in a shape Skipper cannot use (malformed tool calls or JSON)."""

    code = "llm.bad_response"


class LLMGaveUpError(LLMError):
    """The model did not reach an acceptable answer within its bounds (steps, refused SQL)."""

    code = "llm.gave_up"
