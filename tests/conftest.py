"""Shared fixtures: the Town Lake demo lake, built once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_AS_OF = date(2026, 6, 30)
NSQL = ROOT.parent / "shared" / "datasets" / "duckdb-nsql"


@pytest.fixture(autouse=True)
def no_llm_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's SKIPPER_MODEL / OPENAI_* settings must never reach a real endpoint."""
    for name in ("SKIPPER_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scale-1 demo lake as of 2026-06-30 (read it; copy it before changing anything)."""
    from skipper.demo import build_demo

    path = tmp_path_factory.mktemp("lake") / "town_lake.duckdb"
    build_demo(path, as_of=DEMO_AS_OF, scale=1)
    return path


@pytest.fixture(scope="session")
def demo_catalog() -> Path:
    return ROOT / "catalog"


@pytest.fixture()
def skipper_on_demo(demo_database: Path, demo_catalog: Path, tmp_path: Path):
    """A Skipper on the shared demo lake with its own audit log."""
    from skipper import Skipper

    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                 audit_log=tmp_path / "audit.jsonl") as skipper:
        yield skipper
