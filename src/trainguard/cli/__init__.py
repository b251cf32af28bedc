"""Command-line interface: thin adapters over the library."""

from __future__ import annotations

from . import apikey, audit, core, demo, explain, gate, gateway, scan, serve  # noqa: F401  (registers the commands)
from ._app import app


def main() -> None:
    # Each command's parameters are built only when it runs (see _lazy.py).
    import typer

    from ._lazy import root_group

    try:
        group = root_group(app)
    except (AttributeError, TypeError):  # see _lazy.py: Typer's builders moved
        group = typer.main.get_command(app)
    group()


__all__ = ["app", "main"]
