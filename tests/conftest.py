"""Shared fixtures: a fresh store per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.demo.sample_data import read_meetings
from trainguard.store import Store

# No timing thresholds in tests: these machines are shared and noisy, and the
# first example of a test may include a numba compilation.
settings.register_profile("trainguard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("trainguard")

# Under NUMBA_DISABLE_JIT=1 (make test-nojit) the kernels run as plain Python on
# NumPy scalars. Compiled, 64-bit arithmetic wraps silently (hashes rely on it);
# NumPy scalars wrap the same way but warn, and the warning would fail the test.
if numba.config.DISABLE_JIT:
    np.seterr(over="ignore")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start Ray run on one pytest-xdist worker (``--dist loadgroup``): one
    local Ray cluster, started once, instead of one per worker on a two-core machine.

    Under NUMBA_DISABLE_JIT=1, skip (visibly) the tests marked ``jit_only``: they run
    real data through the kernels, minutes each as plain Python. The kernels' own
    property tests still run there."""
    for item in items:
        if item.get_closest_marker("ray"):
            item.add_marker(pytest.mark.xdist_group("ray"))
    if not numba.config.DISABLE_JIT:
        return
    skip = pytest.mark.skip(reason="jit_only: too slow with NUMBA_DISABLE_JIT=1")
    for item in items:
        if item.get_closest_marker("jit_only"):
            item.add_marker(skip)


PG_URL = os.environ.get("TRAINGUARD_TEST_DATABASE_URL")
PG_SKIP = "PostgreSQL tests need TRAINGUARD_TEST_DATABASE_URL (CI sets it to 127.0.0.1:5432)"
# Real meeting transcripts kept in the repository (tests/data/README.md says which).
MEETINGS = Path(__file__).parent / "data" / "qmsum-sample.jsonl.gz"


def meeting_rows() -> list[dict[str, Any]]:
    """The sample's meetings, in its order: ``{"meeting_id": …, "turns": […]}``."""
    return read_meetings(MEETINGS)


def _pg_store() -> Iterator[Store]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    from trainguard.store.store import resolve_url

    schema = f"tg_test_{uuid.uuid4().hex[:12]}"
    url = resolve_url(PG_URL)
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        store = Store(url, engine=engine)
        store.init()
        yield store
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, initialized store on each backend."""
    if request.param == "sqlite":
        store = Store(str(tmp_path / "t.db"))
        store.init()
        yield store
        store.engine.dispose()
    else:
        yield from _pg_store()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store (for tests that are about logic, not the backend)."""
    s = Store(str(tmp_path / "t.db"))
    s.init()
    yield s
    s.engine.dispose()


@pytest.fixture
def policy_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "policies"
    folder.mkdir()
    files = copy_policy_files(folder)
    return {f.name.split("-")[0]: f for f in files}


@pytest.fixture
def timeline_store(store: Store, policy_files: dict[str, Path]) -> Store:
    """A store holding v1–v3 of the design's timeline, the default terms of every tenant."""
    store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    store.set_default_family("meetco-terms")
    return store
