"""The audit package owns its tables and never imports the store: store → audit only."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import trainguard.audit
from trainguard.audit import schema as audit_schema
from trainguard.store import Store
from trainguard.store import schema as store_schema

AUDIT_DIR = Path(trainguard.audit.__file__).parent
AUDIT_MODULES = sorted(f"trainguard.audit.{m.name}" for m in pkgutil.iter_modules([str(AUDIT_DIR)]))


def test_importing_any_audit_module_loads_nothing_of_the_store() -> None:
    code = (
        "import importlib, json, sys\n"
        "loaded = {}\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "    loaded[name] = sorted(m for m in sys.modules if m.startswith('trainguard.store'))\n"
        "print(json.dumps(loaded))\n"
    )
    # One interpreter per module: each is checked from a clean start.
    for name in AUDIT_MODULES:
        out = subprocess.run(
            [sys.executable, "-c", code, name], capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == {name: []}


def test_no_audit_module_names_the_store_even_for_type_checking() -> None:
    """The runtime check above cannot see imports under TYPE_CHECKING; this one can."""
    offenders = []
    for path in sorted(AUDIT_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                names = [target]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[-1] == "store"
                          or n.startswith(("trainguard.store", "..store"))]  # fmt: skip
    assert offenders == []


def test_the_store_schema_builds_on_the_audit_schema() -> None:
    assert store_schema.metadata is audit_schema.metadata
    assert store_schema.audit_entries is audit_schema.audit_entries
    assert store_schema.audit_checkpoints is audit_schema.audit_checkpoints
    assert store_schema.audit_head is audit_schema.audit_head
    # Every table the state check reads is one the store defines, and nothing else.
    log_tables = {"tg_audit_entries", "tg_audit_checkpoints", "tg_audit_head"}
    assert set(audit_schema.STATE_TABLES) == set(store_schema.metadata.tables) - log_tables


def test_the_migrations_create_exactly_the_tables_the_code_defines(any_store: Store) -> None:
    """What `alembic check` would say: no difference between the migrated database and
    the table definitions, on each backend (so no new migration is needed)."""
    with any_store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), store_schema.metadata)
    assert differences == []
