"""The docs are complete: every command documented, the CLI reference current,
the README's two commands true to the Makefile."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import trainguard

ROOT = Path(__file__).resolve().parents[1]


def _gen() -> object:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_generated_and_current() -> None:
    gen = _gen()
    assert (ROOT / "docs" / "cli.md").read_text() == gen.render(), (  # type: ignore[attr-defined]
        "docs/cli.md is stale: run python scripts/gen_cli_docs.py"
    )


def test_readme_opens_with_the_two_commands_and_they_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert "make demo" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_public_name_is_exported() -> None:
    for name in trainguard.__all__:
        assert hasattr(trainguard, name), name


def test_changelog_names_this_version() -> None:
    assert f"## {trainguard.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def _readme_commands() -> list[list[str]]:
    """Every `trainguard …` command line in the README's shell blocks, as words."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    lines: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("trainguard "):
                lines.append(shlex.split(line))
    return lines


def test_every_readme_command_and_option_exists() -> None:
    import typer

    from trainguard.cli import app

    root = typer.main.get_command(app)
    commands = _readme_commands()
    assert len(commands) > 10
    for words in commands:
        command: Any = root
        rest = words[1:]
        # Groups are told by their subcommands (Typer carries its own fork of click).
        while hasattr(command, "commands") and rest and rest[0] in command.commands:
            command = command.commands[rest.pop(0)]
        assert not hasattr(command, "commands"), f"README: {' '.join(words)}: no such command"
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        known |= {o for p in root.params for o in p.opts}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in known, (
                    f"README: {' '.join(words)}: no option {word}"
                )


def test_every_figure_in_the_readme_names_a_command_that_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Current figures", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert rows
    for row in rows:
        command = row.rstrip(" |").rsplit("|", 1)[1].strip().strip("`")
        script = command.split()[1]
        assert command.startswith("python bench/") and (ROOT / script).is_file(), row
    # Each benchmark named is one `make bench` runs.
    run_all = (ROOT / "bench" / "run_all.py").read_text()
    for row in rows:
        assert Path(row.rsplit("`", 2)[1].split()[1]).name in run_all, row
