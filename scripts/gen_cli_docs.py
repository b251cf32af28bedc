"""Write docs/cli.md from the CLI's own --help, so the reference cannot drift.

Run: python scripts/gen_cli_docs.py (tests/test_docs.py checks it is current).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from trainguard.cli import app

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands(group: typer.core.TyperGroup, prefix: list[str]) -> list[list[str]]:
    out = []
    ctx = typer.Context(group)
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        path = [*prefix, name]
        out.append(path)
        if isinstance(cmd, typer.core.TyperGroup):
            out.extend(commands(cmd, path))
    return out


def render() -> str:
    runner = CliRunner()
    root = typer.main.get_command(app)
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n",
        "Exit codes everywhere: 0 success (for `decide`: allowed), 1 for `decide`: denied "
        "(for `audit verify` and `scan --fail-on-findings`: a failed check), 2 bad input: "
        "one line on stderr naming the input and the problem. Exit 3 is a bug. The bounds "
        "on input are in [limits.md](limits.md).\n",
    ]
    for path in [[], *commands(root, [])]:  # type: ignore[arg-type]
        result = runner.invoke(
            app,
            [*path, "--help"],
            prog_name="trainguard",
            env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"},
        )
        body = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
        title = " ".join(["trainguard", *path])
        parts.append(f"## `{title}`\n\n```text\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
