"""The root command group, each subcommand built when it is first asked for.

Typer turns every command's signature into click parameters before it reads
the first argument: for all the commands of the CLI that took tens of
milliseconds of every start, `trainguard decide` included. Here the root group
is built alone, and Typer builds a command or a group of commands when click
asks for it by name. `--help`, which lists them all, builds them all, and
prints what it always did (tests/cli/test_lazy.py holds the two together).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, MutableMapping
from functools import partial
from typing import Any

import typer
import typer.main as typer_main


class LazyCommands(MutableMapping[str, Any]):
    """Commands by name, in the order they were registered, each made on first use."""

    def __init__(self) -> None:
        self._makers: dict[str, Callable[[], Any]] = {}
        self._made: dict[str, Any] = {}

    def later(self, name: str, make: Callable[[], Any]) -> None:
        self._makers[name] = make
        self._made.pop(name, None)

    def __getitem__(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = self._makers[name]()
        return self._made[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._makers[name] = lambda: command
        self._made[name] = command

    def __delitem__(self, name: str) -> None:
        del self._makers[name]
        self._made.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def root_group(app: typer.Typer) -> Any:
    """The click group of ``app``, as ``typer.main.get_command`` builds it, but with
    every command and sub-group built on first use."""
    short, markup = app.pretty_exceptions_short, app.rich_markup_mode
    commands = LazyCommands()
    # In Typer's order: the commands, then the groups (a later name wins).
    for info in app.registered_commands:
        if info.callback is None:
            return typer_main.get_command(app)
        name = info.name or typer_main.get_command_name(info.callback.__name__)
        commands.later(
            name,
            partial(
                typer_main.get_command_from_info,
                info,
                pretty_exceptions_short=short,
                rich_markup_mode=markup,
            ),
        )
    for group in app.registered_groups:
        if not isinstance(group.name, str):  # named by its own Typer: leave it to Typer
            return typer_main.get_command(app)
        commands.later(
            group.name,
            partial(
                typer_main.get_group_from_info,
                group,
                pretty_exceptions_short=short,
                rich_markup_mode=markup,
                suggest_commands=app.suggest_commands,
            ),
        )
    eager: list[Any] = []

    def made(name: str, make: Callable[[], Any]) -> Any:
        # These builders are Typer's own but not its documented API: should a Typer
        # release change them, build every command the documented way instead.
        try:
            return make()
        except (AttributeError, TypeError):
            if not eager:
                eager.append(typer_main.get_command(app))
            return eager[0].commands[name]

    for name in list(commands):
        commands.later(name, partial(made, name, commands._makers[name]))
    bare = copy.copy(app)
    bare.registered_commands = []
    bare.registered_groups = []
    root = typer_main.get_command(bare)
    root.commands = commands  # type: ignore[attr-defined]
    return root
