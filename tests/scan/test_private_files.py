"""Files that hold personal data are private whatever the umask: the registry (item
ids, categories), the keys, the store (consent events, subjects), the signing key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainguard.audit.note import Signer
from trainguard.scan import KeyRing, Registry
from trainguard.store import Store

TEXT = " ".join(f"word{i}" for i in range(60))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: anything not created private would be world-writable."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_registry_folder_and_every_file_in_it_are_private(open_umask: None, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [("a-1", TEXT, "customer.chat")])
    registry.add_reference(["public words " * 10])
    registry.add("acme", [("a-2", TEXT + " more words here", None)])
    registry.remove("acme", "a-1")
    registry.compact()
    assert mode(registry.path) == 0o700
    files = list(registry.path.iterdir())
    assert {f.name for f in files} >= {"registry.json", "items.jsonl", "reference.npy", ".lock"}
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_an_existing_registry_folder_is_made_private_on_the_next_write(
    open_umask: None, tmp_path: Path
) -> None:
    (tmp_path / "registry").mkdir(mode=0o777)
    Registry(tmp_path / "registry", KeyRing(tmp_path / "keys")).add("acme", [("a", TEXT, None)])
    assert mode(tmp_path / "registry") == 0o700


def test_key_files_are_private(open_umask: None, tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    ring.key("acme", create=True)
    ring.platform_key(create=True)
    assert mode(ring.path) == 0o700
    assert [mode(f) for f in ring.path.iterdir()] == [0o600, 0o600]


def test_the_audit_signing_key_is_private(open_umask: None, tmp_path: Path) -> None:
    Signer.generate("log.example").save(tmp_path / "signing.key")
    assert mode(tmp_path / "signing.key") == 0o600


def test_the_sqlite_store_and_its_wal_and_shm_files_are_private(
    open_umask: None, tmp_path: Path
) -> None:
    db = tmp_path / "trainguard.db"
    store = Store(str(db))
    store.init()
    with store.read():  # a reader keeps the WAL and its index open
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(f.exists() for f in files)
        assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    store.engine.dispose()
