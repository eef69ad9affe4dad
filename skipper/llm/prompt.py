"""The prompt files: jinja2 templates in prompts/, each with a declared version."""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import resources
from typing import Any

import jinja2
import yaml

_VERSION = re.compile(r"^\s*(?:\{#-?|#)\s*version:\s*(\d+)")
FILES = ("system.j2", "question.j2", "table.j2", "semantics.j2", "examples.j2", "feedback.j2",
         "tools.yaml")


def oneline(text: Any, limit: int = 200) -> str:
    """Collapse whitespace and cut at ``limit`` characters: catalog prose in a prompt line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class Prompts:
    """Loads the prompt files once; ``version`` names the exact set for the audit log."""

    def __init__(self) -> None:
        folder = resources.files("skipper.llm").joinpath("prompts")
        self.sources = {name: folder.joinpath(name).read_text(encoding="utf-8") for name in FILES}
        self.versions = {name.split(".")[0]: _declared(name, text)
                         for name, text in self.sources.items()}
        digest = hashlib.sha256()
        for name in FILES:
            digest.update(name.encode() + b"\0" + self.sources[name].encode() + b"\0")
        #: e.g. ``v1-3f09c2d1ab``: the highest declared version, and a hash that moves on any edit.
        self.version = f"v{max(self.versions.values())}-{digest.hexdigest()[:10]}"
        self.env = jinja2.Environment(
            loader=jinja2.DictLoader({n: t for n, t in self.sources.items() if n.endswith(".j2")}),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=False,
        )
        self.env.filters["oneline"] = oneline
        self.tools: list[dict[str, Any]] = yaml.safe_load(self.sources["tools.yaml"])

    def render(self, template: str, /, **context: Any) -> str:
        return self.env.get_template(template).render(**context).strip()

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools]


def _declared(name: str, text: str) -> int:
    match = _VERSION.match(text)
    if match is None:
        raise ValueError(f"prompt file {name} does not start with a 'version: N' comment")
    return int(match.group(1))


@functools.lru_cache(maxsize=1)
def default_prompts() -> Prompts:
    return Prompts()
