"""`skipper slack`: run the Slack bot over HTTP (/slack/events) or Socket Mode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skipper.cli.output import console, fail
from skipper.errors import ConfigError, SkipperError


def slack(
    catalog: Annotated[Path | None, typer.Option(
        "--catalog", help="Catalog directory (default: the demo's).")] = None,
    database: Annotated[Path | None, typer.Option(
        "--database", help="DuckDB file (default: the demo lake).")] = None,
    port: Annotated[int | None, typer.Option(
        help="Serve Slack's HTTP requests at /slack/events on this port (default 3000).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on in HTTP mode.")] = "127.0.0.1",
    socket: Annotated[bool, typer.Option(
        "--socket", help="Use Socket Mode (needs SLACK_APP_TOKEN) instead of HTTP.")] = False,
    users: Annotated[Path | None, typer.Option(
        "--users", help="YAML mapping of Slack user ids or emails to catalog users.")] = None,
    rate_limit: Annotated[int, typer.Option(
        help="Questions per person per minute.")] = 10,
    max_rows: Annotated[int, typer.Option(help="Return at most this many rows.")] = 1000,
) -> None:
    """Run the Slack bot. Tokens come from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (HTTP mode),
    SLACK_APP_TOKEN (Socket Mode) and SLACK_API_URL (another Web API base URL)."""
    if socket and port is not None:
        fail(ConfigError("give either --port (HTTP mode) or --socket, not both",
                         code="config.slack_mode"))
    try:
        from skipper.cli.options import open_skipper
        from skipper.slack import SlackSettings, create_app

        settings = SlackSettings.from_env(users_file=users, rate_limit=rate_limit)
        if socket and not settings.app_token:
            raise ConfigError("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token "
                              "(xapp-...) with the connections:write scope",
                              code="config.slack_app_token_missing")
        if not socket and not settings.signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is not set: copy the Signing Secret from "
                              "your Slack app's Basic Information page (or use --socket)",
                              code="config.slack_secret_missing")
        skipper = open_skipper(catalog, database, max_rows=max_rows)
        app = create_app(skipper, settings, mode="socket" if socket else "http")
    except SkipperError as error:
        fail(error)
    except Exception as error:  # Slack refused the token (auth.test) or could not be reached
        fail(ConfigError(f"cannot start the Slack app: {error}", code="config.slack_start"))
    try:
        if socket:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            console.print("Skipper is listening to Slack over Socket Mode (Ctrl+C to stop).")
            SocketModeHandler(app, settings.app_token).start()
        else:
            from skipper.slack.server import SlackEventServer

            listen = 3000 if port is None else port
            try:
                server = SlackEventServer(app, host=host, port=listen)
            except OSError as error:
                fail(ConfigError(f"cannot listen on {host}:{listen}: {error.strerror}; "
                                 "choose another --port", code="config.slack_port"))
            console.print(f"Skipper is listening for Slack at {server.url} (Ctrl+C to stop).",
                          highlight=False)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        skipper.close()


def register(app: typer.Typer) -> None:
    app.command("slack")(slack)
