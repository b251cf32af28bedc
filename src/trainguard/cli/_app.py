"""The Typer application, its error guard and the helpers every command shares.

Commands parse, call the library, and format. Every error a user can cause
leaves as one line on stderr with exit code 2 (1 for failed verification);
anything else is a bug and says so in one line too.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import typer
from rich.console import Console

from ..errors import TrainguardError
from ..store import Store

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail_line(message: str) -> None:
    # click.echo rather than rich: messages may hold brackets rich would eat.
    click.echo(f"trainguard: error: {message}", err=True)


class GuardedGroup(typer.core.TyperGroup):
    """Turns every error into one line and an exit code; no tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrainguardError as exc:
            fail_line(str(exc))
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            fail_line("interrupted")
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("TRAINGUARD_DEBUG"):
                raise
            fail_line(
                f"internal error: {type(exc).__name__}: {exc} (TRAINGUARD_DEBUG=1 shows a traceback)"
            )
            ctx.exit(3)

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.ClickException as exc:
            fail_line(exc.format_message().replace("\n", " "))
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            fail_line("aborted")
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=GuardedGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Keep, and prove, the promise that customer content never trains AI models.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        help="Store URL or SQLite path (default: $TRAINGUARD_DB, else ./trainguard.db).",
        show_default=False,
    ),
) -> None:
    ctx.obj = {"db": db}


def open_store(ctx: typer.Context, *, ready: bool = True) -> Store:
    root = ctx.find_root()
    obj = root.obj or {}
    store = obj.get("store")
    if store is None:
        store = Store(obj.get("db"))
        obj["store"] = store
        root.obj = obj
    if ready:
        store.check_ready()
    return store  # type: ignore[no-any-return]


def split_csv(values: list[str] | None) -> list[str]:
    """Options that take P[,P] may also be repeated."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out
