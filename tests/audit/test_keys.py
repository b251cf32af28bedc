"""What verify trusts: the key the log pins, its signed successors, a checkpoint seen before.

Each attack is made the way someone with write access to the database would
make it, and must fail verification with a line that says what happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from trainguard.audit.keys import PIN_KIND, ROTATION_KIND, pin_data, rotation_data
from trainguard.audit.merkle import MerkleTree, leaf_hash
from trainguard.audit.note import Checkpoint, Signer
from trainguard.canonical import canonical_json
from trainguard.errors import ConflictError, InputError
from trainguard.store import Store
from trainguard.store import schema as t


def fill(store: Store, n: int) -> None:
    store.audit.record_many([("test.event", {"i": i}) for i in range(n)])


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("test-log")


@pytest.fixture
def pinned(any_store: Store, signer: Signer) -> Store:
    """A store whose log pins ``signer`` (entry 1, after the log's origin) and holds
    nine signed entries after it: eleven in all."""
    any_store.audit.pin_key(signer)
    fill(any_store, 9)
    any_store.audit.checkpoint(signer)
    return any_store


def failed(store: Store, *words: str, **kwargs: Any) -> str:
    report = store.audit.verify(**kwargs)
    assert not report.ok, "verify passed"
    problem = report.problem or ""
    for w in words:
        assert w in problem, problem
    return problem


def execute(store: Store, *statements: Any) -> None:
    with store.write() as conn:
        for s in statements:
            conn.execute(s)


def checkpoint_notes(store: Store) -> dict[int, str]:
    with store.read() as conn:
        rows = conn.execute(select(t.audit_checkpoints.c.size, t.audit_checkpoints.c.note))
        return {int(r[0]): str(r[1]) for r in rows}


def append_raw(store: Store, kind: str, data: dict[str, Any]) -> int:
    """An entry appended straight to the tables, as an attacker (or a bug) would."""
    with store.write() as conn:
        return store.audit.append(conn, kind, data)


# --- honest use ------------------------------------------------------------------------


def test_pinning_signing_and_rotating_verify(any_store: Store, signer: Signer) -> None:
    assert any_store.audit.pin_key(signer, max_unsigned=50)
    assert not any_store.audit.pin_key(signer)  # the same key again: nothing to do
    fill(any_store, 20)
    assert any_store.audit.checkpoint_if_due(signer, min_unsigned=21) is None
    assert any_store.audit.checkpoint_if_due(signer) is not None
    assert any_store.audit.checkpoint_if_due(signer) is None  # nothing new to sign
    new = Signer.generate("test-log-2")
    any_store.audit.rotate_key(signer, new)
    fill(any_store, 5)
    any_store.audit.checkpoint(new)
    for trusted in (None, signer.verifier, new.verifier):
        report = any_store.audit.verify(trusted)
        assert report.ok, report.problem
        assert report.keys is not None and report.keys.max_unsigned == 50
        assert "1 rotation" in report.keys.describe()
    # Before the rotation entry, checkpoints are the old key's; from it on, the new key's.
    (rotation,) = [
        i
        for i in range(any_store.audit.size())
        if any_store.audit.entry(i)["kind"] == ROTATION_KIND
    ]
    for size, note in checkpoint_notes(any_store).items():
        key = signer.verifier if size <= rotation else new.verifier
        assert key.verify(note).size == size


def test_a_checkpoint_extends_the_stored_frontier_to_the_same_root(
    any_store: Store, signer: Signer
) -> None:
    any_store.audit.pin_key(signer)
    for n in (1, 6, 31, 2, 64):
        fill(any_store, n)
        note = any_store.audit.checkpoint(signer)
        assert signer.verifier.verify(note).root == any_store.audit.tree().root()


def test_the_log_refuses_keys_it_does_not_pin(pinned: Store, signer: Signer) -> None:
    stranger = Signer.generate("test-log")
    with pytest.raises(InputError, match="is not the key the audit log pins"):
        pinned.audit.checkpoint(stranger)
    with pytest.raises(ConflictError, match="already pins key"):
        pinned.audit.pin_key(stranger)
    with pytest.raises(InputError, match="is not the key the audit log pins"):
        pinned.audit.rotate_key(stranger, Signer.generate("x"))
    pin = next(
        i for i in range(pinned.audit.size()) if pinned.audit.entry(i)["kind"] == "audit.key_pinned"
    )
    with pytest.raises(InputError, match="a key event .* cannot be erased"):
        pinned.audit.redact(pin)


# --- checkpoints dropped -------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [False, True])
def test_all_checkpoints_deleted(pinned: Store, signer: Signer, trusted: bool) -> None:
    # The thorough attacker also resets what the head records as signed.
    execute(pinned, delete(t.audit_checkpoints), update(t.audit_head).values(signed_size=0))
    verifier = signer.verifier if trusted else None
    failed(pinned, "no signed checkpoint: entries 0..10 are not covered", verifier=verifier)


def test_all_checkpoints_deleted_on_a_log_from_before_pinning(
    any_store: Store, signer: Signer
) -> None:
    # No pin in the log: the key the verifier brings stands in for it.
    fill(any_store, 5)
    execute(any_store, update(t.audit_head).values(signed_size=0))
    failed(any_store, "no signed checkpoint", verifier=signer.verifier)


def test_latest_checkpoint_deleted(pinned: Store, signer: Signer) -> None:
    fill(pinned, 3)
    pinned.audit.checkpoint(signer)
    execute(pinned, delete(t.audit_checkpoints).where(t.audit_checkpoints.c.size == 14))
    failed(pinned, "the checkpoint at size 14 is missing")


def test_a_checkpoint_deleted_between_others(pinned: Store, signer: Signer) -> None:
    for _ in range(2):
        fill(pinned, 3)
        pinned.audit.checkpoint(signer)
    execute(pinned, delete(t.audit_checkpoints).where(t.audit_checkpoints.c.size == 14))
    failed(pinned, "the checkpoint at size 14 is missing (the one at size 17 follows it)")


def test_a_rolled_back_checkpoint_is_caught_by_the_one_seen_before(
    pinned: Store, signer: Signer
) -> None:
    fill(pinned, 3)
    seen = pinned.audit.checkpoint(signer)
    # Row and head marker both rolled back: inside the database nothing is left
    # to show it, so a verifier who kept the checkpoint has to show it.
    execute(
        pinned,
        delete(t.audit_checkpoints).where(t.audit_checkpoints.c.size == 14),
        update(t.audit_head).values(signed_size=11),
    )
    assert pinned.audit.verify().ok
    failed(pinned, "the checkpoint at size 14 seen before is missing", since=seen)


def test_log_truncated_with_its_head_and_checkpoints(pinned: Store, signer: Signer) -> None:
    fill(pinned, 5)
    seen = pinned.audit.checkpoint(signer)
    execute(
        pinned,
        delete(t.audit_entries).where(t.audit_entries.c.idx >= 11),
        delete(t.audit_checkpoints).where(t.audit_checkpoints.c.size > 11),
        update(t.audit_head).values(size=11),
    )
    failed(pinned, "the checkpoint at size 16 is missing")
    execute(pinned, update(t.audit_head).values(signed_size=11))
    failed(
        pinned,
        "log shrank: a checkpoint seen before signs 16 entries, the log now holds 11",
        since=seen,
    )


# --- entries left unsigned -------------------------------------------------------------------


def test_entries_beyond_the_unsigned_limit(any_store: Store, signer: Signer) -> None:
    any_store.audit.pin_key(signer, max_unsigned=5)
    fill(any_store, 5)
    assert any_store.audit.verify().ok
    append_raw(any_store, "test.event", {"i": 5})
    failed(
        any_store, "entries 2..7 are not covered by a signed checkpoint (the log allows at most 5)"
    )
    any_store.audit.checkpoint(signer)
    assert any_store.audit.verify().ok


# --- other keys --------------------------------------------------------------------------


def _resign_checkpoints(store: Store, key: Signer) -> None:
    """Every checkpoint signed again, over the right roots, by ``key``."""
    origin = store.audit.origin()
    with store.write() as conn:
        leaves = [
            bytes(r[0])
            for r in conn.execute(
                select(t.audit_entries.c.leaf_hash).order_by(t.audit_entries.c.idx)
            )
        ]
        tree = MerkleTree(leaves)
        for size in [int(r[0]) for r in conn.execute(select(t.audit_checkpoints.c.size))]:
            note = key.sign(Checkpoint(origin, size, tree.root(size)))
            conn.execute(
                update(t.audit_checkpoints)
                .where(t.audit_checkpoints.c.size == size)
                .values(note=note, frontier=None)
            )


def _repin(store: Store, key: Signer) -> None:
    """The pin entry rewritten for ``key``, with its leaf hash, as a full rewrite would."""
    origin = store.audit.origin()
    with store.write() as conn:
        idx, body = conn.execute(
            select(t.audit_entries.c.idx, t.audit_entries.c.body).where(
                t.audit_entries.c.kind == PIN_KIND
            )
        ).one()
        entry = json.loads(bytes(body))
        entry["data"] = pin_data(key, origin, int(idx), entry["data"]["max_unsigned"])
        new_body = canonical_json(entry)
        conn.execute(
            update(t.audit_entries)
            .where(t.audit_entries.c.idx == idx)
            .values(body=new_body, leaf_hash=leaf_hash(new_body))
        )
        conn.execute(
            update(t.settings)
            .where(t.settings.c.key == "audit_key")
            .values(value=key.verifier.text)
        )


def test_checkpoints_resigned_with_a_fresh_key(pinned: Store, signer: Signer) -> None:
    fresh = Signer.generate("test-log")
    _resign_checkpoints(pinned, fresh)
    failed(pinned, "checkpoint at size 2:", "no signature by key")
    failed(
        pinned,
        f"is not a key this log pins (pinned key test-log+{signer.verifier.key_id})",
        verifier=fresh.verifier,
        source="trainguard-audit.key.pub",
    )


def test_a_full_rewrite_under_a_fresh_key(pinned: Store, signer: Signer) -> None:
    seen = pinned.audit.latest_checkpoint()
    fresh = Signer.generate("test-log")
    _repin(pinned, fresh)
    _resign_checkpoints(pinned, fresh)
    # Self-consistent now: only what an outsider kept tells the difference.
    assert pinned.audit.verify().ok
    failed(pinned, "is not a key this log pins", verifier=signer.verifier, source="--pubkey")
    failed(pinned, "log rewritten: its first 11 entries", since=seen)


def test_a_forged_rotation(pinned: Store, signer: Signer) -> None:
    fresh = Signer.generate("test-log")
    index = pinned.audit.size()
    # Signed by the fresh key in place of the pinned one.
    append_raw(
        pinned, ROTATION_KIND, rotation_data(fresh, fresh, pinned.audit.origin(), index, 1000)
    )
    execute(
        pinned,
        update(t.settings).where(t.settings.c.key == "audit_key").values(value=fresh.verifier.text),
    )
    pinned.audit.checkpoint(fresh)
    failed(pinned, f"entry {index}: key rotation is not signed by the key in force (test-log+")


def test_a_second_pin(pinned: Store) -> None:
    fresh = Signer.generate("test-log")
    index = pinned.audit.size()
    append_raw(pinned, PIN_KIND, pin_data(fresh, pinned.audit.origin(), index, 1000))
    failed(pinned, f"entry {index}: a second key pin")


def test_a_relabelled_pin_is_still_found(pinned: Store) -> None:
    # The kind column is not hashed; the body is, and verify holds the column to it.
    # Relabel the pin, drop the checkpoints: the log does not look unpinned.
    execute(
        pinned,
        update(t.audit_entries).where(t.audit_entries.c.idx == 1).values(kind="test.event"),
        delete(t.audit_checkpoints),
        update(t.audit_head).values(signed_size=0),
    )
    failed(pinned, "entry 1: kind column says 'test.event' but the entry is 'audit.key_pinned'")


# --- a checkpoint seen before ---------------------------------------------------------------


def test_a_checkpoint_seen_before_must_still_hold(pinned: Store, signer: Signer) -> None:
    seen = pinned.audit.latest_checkpoint()
    assert seen is not None
    fill(pinned, 4)
    pinned.audit.checkpoint(signer)
    assert pinned.audit.verify(since=seen).ok
    origin = pinned.audit.origin()
    bigger = signer.sign(Checkpoint(origin, 40, b"\x01" * 32))
    failed(
        pinned,
        "log shrank: a checkpoint seen before signs 40 entries, the log now holds 15",
        since=bigger,
    )
    other_root = signer.sign(Checkpoint(origin, 11, b"\x02" * 32))
    failed(pinned, "log rewritten: its first 11 entries", since=other_root)
    elsewhere = signer.sign(Checkpoint("example.org/other", 11, b"\x02" * 32))
    failed(pinned, "is for log 'example.org/other'", since=elsewhere)
    with pytest.raises(InputError, match="the checkpoint seen before"):
        pinned.audit.verify(since="not a note")


def test_a_checkpoint_row_inserted_out_of_order(pinned: Store, signer: Signer) -> None:
    fill(pinned, 4)
    pinned.audit.checkpoint(signer)
    origin = pinned.audit.origin()
    root = pinned.audit.tree().root(13)
    execute(
        pinned,
        insert(t.audit_checkpoints).values(
            size=13, root=root, note=signer.sign(Checkpoint(origin, 13, root)), created_at_us=0
        ),
    )
    # Signed by the right key, but not in the chain the log made.
    failed(pinned, "the checkpoint at size 13 is not one the log made")


# --- the standalone verifier -----------------------------------------------------------------


def _standalone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainguard.verify", *args], capture_output=True, text=True
    )


def test_the_standalone_verifier_proves_consistency_and_refuses_a_shrunk_log(
    pinned: Store, signer: Signer, tmp_path: Path
) -> None:
    old = pinned.audit.latest_checkpoint()
    fill(pinned, 5)
    new = pinned.audit.checkpoint(signer)
    files = {
        "pub": signer.verifier.text + "\n",
        "old": old,
        "new": new,
        "proof": json.dumps(pinned.audit.consistency_proof(11, 16)),
        "back": json.dumps(pinned.audit.consistency_proof(11, 11)),
        "other": signer.sign(Checkpoint("example.org/other", 11, b"\x03" * 32)),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text or "")
    base = ["--pubkey", str(tmp_path / "pub")]
    ok = _standalone(
        *base,
        "--checkpoint",
        str(tmp_path / "new"),
        "--proof",
        str(tmp_path / "proof"),
        "--old-checkpoint",
        str(tmp_path / "old"),
    )
    assert (
        ok.returncode == 0 and "at size 11 is a prefix of its signed tree at size 16" in ok.stdout
    )
    # The newer checkpoint shown as the old one, the older as the new: the log shrank.
    shrank = _standalone(
        *base,
        "--checkpoint",
        str(tmp_path / "old"),
        "--proof",
        str(tmp_path / "back"),
        "--old-checkpoint",
        str(tmp_path / "new"),
    )
    assert shrank.returncode == 1
    assert (
        shrank.stdout
        == "invalid: log shrank: the old checkpoint signs 16 entries, the newer one 11\n"
    )
    other = _standalone(
        *base,
        "--checkpoint",
        str(tmp_path / "new"),
        "--proof",
        str(tmp_path / "proof"),
        "--old-checkpoint",
        str(tmp_path / "other"),
    )
    assert (
        other.returncode == 1
        and "the old checkpoint is for log 'example.org/other'" in other.stdout
    )


def test_the_standalone_verifier_takes_the_keys_of_a_rotation(
    pinned: Store, signer: Signer, tmp_path: Path
) -> None:
    old = pinned.audit.latest_checkpoint() or ""
    new_key = Signer.generate("test-log-2")
    new = pinned.audit.rotate_key(signer, new_key)
    size = pinned.audit.size()
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(new)
    (tmp_path / "proof").write_text(json.dumps(pinned.audit.consistency_proof(11, size)))
    (tmp_path / "a.pub").write_text(signer.verifier.text)
    (tmp_path / "b.pub").write_text(new_key.verifier.text)
    args = [
        "--checkpoint",
        str(tmp_path / "new"),
        "--proof",
        str(tmp_path / "proof"),
        "--old-checkpoint",
        str(tmp_path / "old"),
    ]
    both = _standalone(
        "--pubkey", str(tmp_path / "a.pub"), "--pubkey", str(tmp_path / "b.pub"), *args
    )
    assert both.returncode == 0, both.stdout + both.stderr
    only_old = _standalone("--pubkey", str(tmp_path / "a.pub"), *args)
    assert (
        only_old.returncode == 1 and "invalid: checkpoint: no signature by key" in only_old.stdout
    )


def test_the_standalone_verifier_imports_no_database_or_compiled_code() -> None:
    code = (
        "import sys, trainguard.verify; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'sqlalchemy', 'numba', 'numpy', 'orjson', 'pydantic', 'typer'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


# --- a log from before pinning ----------------------------------------------------------------


def test_a_log_from_before_pinning_is_upgraded_and_pinned(tmp_path: Path, signer: Signer) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    db = tmp_path / "old.db"
    store = Store(str(db))
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("trainguard.store") / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with store.write() as conn:
        conn.execute(insert(t.settings).values(key="audit_origin", value="example.org/old"))
    fill(store, 5)
    # A checkpoint as the earlier schema stored it: no frontier, no predecessor.
    root = MerkleTree(
        [leaf_hash(canonical_json(store.audit.entry(i)["entry"])) for i in range(5)]
    ).root()
    with store.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tg_audit_checkpoints (size, root, note, created_at_us) VALUES (?, ?, ?, 0)",
            (5, root, signer.sign(Checkpoint("example.org/old", 5, root))),
        )
    store.init()  # upgrades to the current schema
    assert store.audit.signed_size() == (5, 6)  # the origin and five entries
    with pytest.raises(InputError, match="signed by another key"):
        store.audit.pin_key(Signer.generate("other"))
    assert store.audit.pin_key(signer)
    report = store.audit.verify()
    assert report.ok and report.checkpoints == 2, report.problem


def test_the_key_event_index_names_the_key_event_kinds() -> None:
    from trainguard.audit.keys import KEY_KINDS
    from trainguard.store.schema import KEY_EVENTS_CONDITION

    listed = ", ".join(f"'{k}'" for k in KEY_KINDS)
    assert f"kind IN ({listed})" == KEY_EVENTS_CONDITION
