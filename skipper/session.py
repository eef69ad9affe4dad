"""A conversation: follow-up questions that refine the previous answer's semantic query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skipper.answer import Answer
    from skipper.app import Skipper
    from skipper.planner import SemanticQuery


class Session:
    """Follow-up questions: each turn refines the last answered semantic query."""

    def __init__(self, skipper: Skipper, *, user: str | None = None) -> None:
        self.skipper = skipper
        self.user = user
        self.answers: list[Answer] = []

    @property
    def semantic_query(self) -> SemanticQuery | None:
        """The semantic query of the last answered turn (what a follow-up refines)."""
        for answer in reversed(self.answers):
            if answer.status == "ok" and answer.semantic_query is not None:
                return answer.semantic_query  # type: ignore[no-any-return]
        return None

    def _repr_html_(self) -> str:
        from skipper.display import thread_html

        return thread_html(self.answers)

    def __rich__(self) -> Any:
        from skipper.display import thread_rich

        return thread_rich(self.answers)

    def ask(self, question: str) -> Answer:
        answer = self.skipper.ask(question, user=self.user, previous=self.semantic_query)
        self.answers.append(answer)
        return answer
