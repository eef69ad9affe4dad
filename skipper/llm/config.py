"""Where the model lives: OPENAI_API_KEY, OPENAI_BASE_URL and SKIPPER_MODEL, or arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from skipper.errors import ConfigError

OPENAI_URL = "https://api.openai.com/v1"

#: What ``planner="llm"`` says when nothing is configured.
NOT_CONFIGURED = (
    "No LLM is configured for planner='llm'. Set SKIPPER_MODEL (e.g. gpt-4o-mini) and "
    "OPENAI_API_KEY for OpenAI, or SKIPPER_MODEL and OPENAI_BASE_URL for an OpenAI-compatible "
    "server (Azure's /openai/v1/, vLLM, Ollama, llama.cpp), or pass "
    "Skipper(..., llm=LLMConfig(model=..., base_url=..., api_key=...))."
)


class LLMConfig(BaseModel):
    """One model endpoint and the bounds Skipper keeps when it talks to it.

    Any OpenAI-compatible Chat Completions endpoint works: ``base_url`` picks it (``None`` means
    OpenAI). Local servers ignore the key, so one is only required for OpenAI itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Model name as the endpoint knows it.")
    api_key: SecretStr | None = None
    base_url: str | None = Field(default=None, description="e.g. http://localhost:11434/v1.")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Bound on one request.")
    max_retries: int = Field(default=3, ge=0, le=10, description="Retries: timeouts, 429, 5xx.")
    backoff_s: float = Field(default=0.5, ge=0, description="First backoff; doubles per retry.")
    max_backoff_s: float = Field(default=8.0, ge=0)
    max_retry_after_s: float = Field(
        default=20.0, ge=0, description="Longest Retry-After Skipper honours; longer waits give up."
    )
    wall_time_s: float = Field(default=120.0, gt=0, description="Bound on one whole question.")
    max_steps: int = Field(default=6, ge=1, le=30, description="Model calls per question.")
    max_refusals: int = Field(default=3, ge=1, description="Refused SQL texts before giving up.")
    token_budget: int = Field(default=3000, ge=200, description="Tokens of retrieved context.")
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    default_headers: dict[str, str] = Field(default_factory=dict)
    default_query: dict[str, str] = Field(
        default_factory=dict, description="e.g. {'api-version': ...} for older Azure deployments."
    )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> LLMConfig | None:
        """The configuration the environment describes, with ``overrides`` on top.

        ``None`` when no model is named: Skipper never sends a catalog to an endpoint the user
        did not ask for, even if ``OPENAI_API_KEY`` happens to be set for something else.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "model": env.get("SKIPPER_MODEL") or None,
            "api_key": env.get("OPENAI_API_KEY") or None,
            "base_url": env.get("OPENAI_BASE_URL") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["model"]:
            return None
        try:
            return cls(**values)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ConfigError(f"invalid LLM setting {where}: {problem['msg']}",
                              code="config.llm_invalid") from None

    @property
    def url(self) -> str:
        return (self.base_url or OPENAI_URL).rstrip("/")

    def key(self) -> str:
        """The key to send; local servers get a placeholder, OpenAI itself must have one."""
        key = self.api_key.get_secret_value() if isinstance(self.api_key, SecretStr) else None
        if key:
            return key
        if self.base_url is None:
            raise ConfigError(
                "SKIPPER_MODEL is set but OPENAI_API_KEY is not: set OPENAI_API_KEY, or set "
                "OPENAI_BASE_URL to a server that needs no key (vLLM, Ollama, llama.cpp).",
                code="config.llm_missing",
            )
        return "not-needed"

    def describe(self) -> str:
        """Model and endpoint, without the key: safe to log and to audit."""
        return f"{self.model} at {self.url}"
