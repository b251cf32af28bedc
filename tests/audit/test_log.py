"""The audit log in the store: appends, checkpoints, proofs, tampering, crashes, redaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from trainguard._native.jsonscan import claimed_indexes as _claimed_indexes
from trainguard._native.jsonscan import claimed_indexes_reference
from trainguard.audit.log import _claimed_index
from trainguard.audit.note import Signer
from trainguard.canonical import canonical_json
from trainguard.cli import app
from trainguard.store import Store
from trainguard.store import schema as t
from trainguard.verify import verify_proof


def fill(store: Store, n: int, batch: int = 10) -> None:
    """Append n entries whose data names their own index (entry 0 is the log's origin)."""
    base = store.audit.size()
    for start in range(base, base + n, batch):
        store.audit.record_many(
            [("test.event", {"i": i}) for i in range(start, min(base + n, start + batch))]
        )


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("test-log")


def test_appends_are_gap_free_and_proofs_verify_offline(any_store: Store, signer: Signer) -> None:
    fill(any_store, 36)
    assert any_store.audit.size() == 37
    note = any_store.audit.checkpoint(signer)  # pins the signer first: entry 37
    for i in (0, 17, 37):
        proof = any_store.audit.inclusion_proof(i)
        assert "entry" in verify_proof(signer.verifier, note, json.loads(json.dumps(proof)))
    fill(any_store, 20)
    note2 = any_store.audit.checkpoint(signer)
    cons = any_store.audit.consistency_proof(38, 58)
    assert "prefix" in verify_proof(signer.verifier, note2, cons, old_note=note)
    report = any_store.audit.verify(signer.verifier)
    assert report.ok and report.size == 58 and report.checkpoints == 2


def _tamper(store: Store, how: str) -> None:
    with store.write() as conn:
        if how == "flip_body":
            body = bytes(
                conn.execute(
                    select(t.audit_entries.c.body).where(t.audit_entries.c.idx == 5)
                ).scalar_one()
            )
            flipped = body.replace(b'"i":5', b'"i":6')
            conn.execute(
                update(t.audit_entries).where(t.audit_entries.c.idx == 5).values(body=flipped)
            )
        elif how == "delete_row":
            conn.execute(delete(t.audit_entries).where(t.audit_entries.c.idx == 7))
        elif how == "swap_rows":
            rows = {
                r.idx: r
                for r in conn.execute(
                    select(t.audit_entries).where(t.audit_entries.c.idx.in_([3, 4]))
                )
            }
            for a, b in ((3, 4), (4, 3)):
                conn.execute(
                    update(t.audit_entries)
                    .where(t.audit_entries.c.idx == a)
                    .values(body=rows[b].body, leaf_hash=rows[b].leaf_hash)
                )
        elif how == "replace_checkpoint":
            other = Signer.generate("test-log")
            from trainguard.audit.note import Checkpoint

            fake = other.sign(Checkpoint(store.audit.origin(), 10, b"\x11" * 32))
            conn.execute(update(t.audit_checkpoints).values(note=fake))
        elif how == "truncate":
            conn.execute(delete(t.audit_entries).where(t.audit_entries.c.idx >= 8))
            conn.execute(update(t.audit_head).values(size=8))


@pytest.mark.parametrize(
    ("how", "index", "words"),
    [
        ("flip_body", 5, "body does not match its leaf hash"),
        ("delete_row", 7, "entry 7 is missing"),
        ("swap_rows", 3, "holds the body of entry 4"),
        ("replace_checkpoint", 10, "checkpoint at size 11"),
        ("truncate", 8, "truncated"),
    ],
)
@pytest.mark.parametrize("reader", ["arrow", "driver"])
def test_tampering_is_detected_and_named(
    any_store: Store,
    signer: Signer,
    how: str,
    index: int,
    words: str,
    reader: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQLite is read through Arrow (ADBC) when it is installed, else through the
    # driver, as PostgreSQL always is: both readers must name the same fault.
    if reader == "driver":
        monkeypatch.setattr("trainguard.audit.log._arrow_reader_available", lambda: False)
    elif any_store.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the Arrow reader is for SQLite files")
    fill(any_store, 9)
    any_store.audit.checkpoint(signer)  # pins the key at entry 10, signs size 11
    _tamper(any_store, how)
    report = any_store.audit.verify(signer.verifier)
    assert not report.ok
    assert report.bad_index == index
    assert words in (report.problem or "")


@pytest.mark.parametrize("reader", ["arrow", "driver"])
def test_redaction_keeps_the_leaf_and_the_proofs(
    any_store: Store, signer: Signer, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reader == "driver":
        monkeypatch.setattr("trainguard.audit.log._arrow_reader_available", lambda: False)
    fill(any_store, 11)
    note = any_store.audit.checkpoint(signer)
    any_store.audit.redact(4)
    assert any_store.audit.entry(4)["entry"] is None
    report = any_store.audit.verify(signer.verifier)
    assert report.ok and report.redacted == [4]
    assert "redacted" in verify_proof(signer.verifier, note, any_store.audit.inclusion_proof(4, 13))


def test_policy_and_consent_changes_are_logged(timeline_store: Store) -> None:
    kinds = [timeline_store.audit.entry(i)["kind"] for i in range(timeline_store.audit.size())]
    assert kinds == ["log.origin"] + ["policy.added"] * 3 + ["policy.default_family"]


WRITER = """
import sys
from trainguard.store import Store
store = Store(sys.argv[1])
i = 0
while True:
    store.audit.record_many([("crash.test", {"i": i + k}) for k in range(100)])
    i += 100
    print(i, flush=True)
"""


def test_a_killed_writer_loses_no_acknowledged_append(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    Store(str(db)).init()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    acked = 0
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while acked < 2000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert acked >= 2000
    store = Store(str(db))
    report = store.audit.verify(None)
    assert report.ok, report.problem
    assert report.size >= acked
    assert (report.size - 1) % 100 == 0  # the origin, then batches all-or-nothing


runner = CliRunner()


def test_cli_end_to_end_with_the_standalone_verifier(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    db, key = str(tmp_path / "a.db"), tmp_path / "log.key"

    def tg(*args: str) -> str:
        result = runner.invoke(app, ["--db", db, *args])
        assert result.exit_code == 0, result.stderr
        return result.stdout

    tg("init")
    tg("policy", "add", *(str(p) for p in policy_files.values()))
    tg("audit", "keygen", "--key", str(key))
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    (tmp_path / "cp.txt").write_text(tg("audit", "checkpoint", "--key", str(key)))
    tg("audit", "prove", "2", "--out", str(tmp_path / "p.json"))
    # The origin, 4 policies, and the pin keygen made: 6 entries, signed at size 6.
    assert "OK: 6 entries, 1 checkpoints verified" in tg("audit", "verify", "--key", str(key))
    tg("audit", "append", "note", '{"who": "alice"}')
    assert "redaction logged at entry 7" in tg("audit", "redact", "6")
    assert "redacted" in tg("audit", "verify", "--key", str(key))
    pub = str(key) + ".pub"
    base = [
        sys.executable,
        "-m",
        "trainguard.verify",
        "--pubkey",
        pub,
        "--checkpoint",
        str(tmp_path / "cp.txt"),
    ]
    ok = subprocess.run(
        [*base, "--proof", str(tmp_path / "p.json")], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith("valid:")
    proof = json.loads((tmp_path / "p.json").read_text())
    proof["index"] = 1
    (tmp_path / "bad.json").write_text(json.dumps(proof))
    bad = subprocess.run(
        [*base, "--proof", str(tmp_path / "bad.json")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and bad.stdout.startswith("invalid:")
    (tmp_path / "junk.json").write_text("{")
    junk = subprocess.run(
        [*base, "--proof", str(tmp_path / "junk.json")], capture_output=True, text=True
    )
    assert junk.returncode == 2 and "not valid JSON" in junk.stderr


def test_cli_verify_failure_exits_1_naming_the_index(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    store = Store(db)
    store.init()
    fill(store, 5)
    _tamper(store, "flip_body")
    result = runner.invoke(app, ["--db", db, "audit", "verify"])
    assert result.exit_code == 1
    assert "FAILED at index 5" in result.stdout


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    Store(first).init()
    Store(second).init()
    key = str(tmp_path / "k")
    assert runner.invoke(app, ["--db", first, "audit", "keygen", "--key", key]).exit_code == 0
    again = runner.invoke(app, ["--db", second, "audit", "keygen", "--key", key])
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr


def test_keygen_refuses_a_second_key_for_a_pinned_log(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    Store(db).init()
    assert (
        runner.invoke(app, ["--db", db, "audit", "keygen", "--key", str(tmp_path / "k")]).exit_code
        == 0
    )
    again = runner.invoke(app, ["--db", db, "audit", "keygen", "--key", str(tmp_path / "k2")])
    assert again.exit_code == 2 and "already pins key" in again.stderr
    assert not (tmp_path / "k2").exists()


# --- the compiled index scan held to its reference ---------------------------------------


@st.composite
def _claimed_body(draw: st.DrawFn) -> bytes:
    index = draw(st.integers(0, 2**53 - 1))
    entry = canonical_json(
        {
            "at": "t",
            "data": {"s": draw(st.text(max_size=8))},
            "index": index,
            "kind": draw(st.text(max_size=8)),
        }
    )
    return draw(
        st.sampled_from(
            [
                entry,
                entry.replace(b',"index":', b',"index":-'),  # a sign: not a plain index
                b'{"index":0,"x":1,"index":%d,"kind":"k"}' % draw(st.integers(0, 10**25)),
                entry[: draw(st.integers(0, len(entry)))],  # cut anywhere
                draw(st.binary(max_size=40)),
            ]
        )
    )


@given(st.lists(_claimed_body(), max_size=20))
def test_claimed_indexes_match_the_reference(bodies: list[bytes]) -> None:
    offsets = np.zeros(len(bodies) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in bodies], out=offsets[1:])
    data = np.frombuffer(b"".join(bodies) or b"\0", dtype=np.uint8)
    got = _claimed_indexes(data, offsets).tolist()
    assert got == claimed_indexes_reference(bodies)
    # On whole entries the reference and the slow path name the same index.
    for body, index in zip(bodies, got, strict=True):
        if index >= 0:
            assert _claimed_index(body) == index
