"""The Slack bot's configuration: tokens from the environment, people and limits from options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from skipper.errors import ConfigError


class SlackSettings(BaseModel):
    """Everything the bot needs besides a Skipper.

    ``users`` maps a Slack user id (``U012AB3CD``) or a Slack email to a catalog user name; people
    not in it are looked up by the email ``users.info`` returns among the catalog's users.
    """

    model_config = ConfigDict(extra="forbid")

    bot_token: str = Field(description="SLACK_BOT_TOKEN (xoxb-...).")
    signing_secret: str | None = Field(None, description="SLACK_SIGNING_SECRET (HTTP mode).")
    app_token: str | None = Field(None, description="SLACK_APP_TOKEN (xapp-..., Socket Mode).")
    api_url: str | None = Field(None, description="SLACK_API_URL: the Web API base URL.")
    users: dict[str, str] = Field(default_factory=dict)
    rate_limit: int = Field(10, ge=1, description="Questions per person per window.")
    rate_window_s: float = Field(60.0, gt=0)
    table_rows: int = Field(10, ge=1, le=50, description="Rows shown in a reply.")
    charts: bool = True

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        users_file: Path | None = None,
        **options: object,
    ) -> SlackSettings:
        """Tokens from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL."""
        env = os.environ if environ is None else environ
        token = env.get("SLACK_BOT_TOKEN")
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token "
                              "(xoxb-...) from your Slack app's OAuth & Permissions page",
                              code="config.slack_token_missing")
        users = read_users(users_file) if users_file is not None else {}
        return cls(
            bot_token=token,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=env.get("SLACK_API_URL") or None,
            users=users,
            **options,  # type: ignore[arg-type]
        )


def read_users(path: Path) -> dict[str, str]:
    """A YAML mapping of Slack user ids or emails to catalog user names."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the Slack users file {path}: {error}",
                          code="config.slack_users") from error
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
    ):
        raise ConfigError(f"{path} must map Slack user ids or emails to catalog user names, "
                          "e.g. `U012AB3CD: ana`", code="config.slack_users")
    return dict(loaded)
