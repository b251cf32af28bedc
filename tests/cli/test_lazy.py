"""The root group the `trainguard` program runs builds each command when it is
asked for (cli/_lazy.py), and says exactly what Typer's eager group says: the
same commands in the same order, the same help for every group and command, the
same errors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import typer.main

from trainguard.cli import app, main
from trainguard.cli._lazy import root_group


def helps(group: Any, ctx: Any = None, path: str = "trainguard") -> dict[str, str]:
    """Every group's and command's help under ``group``, by its command line."""
    here = group.make_context(path.rsplit(" ", 1)[-1], [], parent=ctx, resilient_parsing=True)
    out = {path: group.get_help(here)}
    for name in group.list_commands(here) if hasattr(group, "list_commands") else []:
        out.update(helps(group.get_command(here, name), here, f"{path} {name}"))
    return out


def test_every_help_is_the_eager_groups() -> None:
    eager, lazy = helps(typer.main.get_command(app)), helps(root_group(app))
    assert list(lazy) == list(eager)
    assert len(eager) > 50 and "trainguard decide" in eager
    for path, text in eager.items():
        assert lazy[path] == text, path


def test_only_the_command_asked_for_is_built() -> None:
    root = root_group(app)
    ctx = root.make_context("trainguard", [], resilient_parsing=True)
    assert root.get_command(ctx, "decide").name == "decide"
    assert set(root.commands._made) == {"decide"}
    assert root.get_command(ctx, "no-such-command") is None


@pytest.mark.parametrize(
    "argv", [["polcy", "list"], ["decide", "--tenant"], ["decide", "--nope"], ["--help"]]
)
def test_the_program_answers_as_before(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = []
    for run in (lambda: typer.main.get_command(app)(), main):
        monkeypatch.setattr("sys.argv", ["trainguard", *argv])
        with pytest.raises(SystemExit) as exit:
            run()
        answers.append((exit.value.code, *capsys.readouterr()))
    assert answers[0] == answers[1]
    assert answers[0][0] in (0, 2)


def test_if_typers_builders_change_every_command_is_built_the_documented_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lazy group leans on Typer builders outside its documented API: a Typer
    release that changed them must cost start-up time, never a command."""

    def changed(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("unexpected keyword argument")

    typer_now = SimpleNamespace(
        get_command=typer.main.get_command,
        get_command_name=typer.main.get_command_name,
        get_command_from_info=changed,
        get_group_from_info=changed,
    )
    monkeypatch.setattr("trainguard.cli._lazy.typer_main", typer_now)
    root = root_group(app)
    ctx = root.make_context("trainguard", [], resilient_parsing=True)
    assert root.get_command(ctx, "decide").name == "decide"
    assert root.get_command(ctx, "audit").get_command(ctx, "verify").name == "verify"
    assert helps(root) == helps(typer.main.get_command(app))
