"""Answers as Slack messages: Block Kit with escaped text, so data can never form a link or mention.

Slack reads ``<...>`` as links and mentions and ``&`` as an entity, so all text that comes
from data, a question or the catalog goes through ``escape`` and sits in ``verbatim`` mrkdwn (no
auto-linking of URLs or channel names); the table and the SQL sit in code blocks that a value
cannot close.
"""

from __future__ import annotations

from typing import Any

from skipper.answer import Answer
from skipper.display import count_words, format_cell, numeric_columns
from skipper.text import visible

Block = dict[str, Any]
MAX_SECTION_CHARS = 2900
MAX_CELL_CHARS = 40
ZERO_WIDTH = "\u200b"


def escape(text: str) -> str:
    """Slack's three control characters as entities: ``&``, ``<`` and ``>``; and what would
    reorder or hide text in a Slack client (bidirectional overrides, control characters) as
    the escapes skipper.text shows on terminals."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_text(text: str) -> str:
    """Escaped text that cannot end a ``` code block early."""
    return escape(text).replace("```", f"`{ZERO_WIDTH}`{ZERO_WIDTH}`")


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(_clip(text))}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(_clip(text))]}


def _clip(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return cut + ("…```" if cut.count("```") % 2 else "…")


def text_table(answer: Answer, max_rows: int) -> str:
    """The first rows as a fixed-width table (numbers right-aligned), within a section's limit."""
    numeric = numeric_columns(answer)
    header = [_cell_text(c) for c in answer.columns]
    rows = [[_cell_text(format_cell(v)) for v in row] for row in answer.rows[:max_rows]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric, strict=True)).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    for row in rows:
        candidate = line(row)
        if sum(len(x) + 1 for x in lines) + len(candidate) > MAX_SECTION_CHARS - 100:
            break
        lines.append(candidate)
    return "\n".join(lines)


def _cell_text(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - 1] + "…"


def answer_message(answer: Answer, *, max_rows: int = 10) -> tuple[str, list[Block]]:
    """``(text, blocks)`` for chat.postMessage: the summary, the top rows, caveats, the SQL (as a
    secondary block after a divider) and the audit id."""
    if answer.status == "cannot_answer":
        return cannot_answer_message(answer)
    if answer.status == "needs_clarification":
        return clarification_message(answer)
    summary = answer.summary or ("Here is the result." if answer.row_count else "No rows matched.")
    blocks: list[Block] = [section(escape(summary))]
    if answer.interpretation:
        blocks.append(context(f"*Read as:* {escape(answer.interpretation)}"))
    if answer.columns:
        blocks.append(section(f"```{code_text(text_table(answer, max_rows))}```"))
        shown = min(len(answer.rows), max_rows)
        blocks.append(context(escape(count_words(answer, shown))))
    if answer.caveats:
        caveats = "\n".join(f"• {escape(c)}" for c in answer.caveats)
        blocks.append(section(f":warning: *Caveats*\n{caveats}"))
    if answer.sql:
        blocks.append({"type": "divider"})
        blocks.append(context("SQL that ran"))
        blocks.append(section(f"```{code_text(answer.sql)}```"))
    blocks.append(context(_footer(answer)))
    return escape(summary), blocks


def cannot_answer_message(answer: Answer) -> tuple[str, list[Block]]:
    message = answer.message or "I cannot answer that from the catalog."
    text = f"I couldn't answer that from the catalog. {escape(message)}"
    blocks = [section(f":thinking_face: {text}")]
    if answer.suggestions:
        tries = ", ".join(f"`{code_text(s).replace('`', '')}`" for s in answer.suggestions[:8])
        blocks.append(section(f"Try asking with: {tries}"))
    blocks.append(context(_footer(answer)))
    return text, blocks


CHOICE_ACTION = "skipper_choice_"
MAX_BUTTON_CHARS = 75  # Slack's limit on a button's text


def clarification_message(answer: Answer) -> tuple[str, list[Block]]:
    """"Which did you mean?" with one button per reading; a click asks that reading."""
    message = answer.message or "The question can be read more than one way."
    text = f"Which did you mean? {escape(message)}"
    listed = "\n".join(f"{i}. {escape(c)}" for i, c in enumerate(answer.choices, 1))
    blocks: list[Block] = [section(f":thinking_face: {text}\n{listed}")]
    buttons = [{
        "type": "button", "action_id": f"{CHOICE_ACTION}{i}",
        "text": {"type": "plain_text", "text": _button_text(f"{i}. {choice}")},
        "value": choice[:2000],
    } for i, choice in enumerate(answer.choices[:5], 1)]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append(context(_footer(answer)))
    return text, blocks


def _button_text(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_CHARS else text[: MAX_BUTTON_CHARS - 1] + "…"


def _footer(answer: Answer) -> str:
    parts = [f"audit id `{code_text(answer.audit_id).replace('`', '')}`"]
    if answer.tables:
        parts.append("tables: " + ", ".join(escape(t) for t in answer.tables))
    if answer.user:
        parts.append(f"asked as {escape(answer.user)}")
    if "total_ms" in answer.timings:
        parts.append(f"{answer.timings['total_ms']:.0f} ms")
    return " · ".join(parts)


def notice_message(text: str, *, emoji: str = ":information_source:") -> tuple[str, list[Block]]:
    """A short message of the bot's own (refusals, limits, errors); ``text`` is escaped here."""
    escaped = escape(text)
    return escaped, [section(f"{emoji} {escaped}")]
