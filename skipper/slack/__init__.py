"""Skipper in Slack: a Bolt app answering mentions, DMs and `/skipper` in threads."""

from skipper.slack.bot import SkipperBot, create_app
from skipper.slack.settings import SlackSettings

__all__ = ["SkipperBot", "SlackSettings", "create_app"]
