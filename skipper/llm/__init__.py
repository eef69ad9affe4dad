"""The LLM planner: any OpenAI-compatible model, grounded by retrieval, acting through tools."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skipper.catalog import Catalog
    from skipper.catalog.models import VerifiedQuery
    from skipper.clock import Clock
    from skipper.llm.client import ChatClient
    from skipper.llm.config import NOT_CONFIGURED, LLMConfig
    from skipper.llm.memory import VerifiedQueries
    from skipper.llm.planner import LLMPlanner, LLMResult, LLMStats
    from skipper.llm.retrieval import Visibility
    from skipper.planner import CatalogPlanner

__all__ = [
    "NOT_CONFIGURED",
    "ChatClient",
    "LLMConfig",
    "LLMPlanner",
    "LLMResult",
    "LLMStats",
    "VerifiedQueries",
    "Visibility",
    "build_planner",
]

_LAZY = {
    "ChatClient": "client", "LLMConfig": "config", "NOT_CONFIGURED": "config",
    "VerifiedQueries": "memory", "LLMPlanner": "planner", "LLMResult": "planner",
    "LLMStats": "planner", "Visibility": "retrieval",
}


def __getattr__(name: str) -> Any:
    # Lazy, so `skipper.llm.memory` works without the `llm` extra (openai, bm25s) installed.
    if name in _LAZY:
        return getattr(importlib.import_module(f"skipper.llm.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'skipper.llm' has no attribute {name!r}")


def build_planner(
    option: LLMPlanner | ChatClient | LLMConfig | bool | None,
    catalog: Catalog,
    clock: Clock,
    catalog_planner: CatalogPlanner,
    *,
    examples: Sequence[VerifiedQuery] = (),
) -> LLMPlanner | None:
    """The planner ``Skipper(llm=...)`` asks for: ``None`` or ``True`` reads the environment
    (no SKIPPER_MODEL, no planner), ``False`` turns it off, a planner, config or client is used.

    Without a model nothing of the ``llm`` extra is imported, so catalog-only installs work.
    """
    from skipper.errors import ConfigError
    from skipper.llm.config import LLMConfig

    if option is False:
        return None
    if option is None or option is True:
        option = LLMConfig.from_env()
        if option is None:
            return None
    try:
        from skipper.llm.planner import LLMPlanner
    except ImportError as error:
        raise ConfigError(
            f"the LLM planner needs the 'llm' extra ({error.name or error} is missing): "
            "pip install 'skipper[llm]'", code="config.missing_extra", extra="llm") from None
    return LLMPlanner.build(option, catalog, clock, catalog_planner, examples=examples)
