"""The docs are complete: every command documented, the CLI reference current,
the README's two commands true to the Makefile."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

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
