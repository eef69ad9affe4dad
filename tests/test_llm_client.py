"""The model client against a scripted endpoint on 127.0.0.1: retries, Retry-After, hangs."""

from __future__ import annotations

import time

import pytest

from skipper.errors import (
    ConfigError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from skipper.llm.client import ChatClient, retry_after
from skipper.llm.config import NOT_CONFIGURED, LLMConfig
from tests.llm_stub import Reply, StubServer, completion, error, hang

HELLO = [{"role": "user", "content": "hello"}]


def client(server: StubServer, **options: object) -> ChatClient:
    settings: dict[str, object] = {"model": "stub-model", "base_url": server.url,
                                   "backoff_s": 0.01, "max_backoff_s": 0.05,
                                   "request_timeout_s": 2.0, **options}
    return ChatClient(LLMConfig(**settings))  # type: ignore[arg-type]


def gaps(server: StubServer) -> list[float]:
    return [b - a for a, b in zip(server.times, server.times[1:], strict=False)]


def test_a_completion_with_tool_calls_and_usage() -> None:
    with StubServer([completion(("run_sql", {"sql": "SELECT 1"}), prompt_tokens=11,
                                completion_tokens=3)]) as server:
        done = client(server).complete(HELLO, [])
    assert [(c.name, c.arguments) for c in done.tool_calls] == [("run_sql", '{"sql": "SELECT 1"}')]
    assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (
        11, 3, 14)
    assert done.attempts == 1
    assert server.requests[0]["model"] == "stub-model"
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_429_honours_retry_after_then_succeeds() -> None:
    script = [error(429, retry_after="0.3"), error(429, retry_after_ms="200"), completion()]
    with StubServer(script) as server:
        done = client(server).complete(HELLO, [])
    assert done.attempts == 3
    assert done.retry_waits_s == [0.3, 0.2]
    first, second = gaps(server)
    assert first >= 0.3 and second >= 0.2  # waited what the server asked, not the tiny backoff


def test_retry_after_longer_than_the_cap_gives_up_at_once() -> None:
    with StubServer([error(429, retry_after="3600"), completion()]) as server:
        started = time.monotonic()
        with pytest.raises(LLMUnavailableError) as caught:
            client(server).complete(HELLO, [])
    assert caught.value.code == "llm.rate_limited"
    assert "3600" in caught.value.message
    assert time.monotonic() - started < 1.0 and len(server.requests) == 1


def test_5xx_retries_are_bounded() -> None:
    with StubServer([error(500)] * 10) as server, pytest.raises(LLMUnavailableError) as caught:
        client(server, max_retries=2).complete(HELLO, [])
    assert len(server.requests) == 3  # one try and two retries, no more
    assert caught.value.details["attempts"] == 3
    assert "HTTP 500" in caught.value.message


def test_503_then_success_uses_backoff() -> None:
    with StubServer([error(503), error(502), completion()]) as server:
        done = client(server).complete(HELLO, [])
    assert done.attempts == 3 and len(done.retry_waits_s) == 2
    assert all(0 < w <= 0.05 for w in done.retry_waits_s)


def test_a_hanging_endpoint_times_out_and_is_retried_within_bounds() -> None:
    with StubServer([hang(10), hang(10), hang(10)]) as server:
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError) as caught:
            client(server, request_timeout_s=0.3, max_retries=1).complete(HELLO, [])
        elapsed = time.monotonic() - started
    assert caught.value.code == "llm.timeout"
    assert len(server.requests) == 2
    assert 0.6 <= elapsed < 3.0


def test_a_hang_then_an_answer_recovers() -> None:
    with StubServer([hang(10), completion(content="ok")]) as server:
        done = client(server, request_timeout_s=0.3).complete(HELLO, [])
    assert done.content == "ok" and done.attempts == 2


def test_the_deadline_bounds_waits_and_requests() -> None:
    with StubServer([hang(10)] * 5) as server:
        chat = client(server, request_timeout_s=5.0, max_retries=5)
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError):
            chat.complete(HELLO, [], deadline=time.monotonic() + 0.5)
        assert time.monotonic() - started < 2.0


def test_a_retry_after_past_the_deadline_is_not_waited_for() -> None:
    with StubServer([error(429, retry_after="5"), completion()]) as server:
        chat = client(server, max_retry_after_s=10)
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError):
            chat.complete(HELLO, [], deadline=time.monotonic() + 1.0)
        assert time.monotonic() - started < 1.0


def test_auth_and_unknown_model_fail_without_retries() -> None:
    with StubServer([error(401, "Incorrect API key provided"), completion()]) as server, \
            pytest.raises(LLMUnavailableError) as caught:
        client(server).complete(HELLO, [])
    assert "OPENAI_API_KEY" in caught.value.message and len(server.requests) == 1
    with StubServer([error(404, "The model `nope` does not exist")]) as server, \
            pytest.raises(LLMUnavailableError) as caught:
        client(server).complete(HELLO, [])
    assert "SKIPPER_MODEL" in caught.value.message


def test_a_body_that_is_not_json_is_retried_then_reported() -> None:
    with StubServer([Reply(raw=b"<html>bad gateway</html>"), completion(content="ok")]) as server:
        assert client(server).complete(HELLO, []).content == "ok"
    with StubServer([Reply(raw=b"{not json")] * 3) as server:
        with pytest.raises(LLMResponseError):
            client(server, max_retries=1).complete(HELLO, [])
        assert len(server.requests) == 2


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with StubServer([]) as server:
        url = server.url
    chat = ChatClient(LLMConfig(model="m", base_url=url, max_retries=1, backoff_s=0.01))
    with pytest.raises(LLMUnavailableError) as caught:
        chat.complete(HELLO, [])
    assert "cannot reach" in caught.value.message and "OPENAI_BASE_URL" in caught.value.message


def test_retry_after_forms() -> None:
    assert retry_after({"Retry-After": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
    in_a_while = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < (retry_after({"Retry-After": in_a_while}) or 0) <= 31


def test_config_from_the_environment() -> None:
    assert LLMConfig.from_env({}) is None
    assert LLMConfig.from_env({"OPENAI_API_KEY": "sk-x"}) is None  # a key alone opts in to nothing
    config = LLMConfig.from_env({"SKIPPER_MODEL": "llama3.1", "OPENAI_BASE_URL":
                                 "http://127.0.0.1:11434/v1/"})
    assert config is not None and config.url == "http://127.0.0.1:11434/v1"
    assert config.key() == "not-needed"
    assert "sk-" not in config.describe()
    overridden = LLMConfig.from_env({"SKIPPER_MODEL": "a", "OPENAI_API_KEY": "sk-secret"},
                                    model="b", max_steps=4)
    assert overridden is not None and overridden.model == "b" and overridden.max_steps == 4
    assert "sk-secret" not in repr(overridden)
    with pytest.raises(ConfigError) as caught:
        LLMConfig.from_env({"SKIPPER_MODEL": "gpt-4o-mini"}).key()  # type: ignore[union-attr]
    assert caught.value.code == "config.llm_missing"
    with pytest.raises(ConfigError):
        LLMConfig.from_env({"SKIPPER_MODEL": "m"}, max_steps=0)
    assert "SKIPPER_MODEL" in NOT_CONFIGURED and "OPENAI_BASE_URL" in NOT_CONFIGURED
