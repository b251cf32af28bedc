"""The Typer application, its error guard and the helpers every command shares.

Commands parse, call the library, and format. A command module imports only
typer, the standard library and small trainguard modules at its top; what a
command needs beyond that (the store, the scanner, Arrow, numba) it imports
when it runs, so `trainguard --help` and a single decision start fast. Every error a user can cause
leaves as one line on stderr with exit code 2 (1 for failed verification);
anything else is a bug and says so in one line too.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, cast

import typer

from ..errors import TrainguardError
from ..limits import MAX_INT64, one_line, shown, text_problem

if TYPE_CHECKING:
    from rich.console import Console

    from ..store import Store

REGISTRY_HELP = "Registry folder (default: $TRAINGUARD_REGISTRY, else ./trainguard-registry)."
KEYS_HELP = "Key folder, kept apart (default: $TRAINGUARD_KEYS, else ./trainguard-keys)."


class _ConsoleOnFirstUse:
    """A rich Console made when something is first printed: `--help` prints
    through click, and need not import rich at all."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself (for rich objects that keep it, like a Progress)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console = cast("Console", _ConsoleOnFirstUse(highlight=False, soft_wrap=True))
err_console = cast("Console", _ConsoleOnFirstUse(stderr=True, highlight=False, soft_wrap=True))


def real_console(c: Console) -> Console:
    """``c`` itself when it is made on first use (rich objects that keep a console
    want the real one)."""
    return c.get() if isinstance(c, _ConsoleOnFirstUse) else c


def fail_line(message: str) -> None:
    # typer.echo rather than rich: messages may hold brackets rich would eat. One
    # line, whatever the message holds, and printable on any stderr (a lone
    # surrogate from argv would otherwise fail to encode).
    typer.echo(f"trainguard: error: {one_line(message)}", err=True)


def argv_problem(args: list[str]) -> str | None:
    """The first argument no command can take: one that is not valid UTF-8 (the
    shell passed bytes Python could only decode to lone surrogates) or holds a NUL."""
    for arg in args:
        problem = text_problem(arg)
        if problem is not None:
            return f"argument {shown(arg, 40)} {problem}"
    return None


class GuardedGroup(typer.core.TyperGroup):
    """Turns every error into one line and an exit code; no tracebacks."""

    # Typer carries its own fork of click: its exceptions are typer.Exit,
    # typer.Abort and subclasses of typer.TyperException (usage errors).
    def invoke(self, ctx: Any) -> Any:
        try:
            rv = super().invoke(ctx)
            _sign_appended(ctx)
            return rv
        except TrainguardError as exc:
            _sign_appended(ctx)
            fail_line(str(exc))
            ctx.exit(exc.exit_code)
        except typer.Exit:
            # A command that ends with its own exit code (decide: 0 allowed, 1
            # denied) appended all the same: its entries are signed like any other's.
            _sign_appended(ctx)
            raise
        except (typer.TyperException, typer.Abort):
            raise
        except KeyboardInterrupt:
            fail_line("interrupted")
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("TRAINGUARD_DEBUG"):
                raise
            if isinstance(exc, OSError) and exc.filename is not None:
                # An error about a path the user named (a missing file, a folder where
                # a file belongs, no permission, a name too long): commands name these
                # themselves where they can; this is the net for any place that does not.
                fail_line(f"{exc.filename}: {exc.strerror or type(exc).__name__}")
                ctx.exit(2)
            fail_line(
                f"internal error: {type(exc).__name__}: {exc} (TRAINGUARD_DEBUG=1 shows a traceback)"
            )
            ctx.exit(3)

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        argv = list(sys.argv[1:] if args is None else args)
        problem = argv_problem([str(a) for a in argv])
        if problem is not None:
            fail_line(problem)
            sys.exit(2)
        try:
            rv = super().main(argv, *rest, **kwargs)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # A group run without a subcommand prints its help; that is not an error.
                typer.echo(exc.format_message())
                sys.exit(0)
            fail_line(exc.format_message().replace("\n", " "))
            sys.exit(exc.exit_code)
        except typer.Abort:
            fail_line("aborted")
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


# Help is click's plain text rather than typer's rich panels: rendering those
# imports rich's Markdown and traceback modules, which alone take longer than
# `trainguard --help` may take in all.
HELP_MARKUP = None


def command_group(help: str) -> typer.Typer:
    """A group of subcommands (``trainguard policy ...``), formatted like the root."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=HELP_MARKUP)


app = typer.Typer(
    cls=GuardedGroup,
    rich_markup_mode=HELP_MARKUP,
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
    # A program that runs the CLI in process may pass an open store as obj["store"];
    # --db names another one.
    obj = dict(ctx.obj or {})
    if db is not None:
        obj.pop("store", None)
    obj["db"] = db
    ctx.obj = obj


def _sign_appended(ctx: Any) -> None:
    """A command that appended to the audit log leaves it signed, when a key is at hand."""
    store = (ctx.find_root().obj or {}).get("store")
    if store is not None:
        from .audit import sign_appended

        sign_appended(store)


def open_store(ctx: typer.Context, *, ready: bool = True) -> Store:
    root = ctx.find_root()
    obj = root.obj or {}
    store = obj.get("store")
    if store is None:
        from ..store import Store

        store = Store(obj.get("db"))
        obj["store"] = store
        root.obj = obj
    if ready:
        store.check_ready()
    return store


def recording_store(ctx: typer.Context) -> Store | None:
    """The store to record an event in: the one named by --db or $TRAINGUARD_DB
    (which must be initialized), else ./trainguard.db if there is one, else none."""
    root = ctx.find_root()
    obj = root.obj or {}
    named = obj.get("db") or os.environ.get("TRAINGUARD_DB")
    if named is None and obj.get("store") is None and not os.path.exists("trainguard.db"):
        return None
    return open_store(ctx)


def index_value(value: int | None) -> int | None:
    """An index or tree size: 0 to 2**63-1, what the store's integers hold (a
    callback rather than min/max keeps the 19-digit range out of the help)."""
    if value is not None and not 0 <= value <= MAX_INT64:
        raise typer.BadParameter(f"{value} is not between 0 and 2**63-1")
    return value


def split_csv(values: list[str] | None) -> list[str]:
    """Options that take P[,P] may also be repeated."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def split_identities(values: list[str] | None) -> list[str]:
    """Like :func:`split_csv`, but nothing is trimmed: ``'bob '`` is not ``bob``,
    and the identity check says so instead of quietly answering for someone else."""
    return [p for v in values or [] for p in v.split(",") if p != ""]
