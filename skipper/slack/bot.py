"""The Slack bot: mentions, DMs and `/skipper` answered in threads, a Skipper session per thread."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from skipper.errors import ConfigError, SkipperError
from skipper.slack.message import (
    CHOICE_ACTION,
    Block,
    answer_message,
    escape,
    notice_message,
)
from skipper.slack.people import People, Throttle
from skipper.slack.settings import SlackSettings

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from skipper.answer import Answer
    from skipper.app import Skipper
    from skipper.session import Session

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
THUMBS_UP = {"+1", "thumbsup"}
MAX_THREADS = 1000
HELP = ("Ask me a question about the data in plain English, e.g. "
        "“spend by product last month”. Reply in the thread to refine it (“now by region”).")


@dataclass(frozen=True)
class Asked:
    """An answer the bot posted: what a thumbs-up on it would remember."""

    question: str
    sql: str
    user: str
    thread_ts: str


class SkipperBot:
    """The bot's behaviour, independent of how Slack reaches it (HTTP or Socket Mode).

    Skipper runs one question at a time (a lock), so an engine need not be thread-safe.
    """

    def __init__(self, skipper: Skipper, settings: SlackSettings) -> None:
        self.skipper = skipper
        self.settings = settings
        self.people = People(skipper.catalog, settings.users)
        self.throttle = Throttle(settings.rate_limit, settings.rate_window_s)
        self._lock = threading.Lock()
        self._sessions: OrderedDict[tuple[str, str, str], Session] = OrderedDict()
        self._answered: OrderedDict[tuple[str, str], Asked] = OrderedDict()

    # ---- wiring -------------------------------------------------------------------------
    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("reaction_added")(self.on_reaction)
        app.command("/skipper")(self.on_command)
        app.action(re.compile(f"^{CHOICE_ACTION}\\d+$"))(self.on_choice)

    # ---- listeners (Bolt acknowledges events before calling these) ----------------------
    def on_mention(self, event: dict[str, Any], client: WebClient, request: Any) -> None:
        if _is_retry(request):
            return
        self.answer(_question(event.get("text", "")), event["user"], event["channel"],
                    event.get("thread_ts") or event["ts"], client, message_ts=event["ts"])

    def on_message(self, event: dict[str, Any], client: WebClient, request: Any) -> None:
        """DMs always; in channels, replies in a thread the bot is answering (no mention
        needed: mentions arrive as app_mention)."""
        if _is_retry(request) or event.get("subtype") or event.get("bot_id"):
            return
        user, channel, text = event.get("user"), event.get("channel"), event.get("text", "")
        if not user or not channel:
            return
        thread = event.get("thread_ts")
        in_thread = bool(thread) and self._has_thread(channel, thread or "")
        if event.get("channel_type") != "im" and (not in_thread or MENTION.search(text)):
            return
        self.answer(_question(text), user, channel, thread or event["ts"], client,
                    message_ts=event["ts"])

    def on_command(self, ack: Any, command: dict[str, Any], client: WebClient,
                   respond: Any) -> None:
        """Acknowledge at once (Slack allows 3 s), post the question, answer in its thread."""
        question = _question(command.get("text", ""))
        if not question:
            ack(text=HELP)
            return
        ack(text=f"Looking into “{escape(question)}”…")
        user, channel = command["user_id"], command["channel_id"]
        from slack_sdk.errors import SlackApiError

        try:
            posted = client.chat_postMessage(
                channel=channel, text=f"<@{user}> asked: {escape(question)}",
                unfurl_links=False, unfurl_media=False)
        except SlackApiError as error:
            respond(response_type="ephemeral", text=_post_failed(error))
            return
        self.answer(question, user, channel, str(posted["ts"]), client)

    def on_choice(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        """A click on one reading of a question that needed clarifying: ask that reading in
        the same thread (as the person who clicked)."""
        ack()
        action = (body.get("actions") or [{}])[0]
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        question = _question(str(action.get("value", "")))
        if not channel or not user or not question:
            return
        thread = message.get("thread_ts") or message.get("ts")
        if not thread:
            return
        self.answer(question, user, channel, str(thread), client)

    def on_reaction(self, event: dict[str, Any], client: WebClient) -> None:
        """A thumbs-up on an answer keeps its question and SQL as a verified query."""
        item = event.get("item") or {}
        reaction = event.get("reaction", "").split("::")[0]
        if reaction not in THUMBS_UP or item.get("type") != "message":
            return
        asked = self._answered.get((item.get("channel", ""), item.get("ts", "")))
        remember = getattr(self.skipper, "remember", None)
        if asked is None or not asked.sql or remember is None:
            return
        channel = item["channel"]
        user = self.people.resolve(event["user"], client)
        if user is None:
            self._post(client, channel, asked.thread_ts, *notice_message(_unknown_text()))
            return
        try:
            with self._lock:
                remember(asked.question, asked.sql, user=user)
        except SkipperError as error:
            self._post(client, channel, asked.thread_ts, *_error_message(error))
            return
        self._post(client, channel, asked.thread_ts, *notice_message(
            f"Saved as a verified query: “{asked.question}” (by {user}). I'll answer it with "
            "this SQL from now on.", emoji=":white_check_mark:"))

    # ---- answering ----------------------------------------------------------------------
    def answer(self, question: str, slack_user: str, channel: str, thread_ts: str,
               client: WebClient, *, message_ts: str | None = None) -> None:
        if not question:
            self._post(client, channel, thread_ts, *notice_message(HELP))
            return
        wait = self.throttle.wait_s(slack_user)
        if wait:
            self._post(client, channel, thread_ts, *notice_message(
                f"You've asked {self.settings.rate_limit} questions in the last "
                f"{self.settings.rate_window_s:.0f} seconds; please ask again in "
                f"{max(1, round(wait))} seconds.", emoji=":hourglass:"))
            return
        user = self.people.resolve(slack_user, client)
        if user is None:
            self._post(client, channel, thread_ts, *notice_message(_unknown_text(),
                                                                  emoji=":lock:"))
            return
        if message_ts:
            _react(client, channel, message_ts, "eyes")
        try:
            with self._lock:
                answer = self._session(channel, thread_ts, user).ask(question)
        except SkipperError as error:
            self._post(client, channel, thread_ts, *_error_message(error))
            return
        except Exception:
            log.exception("answering %r failed", question)
            self._post(client, channel, thread_ts, *notice_message(
                "Something went wrong on my side while answering. Please try again; if it "
                "keeps happening, tell the Skipper admins (the bot's log has the details).",
                emoji=":warning:"))
            return
        text, blocks = answer_message(answer, max_rows=self.settings.table_rows)
        posted = self._post(client, channel, thread_ts, text, blocks)
        if posted is not None and answer.status == "ok":
            self._remember_post(channel, posted, Asked(question, answer.sql, user, thread_ts))
            self._upload_chart(client, channel, thread_ts, answer)

    def _session(self, channel: str, thread_ts: str, user: str) -> Session:
        key = (channel, thread_ts, user)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = self.skipper.session(user=user)
        self._sessions.move_to_end(key)
        while len(self._sessions) > MAX_THREADS:
            self._sessions.popitem(last=False)
        return session

    def _has_thread(self, channel: str, thread_ts: str) -> bool:
        return any(key[0] == channel and key[1] == thread_ts for key in list(self._sessions))

    def _remember_post(self, channel: str, ts: str, asked: Asked) -> None:
        self._answered[(channel, ts)] = asked
        while len(self._answered) > MAX_THREADS:
            self._answered.popitem(last=False)

    def _post(self, client: WebClient, channel: str, thread_ts: str, text: str,
              blocks: list[Block]) -> str | None:
        from slack_sdk.errors import SlackApiError

        try:
            response = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text,
                                               blocks=blocks, unfurl_links=False,
                                               unfurl_media=False)
        except SlackApiError as error:
            log.warning("chat.postMessage failed: %s", error.response.get("error"))
            return None
        return str(response.get("ts"))

    def _upload_chart(self, client: WebClient, channel: str, thread_ts: str,
                      answer: Answer) -> None:
        if not self.settings.charts:
            return
        try:
            from skipper.chart import chart, chart_image

            made = chart(answer, self.skipper.catalog)
            if made is None:
                return
            png = chart_image(made, "png")
            title = str(made.to_dict().get("title", "Chart"))
            client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=png,
                                   filename="chart.png", title=title)
        except ConfigError as error:  # no charts extra: answer without the image
            log.info("no chart: %s", error.message)
        except Exception:
            log.exception("chart upload failed")


def _question(text: str) -> str:
    return " ".join(MENTION.sub(" ", text).split())


def _is_retry(request: Any) -> bool:
    """Slack resends an event it thinks we missed; the first delivery is being answered."""
    headers = getattr(request, "headers", None) or {}
    return bool(headers.get("x-slack-retry-num"))


def _react(client: WebClient, channel: str, ts: str, name: str) -> None:
    from slack_sdk.errors import SlackApiError

    with contextlib.suppress(SlackApiError):
        client.reactions_add(channel=channel, timestamp=ts, name=name)


def _unknown_text() -> str:
    return ("Sorry, I can't answer for you yet: your Slack account isn't linked to a Skipper "
            "user. Ask your data team to add your email to the catalog's users (or to the "
            "bot's user mapping), then ask again.")


def _error_message(error: SkipperError) -> tuple[str, list[Block]]:
    return notice_message(f"I couldn't answer that: {error.message} ({error.code})",
                          emoji=":warning:")


def _post_failed(error: Any) -> str:
    code = error.response.get("error") if getattr(error, "response", None) else None
    if code in ("not_in_channel", "channel_not_found"):
        return ("I can't post in this channel. Invite me with `/invite @Skipper`, or send me "
                "a direct message.")
    return f"I couldn't post the answer here ({code}). Try a direct message instead."


def create_app(
    skipper: Skipper,
    settings: SlackSettings,
    *,
    mode: Literal["http", "socket"] = "http",
) -> App:
    """A Bolt app answering from ``skipper``; its Web API goes to ``settings.api_url`` if set.

    HTTP mode verifies each request's signature with the signing secret (401 otherwise).
    """
    try:
        from slack_bolt import App
        from slack_sdk import WebClient
    except ImportError as error:
        raise ConfigError("the Slack bot needs the slack extra: pip install 'skipper[slack]'",
                          code="config.missing_extra", extra="slack") from error
    if mode == "http" and not settings.signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your "
                          "Slack app's Basic Information page (or use Socket Mode)",
                          code="config.slack_secret_missing")
    base_url = settings.api_url or WebClient.BASE_URL
    client = WebClient(token=settings.bot_token,
                       base_url=base_url if base_url.endswith("/") else base_url + "/")
    app = App(client=client, signing_secret=settings.signing_secret,
              request_verification_enabled=mode == "http",
              ignoring_self_events_enabled=True)
    SkipperBot(skipper, settings).register(app)
    return app
