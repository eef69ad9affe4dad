"""How the CLI talks to people: rich for humans, one JSON object for machines, no tracebacks.

Every command prints through ``console`` and ``err_console``, which show text and never obey
it: control characters, bidirectional overrides and lone surrogates come out as escapes
(skipper.text.visible), and markup is off, so a value's ``[bold]`` or ``[/x]`` is printed as
written. Styling is code: ``styled("[bold]{}[/]", value)`` fills the values in as plain text.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment
from rich.text import Text

from skipper.errors import SkipperError
from skipper.text import visible

EXIT_ERROR = 1
EXIT_REFUSED = 2
EXIT_CANNOT_ANSWER = 3


class SafeConsole(Console):
    """A rich console that shows what a terminal would obey: strings are made visible before
    layout (so widths count the escapes), and every rendered segment again on its way out (so
    a renderable built elsewhere cannot slip a raw ESC through). Markup is off by default."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("markup", False)
        super().__init__(**options)

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(visible(text), **options)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        if isinstance(renderable, Text) and visible(renderable.plain) != renderable.plain:
            renderable = _visible_text(renderable)  # wrapped in its space, not cut to it
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style, segment.control)


def _visible_text(text: Text) -> Text:
    """A copy of ``text`` made visible, its styles kept on the characters they covered."""
    shown = text.blank_copy()
    cuts = sorted({edge for span in text.spans for edge in (span.start, span.end)}
                  - {0, len(text.plain)})
    for part in text.divide(cuts):
        start = len(shown)
        shown.append(visible(part.plain))
        for span in part.spans:
            shown.stylize(span.style, start, len(shown))
    return shown


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def styled(template: str, *values: object) -> Text:
    """Rich markup written in code, each ``{}`` filled with a value as plain, visible text."""
    return Text.from_markup(template.format(*(escape(visible(str(v))) for v in values)))


#: What a JSON text must not carry raw to a terminal: controls JSON leaves raw (DEL, C1), the
#: characters skipper.text shows as escapes, and lone surrogates (which UTF-8 cannot encode).
_JSON_RAW = re.compile("[\x7f-\x9f\ud800-\udfff\u061c\u200b\u200e\u200f\u2028\u2029"
                       "\u202a-\u202e\u2066-\u2069\ufeff]")


def json_text(payload: Any) -> str:
    """``payload`` as one line of JSON that is safe on a terminal and decodes to the same values:
    the characters a terminal would obey are ``\\u`` escapes (JSON only appears in strings)."""
    text = json.dumps(payload, default=str, ensure_ascii=False)
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def print_json(payload: Any) -> None:
    """One JSON object on stdout (dates, decimals and the like as strings)."""
    sys.stdout.write(json_text(payload) + "\n")


def fail(error: SkipperError, *, as_json: bool = False, exit_code: int | None = None) -> NoReturn:
    """Report a Skipper error readably (or as ``{"error": ...}``) and exit non-zero."""
    from skipper.errors import GuardError

    code = exit_code if exit_code is not None else (
        EXIT_REFUSED if isinstance(error, GuardError) else EXIT_ERROR
    )
    if as_json:
        print_json({"error": {"code": error.code, "message": error.message}})
    else:
        err_console.print(styled("[bold red]Error[/] [dim]({})[/]: {}", error.code,
                                 error.message), soft_wrap=True)
    raise typer.Exit(code)
