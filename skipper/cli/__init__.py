"""The `skipper` command line: thin commands over the Python API."""

from __future__ import annotations

import typer

from skipper.cli import ask_cmd, audit_cmd, catalog_cmd, demo_cmd, eval_cmd, slack_cmd, sql_cmd

app = typer.Typer(
    name="skipper",
    help="Ask questions about your data; get correct, auditable answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _version(value: bool) -> None:
    if value:
        from skipper import __version__

        typer.echo(f"skipper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Ask questions about your data; get correct, auditable answers."""


for _module in (ask_cmd, sql_cmd, demo_cmd, catalog_cmd, audit_cmd, eval_cmd, slack_cmd):
    _module.register(app)


def main() -> None:
    app()
