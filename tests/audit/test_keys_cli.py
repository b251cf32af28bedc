"""The key commands and `audit verify` through the CLI: honest use, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from trainguard.audit.merkle import MerkleTree
from trainguard.audit.note import Checkpoint, Signer
from trainguard.cli import app
from trainguard.store import Store
from trainguard.store import schema as t

runner = CliRunner()


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = str(db)

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        result = runner.invoke(app, ["--db", self.db, *args])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout, result.stderr


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the signing key is configured ($TRAINGUARD_AUDIT_KEY); not created yet."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "log.key"
    monkeypatch.setenv("TRAINGUARD_AUDIT_KEY", str(path))
    return path


@pytest.fixture
def tg(tmp_path: Path, key: Path) -> Cli:
    cli = Cli(tmp_path / "a.db")
    cli("init")
    cli("audit", "keygen")
    return cli


def store_of(cli: Cli) -> Store:
    return Store(cli.db)


def test_writes_are_signed_as_they_happen_and_rotation_verifies(
    tg: Cli, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        tg("audit", "append", "test.event", f'{{"i": {i}}}')
    out, _ = tg("audit", "verify")
    assert "OK: 5 entries, 4 checkpoints verified" in out
    assert "0 entries after the latest (at most 1000)" in out
    new = tmp_path / "next.key"
    out, _ = tg("audit", "rotate-key", "--new-key", str(new))
    assert "rotated to" in out and new.exists() and Path(str(new) + ".pub").exists()
    monkeypatch.setenv("TRAINGUARD_AUDIT_KEY", str(new))
    tg("audit", "append", "test.event", '{"i": 3}')
    out, _ = tg("audit", "verify")
    assert "1 rotation to" in out and "0 entries after the latest" in out
    # The old key's .pub still names a key of the chain.
    assert "OK:" in tg("audit", "verify", "--key", str(key))[0]


def test_decisions_are_signed_allowed_or_denied(tg: Cli, tmp_path: Path) -> None:
    """`decide` ends with exit 0 or 1, not by returning: its entry is signed all the same,
    so a script of decisions never runs the log past its unsigned limit."""
    policies = sorted(Path(__file__).parents[2].glob("src/trainguard/demo/policies/v1-*.yaml"))
    tg("policy", "add", *map(str, policies))
    tg("tenant", "assign", "acme", "meetco-terms")
    decide = [
        "decide",
        "--tenant",
        "acme",
        "--category",
        "customer.chat",
        "--collected-at",
        "2023-05-01",
    ]
    tg(*decide, "--use", "train.first_party")
    tg(*decide, "--use", "no.such.use", code=1)
    out, _ = tg("audit", "verify")
    assert "0 entries after the latest" in out, out


def test_init_pins_a_configured_key(tmp_path: Path, key: Path) -> None:
    Signer.generate("ops").save(key)
    cli = Cli(tmp_path / "a.db")
    out, _ = cli("init")
    assert "pinned audit key ops+" in out
    out, _ = cli("audit", "verify")
    assert "OK: 2 entries, 1 checkpoints verified (pinned key ops+" in out


def test_a_fresh_key_beside_the_store_is_not_trusted(tg: Cli, tmp_path: Path) -> None:
    store = store_of(tg)
    fresh_path = tmp_path / "fresh.key"
    fresh = Signer.generate(store.audit.origin())
    fresh.save(fresh_path)
    Path(str(fresh_path) + ".pub").write_text(fresh.verifier.text + "\n")
    origin = store.audit.origin()
    with store.write() as conn:
        leaves = [bytes(r[0]) for r in conn.execute(select(t.audit_entries.c.leaf_hash))]
        note = fresh.sign(Checkpoint(origin, 1, MerkleTree(leaves).root(1)))
        conn.execute(update(t.audit_checkpoints).values(note=note))
    out, _ = tg("audit", "verify", "--key", str(fresh_path), code=1)
    assert f"FAILED: {fresh_path}.pub {fresh.verifier.name}+{fresh.verifier.key_id}" in out
    assert "is not a key this log pins" in out
    out, _ = tg("audit", "verify", "--pubkey", fresh.verifier.text, code=1)
    assert "FAILED: --pubkey" in out
    out, _ = tg("audit", "verify", code=1)
    assert "FAILED at index 1: checkpoint at size 2: no signature by key" in out


def test_witness_remembers_the_latest_checkpoint(tg: Cli, tmp_path: Path) -> None:
    witness = tmp_path / "seen.txt"
    out, _ = tg("audit", "verify", "--witness", str(witness))
    assert "now holds the checkpoint at size 2" in out
    for i in range(2):
        tg("audit", "append", "test.event", f'{{"i": {i}}}')
    out, _ = tg("audit", "verify", "--witness", str(witness))
    assert f"consistent with the checkpoint in {witness}" in out
    assert "now holds the checkpoint at size 4" in out
    # Roll back the latest checkpoint, its entries and every marker of them.
    store = store_of(tg)
    with store.write() as conn:
        conn.execute(delete(t.audit_entries).where(t.audit_entries.c.idx >= 2))
        conn.execute(delete(t.audit_checkpoints).where(t.audit_checkpoints.c.size > 2))
        conn.execute(update(t.audit_head).values(size=2, signed_size=2))
    assert "OK:" in tg("audit", "verify")[0]
    out, _ = tg("audit", "verify", "--witness", str(witness), code=1)
    assert "log shrank: a checkpoint seen before signs 4 entries, the log now holds 2" in out
    assert witness.read_text().split("\n")[1] == "4"  # kept: a failed run does not replace it


def test_since_and_witness_are_one_or_the_other(tg: Cli, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    seen.write_text(store_of(tg).audit.latest_checkpoint() or "")
    _, err = tg("audit", "verify", "--since", str(seen), "--witness", str(seen), code=2)
    assert err.count("\n") == 1 and "give one of them" in err
    _, err = tg("audit", "verify", "--since", str(tmp_path / "missing.txt"), code=2)
    assert "missing.txt: no such file" in err


def test_a_key_the_log_does_not_pin_leaves_a_warning(
    tg: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.key"
    Signer.generate("other").save(other)
    monkeypatch.setenv("TRAINGUARD_AUDIT_KEY", str(other))
    out, err = tg("audit", "append", "test.event", "{}")
    assert out.strip() == "2"  # the entry is committed (after the origin and the pin)
    assert err.startswith("trainguard: warning: new audit entries not checkpointed: signing key")
    _, err = tg("audit", "checkpoint", code=2)
    assert "is not the key the audit log pins" in err


def test_keygen_takes_a_limit_and_verify_enforces_it(tmp_path: Path, key: Path) -> None:
    cli = Cli(tmp_path / "a.db")
    cli("init")
    cli("audit", "keygen", "--max-unsigned", "2")
    store = store_of(cli)
    store.audit.record_many([("test.event", {"i": i}) for i in range(3)])  # not through the CLI
    out, _ = cli("audit", "verify", code=1)
    assert "entries 2..4 are not covered by a signed checkpoint (the log allows at most 2)" in out
    _, err = cli("audit", "keygen", "--max-unsigned", "0", code=2)
    assert err.count("\n") == 1
