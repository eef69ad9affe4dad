"""Remembered answers: verified question→SQL pairs, kept as a catalog file beside the audit log."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from filelock import FileLock
from pydantic import ValidationError

from skipper.catalog.models import CatalogFile, VerifiedQuery
from skipper.clock import Clock, SystemClock
from skipper.errors import CatalogError
from skipper.planner import Plan

HEADER = (
    "# Questions answered and confirmed with Skipper.remember(question, sql). This is a catalog\n"
    "# file: move entries into the catalog's verified_queries to share them with everyone.\n"
)
_WORDS = re.compile(r"[\w']+")


def normalise(question: str) -> str:
    """The words of a question, lower-cased: "How many accounts?" == "how many  accounts"."""
    return " ".join(_WORDS.findall(question.lower()))


class VerifiedQueries:
    """A YAML file of :class:`VerifiedQuery` entries (catalog format), read and written whole.

    Writers take a file lock and replace the file atomically, so concurrent ``remember`` calls
    from threads or processes never lose an entry or leave half a file.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        """``clock`` stamps ``verified_at``: the wall clock, like audit times, even when a
        Skipper pins ``today`` for its data."""
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self._lock = FileLock(str(self.path) + ".lock")
        self._loaded: tuple[float, list[VerifiedQuery]] | None = None

    def all(self) -> list[VerifiedQuery]:
        if not self.path.exists():
            return []
        mtime = self.path.stat().st_mtime
        if self._loaded is None or self._loaded[0] != mtime:
            self._loaded = (mtime, self._read())
        return list(self._loaded[1])

    def find(self, question: str) -> VerifiedQuery | None:
        """The remembered entry for exactly this question (case and punctuation aside)."""
        key = normalise(question)
        return next((q for q in reversed(self.all()) if normalise(q.question) == key), None)

    def plan(self, question: str) -> Plan | None:
        """A plan answering ``question`` with its remembered SQL, if there is one."""
        entry = self.find(question)
        if entry is None:
            return None
        return Plan(status="ok", question=question, sql=entry.sql, verified_query=True,
                    message=f"Answered with the remembered query for '{entry.question}'.")

    def add(self, question: str, sql: str, *, verified_by: str | None = None) -> VerifiedQuery:
        """Store (or replace) the entry for ``question``. The caller has guarded and run ``sql``."""
        entry = VerifiedQuery(question=question.strip(), sql=sql.strip(),
                              verified_by=verified_by, tags=["remembered"],
                              verified_at=self.clock.now().isoformat(timespec="seconds"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            key = normalise(question)
            kept = [q for q in (self._read() if self.path.exists() else [])
                    if normalise(q.question) != key]
            kept.append(entry)
            body = {"verified_queries": [q.model_dump(mode="json", exclude_none=True,
                                                      exclude_defaults=False) for q in kept]}
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True,
                                                         width=100), encoding="utf-8")
            temporary.replace(self.path)
        self._loaded = None
        return entry

    def _read(self) -> list[VerifiedQuery]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            return list(CatalogFile.model_validate(data).verified_queries)
        except (yaml.YAMLError, ValidationError) as error:
            raise CatalogError(f"the remembered queries file is not valid: {error}",
                               code="catalog.invalid", file=str(self.path)) from None
