"""Talking to a Chat Completions endpoint: tool calls, bounded retries, Retry-After, a deadline."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from skipper.errors import LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from skipper.llm.config import LLMConfig

#: HTTP statuses worth another try: request timeout, lock conflict, rate limit, server errors.
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the raw JSON text it wrote."""

    id: str
    name: str
    arguments: str


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens


@dataclass
class Completion:
    """The assistant's turn: text and/or tool calls, with what it cost."""

    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str | None
    model: str
    usage: Usage
    attempts: int
    latency_s: float
    retry_waits_s: list[float] = field(default_factory=list)

    def as_message(self) -> dict[str, Any]:
        """The turn as it goes back into the transcript."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


class ChatClient:
    """Chat Completions with tools over the ``openai`` SDK, with Skipper's own retry policy.

    The SDK's retries are off so that every bound is Skipper's and testable: at most
    ``max_retries`` retries of timeouts, connection errors, 408/409/429 and 5xx, waiting what
    ``Retry-After`` (or ``retry-after-ms``) says when the server says it — up to
    ``max_retry_after_s`` — else an exponential backoff with jitter; never waiting or waiting for
    an answer past ``deadline``. Other statuses (bad key, unknown model) fail at once.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        client: openai.OpenAI | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._client = client
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(
                api_key=self.config.key(),
                base_url=self.config.url,
                timeout=self.config.request_timeout_s,
                max_retries=0,
                default_headers=self.config.default_headers or None,
                default_query=self.config.default_query or None,
            )
        return self._client

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        *,
        deadline: float | None = None,
    ) -> Completion:
        """One assistant turn. Raises LLMTimeoutError, LLMUnavailableError or LLMResponseError."""
        started = self._monotonic()
        waits: list[float] = []
        attempt = 0
        while True:
            attempt += 1
            timeout = self._timeout(deadline)
            try:
                response = self.client.chat.completions.create(**self._request(messages, tools),
                                                               timeout=timeout)
            except openai.APIStatusError as error:
                status = error.status_code
                if status not in RETRYABLE_STATUS and status < 500:
                    raise LLMUnavailableError(_refusal_message(status, error, self.config),
                                              status=status) from None
                failure: LLMError = LLMUnavailableError(
                    f"the model endpoint answered HTTP {status} {attempt} time(s): "
                    f"{_error_text(error)}", status=status)
                hint = retry_after(error.response.headers)
            except openai.APITimeoutError:
                failure = LLMTimeoutError(
                    f"the model endpoint did not answer within {timeout:.1f}s "
                    f"({attempt} attempt(s)); raise LLMConfig.request_timeout_s or check the "
                    f"server at {self.config.url}")
                hint = None
            except openai.APIConnectionError as error:
                failure = LLMUnavailableError(
                    f"cannot reach the model endpoint at {self.config.url}: "
                    f"{error.__cause__ or error}; check OPENAI_BASE_URL")
                hint = None
            except (openai.APIResponseValidationError, json.JSONDecodeError) as error:
                failure = LLMResponseError(f"the endpoint sent a body that is not a chat "
                                           f"completion: {_first_line(error)}")
                hint = None
            else:
                return self._completion(response, attempt, started, waits)
            if attempt > self.config.max_retries:
                failure.details["attempts"] = attempt
                raise failure
            wait = self._wait(attempt, hint)
            if deadline is not None and self._monotonic() + wait >= deadline:
                raise LLMTimeoutError(
                    f"the run's wall time ran out while the endpoint was failing "
                    f"({failure.message})", attempts=attempt)
            waits.append(wait)
            self._sleep(wait)

    # ---- pieces ---------------------------------------------------------------------------
    def _request(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.config.model, "messages": list(messages)}
        if tools:
            request["tools"] = list(tools)
            request["tool_choice"] = "auto"
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        return request

    def _timeout(self, deadline: float | None) -> float:
        timeout = self.config.request_timeout_s
        if deadline is not None:
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise LLMTimeoutError("the run's wall time ran out before the model answered; "
                                      "raise LLMConfig.wall_time_s")
            timeout = min(timeout, remaining)
        return timeout

    def _wait(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            if hint > self.config.max_retry_after_s:
                raise LLMUnavailableError(
                    f"the endpoint asked to wait {hint:.0f}s (Retry-After), longer than "
                    f"max_retry_after_s={self.config.max_retry_after_s:g}; try again later",
                    code="llm.rate_limited", retry_after_s=hint)
            return hint
        backoff = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (attempt - 1))
        return backoff * (0.5 + self._jitter() / 2)

    def _completion(
        self, response: Any, attempt: int, started: float, waits: list[float]
    ) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise LLMResponseError("the endpoint sent a chat completion with no choices")
        message = choices[0].message
        calls = []
        for i, call in enumerate(message.tool_calls or []):
            function = getattr(call, "function", None)
            calls.append(ToolCall(
                id=str(getattr(call, "id", None) or f"call_{i}"),
                name=str(getattr(function, "name", "") or ""),
                arguments=str(getattr(function, "arguments", "") or ""),
            ))
        usage = getattr(response, "usage", None)
        return Completion(
            content=message.content,
            tool_calls=calls,
            finish_reason=choices[0].finish_reason,
            model=str(getattr(response, "model", None) or self.config.model),
            usage=Usage(
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                total_tokens=int(getattr(usage, "total_tokens", 0) or 0),
            ),
            attempts=attempt,
            latency_s=self._monotonic() - started,
            retry_waits_s=waits,
        )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, ``Retry-After`` seconds or a date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        value = parsed.timestamp() - time.time()
    return max(0.0, value)


def _refusal_message(status: int, error: openai.APIStatusError, config: LLMConfig) -> str:
    text = _error_text(error)
    if status == 401:
        return f"the model endpoint refused the API key (HTTP 401): check OPENAI_API_KEY ({text})"
    if status == 403:
        return f"the API key may not use this model or endpoint (HTTP 403): {text}"
    if status == 404:
        return (f"the endpoint {config.url} does not know model {config.model!r} or the path "
                f"(HTTP 404): check SKIPPER_MODEL and OPENAI_BASE_URL ({text})")
    return f"the model endpoint refused the request (HTTP {status}): {text}"


def _error_text(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _first_line(str(inner["message"]))[:300]
    return _first_line(error.message)[:300]


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
