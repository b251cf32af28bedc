"""What starting a command costs in imports: `trainguard --help` and a single
decision load neither the compiled kernels nor Arrow, and the standalone
verifier loads nothing of the store. Each check runs in a fresh interpreter and
reads its sys.modules; how long that takes is measured by bench/bench_startup.py,
not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Whole packages a command may not load, by the first part of their names.
NOT_AT_START = ("numba", "llvmlite", "pyarrow", "sqlalchemy", "alembic", "fastapi", "numpy", "rich")
NOT_FOR_A_DECISION = (
    "numba",
    "llvmlite",
    "numpy",
    "pyarrow",
    "alembic",
    "fastapi",
    "fsspec",
    "rich",
    "yaml",
    # A SQLite store is read and written through sqlite3 (trainguard.store.lite).
    "sqlalchemy",
    "asyncio",
    # Appending an entry needs no signing code (a checkpoint does).
    "cryptography",
)
NOT_FOR_THE_VERIFIER = ("numba", "sqlalchemy", "pyarrow", "numpy", "trainguard.store")


def loaded_after(code: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded once ``code`` has run (a SystemExit from a CLI included)."""
    program = (
        "import json, sys\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except SystemExit:\n    pass\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


def of_packages(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_importing_the_cli_loads_no_heavy_package() -> None:
    assert of_packages(loaded_after("import trainguard.cli"), NOT_AT_START) == []


def test_help_loads_no_heavy_package() -> None:
    code = "from trainguard.cli import main\nsys.argv = ['trainguard', '--help']\nmain()"
    assert of_packages(loaded_after(code), NOT_AT_START) == []


def test_the_verifier_loads_nothing_of_the_store() -> None:
    assert of_packages(loaded_after("import trainguard.verify"), NOT_FOR_THE_VERIFIER) == []


@pytest.fixture
def store(tmp_path: Path, policy_files: dict[str, Path]) -> Path:
    from typer.testing import CliRunner

    from trainguard.cli import app

    db = tmp_path / "start.db"
    runner = CliRunner()
    for args in (["init"], ["policy", "add", str(policy_files["v3"])]):
        assert runner.invoke(app, ["--db", str(db), *args]).exit_code == 0
    assert runner.invoke(app, ["--db", str(db), "policy", "default", "meetco-terms"]).exit_code == 0
    return db


def test_a_decision_loads_no_kernel_arrow_or_scanner(store: Path) -> None:
    code = (
        "from trainguard.cli import main\n"
        f"sys.argv = ['trainguard', '--db', {str(store)!r}, 'decide', '--tenant', 'acme',"
        " '--category', 'customer.chat', '--use', 'train.first_party',"
        " '--collected-at', '2024-01-01T00:00:00Z']\n"
        "main()"
    )
    from trainguard.store import Store

    size = Store(str(store)).audit.size()
    loaded = loaded_after(code, cwd=store.parent, env={"TRAINGUARD_AUDIT_KEY": "none.key"})
    assert "trainguard.decision.decide" in loaded  # it did decide
    assert Store(str(store)).audit.size() == size + 1  # and logged the decision
    assert of_packages(loaded, (*NOT_FOR_A_DECISION, "trainguard.scan")) == []


def test_the_help_shows_the_logs_own_default_of_unsigned_entries() -> None:
    """cli/audit.py writes the default out rather than import the signing code for it."""
    from trainguard.audit.keys import DEFAULT_MAX_UNSIGNED
    from trainguard.cli import audit

    assert audit.DEFAULT_MAX_UNSIGNED == DEFAULT_MAX_UNSIGNED
