"""Placeholder: the owner of this command group replaces this module."""

import typer


def register(app: typer.Typer) -> None:
    return None
