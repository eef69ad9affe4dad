"""The "Town Lake" demo: a seeded, realistic analytics lake in one DuckDB file, and its catalog."""

from __future__ import annotations

from pathlib import Path

from skipper.demo.build import DemoInfo, Progress, build_demo, demo_as_of
from skipper.errors import DemoError

__all__ = ["DemoInfo", "Progress", "build_demo", "bundled_catalog_path", "demo_as_of"]


def bundled_catalog_path() -> Path:
    """The Town Lake catalog directory: package data in a wheel, ``catalog/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled_catalog", here.parents[1] / "catalog"):
        if (candidate / "catalog.yaml").is_file():
            return candidate
    raise DemoError(
        "the Town Lake catalog is missing from this installation; reinstall skipper",
        code="demo.catalog_missing",
    )
