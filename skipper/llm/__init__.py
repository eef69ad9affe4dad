"""The LLM planner: any OpenAI-compatible model, grounded by retrieval, acting through tools."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skipper.llm.client import ChatClient
    from skipper.llm.config import NOT_CONFIGURED, LLMConfig
    from skipper.llm.memory import VerifiedQueries
    from skipper.llm.planner import LLMPlanner, LLMResult, LLMStats
    from skipper.llm.retrieval import Visibility

__all__ = [
    "NOT_CONFIGURED",
    "ChatClient",
    "LLMConfig",
    "LLMPlanner",
    "LLMResult",
    "LLMStats",
    "VerifiedQueries",
    "Visibility",
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
