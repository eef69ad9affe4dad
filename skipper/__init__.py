"""Skipper: ask questions about your data in plain English; get correct, auditable answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skipper.errors import SkipperError

if TYPE_CHECKING:
    from skipper.answer import Answer
    from skipper.app import Skipper
    from skipper.catalog import Catalog

__all__ = ["Answer", "Catalog", "Skipper", "SkipperError"]
__version__ = "0.1.0"

_LAZY = {"Answer": "skipper.answer", "Skipper": "skipper.app", "Catalog": "skipper.catalog"}


def __getattr__(name: str) -> Any:
    # Imported on first use so `import skipper.catalog` (and the CLI) stay light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skipper' has no attribute {name!r}")
