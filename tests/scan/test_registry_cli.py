"""`registry add` checks what it is told; `registry verify` checks what is on disk
against the audit log; item ids never carry a file's path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.scan import KeyRing, Registry
from trainguard.scan.names import DEFAULT_ID_PREFIX

runner = CliRunner()
TEXT = " ".join(f"word{i}" for i in range(60))


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    return ["--registry", str(tmp_path / "registry"), "--keys", str(tmp_path / "keys")]


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    folder = tmp_path / "people" / "jane-doe"
    folder.mkdir(parents=True)
    f = folder / "call-with-john-smith.txt"
    f.write_text(TEXT)
    return f


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "acme", "--category", "customer.chats"], "unknown category 'customer.chats'"),
        (["--tenant", "acme", "--category", "Customer"], "unknown category 'Customer'"),
        (["--tenant", ""], "tenant '': a tenant must not be empty"),
        (["--tenant", " acme"], "must not begin or end with a space"),
        (["--tenant", "ac\x07me"], "U+0007 (a control character), which no tenant may hold"),
        (["--tenant", "Acme"], "tenant 'Acme': character 1 is U+0041"),
    ],
)
def test_an_unknown_category_or_a_bad_tenant_is_one_line_and_exit_2(
    text_file: Path, where: list[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = run("registry", "add", str(text_file), *args, *where)
    assert code == 2, err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "registry").exists()


def test_a_category_the_store_added_to_the_taxonomy_is_accepted(
    text_file: Path, where: list[str], tmp_path: Path
) -> None:
    from trainguard.store import Store

    db = str(tmp_path / "t.db")
    assert run("--db", db, "init")[0] == 0
    store = Store(db)
    store.extend_taxonomy({"customer.voicemail": "voicemail"}, {})
    store.engine.dispose()
    code, out, err = run("--db", db, "registry", "add", str(text_file), "--tenant", "acme",
                         "--category", "customer.voicemail", *where)  # fmt: skip
    assert code == 0, err
    assert "registered 1 items" in out


@pytest.mark.parametrize("how", ["file", "folder", "glob"])
def test_item_ids_default_to_a_keyed_digest_never_a_path(
    text_file: Path, where: list[str], tmp_path: Path, how: str
) -> None:
    arg = {
        "file": str(text_file),
        "folder": str(tmp_path / "people"),
        "glob": str(tmp_path / "people" / "*" / "*.txt"),
    }[how]
    assert run("registry", "add", arg, "--tenant", "acme", *where)[0] == 0
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    [item] = registry.items().values()
    assert item.id.startswith(DEFAULT_ID_PREFIX) and len(item.id) == len(DEFAULT_ID_PREFIX) + 32
    # The name is the path relative to the argument, keyed with the tenant's key.
    relative = {"file": text_file.name, "folder": "jane-doe/" + text_file.name,
                "glob": "jane-doe/" + text_file.name}[how]  # fmt: skip
    assert item.id == registry.default_id("acme", relative)
    for f in (tmp_path / "registry").iterdir():
        assert b"john-smith" not in f.read_bytes() and b"jane-doe" not in f.read_bytes()
    # Stable: the same files registered again are already there.
    code, out, _ = run("registry", "add", arg, "--tenant", "acme", *where)
    assert code == 0 and "1 already registered" in out


def test_records_without_an_id_get_one_per_line_and_explicit_ids_are_kept(
    where: list[str], tmp_path: Path
) -> None:
    f = tmp_path / "chats.jsonl"
    rows = [{"text": TEXT + " one"}, {"text": TEXT + " two"}, {"msg_id": "m-7", "text": TEXT}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run("registry", "add", str(f), "--tenant", "acme", *where)[0] == 0
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    ids = sorted(i.id for i in registry.items().values())
    assert ids == sorted(registry.default_id("acme", f"chats.jsonl:{n}") for n in (1, 2, 3))
    other = tmp_path / "other"
    code, _, err = run("registry", "add", str(f), "--tenant", "acme", "--id-field", "msg_id",
                       "--registry", str(other), "--keys", str(tmp_path / "keys"))  # fmt: skip
    assert code == 0, err
    ids = {i.id for i in Registry(other, KeyRing(tmp_path / "keys")).items().values()}
    assert "m-7" in ids


@pytest.fixture
def logged(text_file: Path, where: list[str], tmp_path: Path) -> str:
    db = str(tmp_path / "t.db")
    assert run("--db", db, "init")[0] == 0
    code, out, err = run("--db", db, "registry", "add", str(text_file), "--tenant", "acme",
                         "--category", "customer.chat", *where)  # fmt: skip
    assert code == 0, err
    assert "(audit entry 1)" in out
    return db


def test_every_registry_change_is_in_the_audit_log_with_its_resulting_state(
    logged: str, where: list[str], tmp_path: Path
) -> None:
    from trainguard.scan.integrity import state_digest
    from trainguard.store import Store

    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    [item] = registry.items().values()
    assert run("--db", logged, "registry", "compact", *where)[0] == 0
    assert run("--db", logged, "registry", "remove", item.id, "--tenant", "acme", *where)[0] == 0
    store = Store(logged)
    entries = [
        store.audit.entry(i)["entry"] for i in range(1, store.audit.size())
    ]  # after the origin
    store.engine.dispose()
    assert [e["kind"] for e in entries] == ["registry.add", "registry.compact", "registry.remove"]
    add = entries[0]["data"]
    assert add["tenant"] == "acme" and add["item_ids"] == [item.id]
    assert (
        add["categories"] == ["customer.chat"]
        and add["fingerprints"] == item.ngrams + item.shingles
    )
    assert set(add["files"]) >= {f"{s['name']}.fp.npy" for s in add["segments"]}
    assert all(len(f["sha256"]) == 64 for f in add["files"].values())
    last = entries[-1]["data"]
    assert last["item_ids"] == [item.id] and last["segments"] == []
    assert last["state_sha256"] == state_digest(Registry(registry.path, registry.keys).meta)


def test_registry_verify_passes_on_the_state_the_log_recorded(
    logged: str, where: list[str]
) -> None:
    code, out, err = run("--db", logged, "registry", "verify", *where)
    assert code == 0, err
    assert "6 files match their checksums; MAC valid; the state audit entry 1 recorded" in out


def test_a_registry_rolled_back_to_an_earlier_state_fails_verify(
    logged: str, where: list[str], tmp_path: Path
) -> None:
    """Every checksum and the MAC hold in an earlier state: only the log tells."""
    registry = tmp_path / "registry"
    shutil.copytree(registry, tmp_path / "before")
    more = tmp_path / "more.txt"
    more.write_text(" ".join(f"other{i}" for i in range(40)))
    assert run("--db", logged, "registry", "add", str(more), "--tenant", "acme", *where)[0] == 0
    shutil.rmtree(registry)
    shutil.copytree(tmp_path / "before", registry)
    code, _, err = run("--db", logged, "registry", "verify", *where)
    assert code == 1, err
    assert "not the state audit entry 2 recorded (edited or rolled back since)" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("damage", ["zeroed", "edited"])
def test_a_damaged_or_edited_registry_fails_verify(
    logged: str, where: list[str], tmp_path: Path, damage: str
) -> None:
    registry = tmp_path / "registry"
    meta = json.loads((registry / "registry.json").read_text())
    if damage == "zeroed":
        f = registry / f"{meta['segments'][0]['name']}.item.npy"
        f.write_bytes(bytes(f.stat().st_size))
        expected = f.name
    else:
        meta["segments"][0]["fingerprints"] += 1
        (registry / "registry.json").write_text(json.dumps(meta))
        expected = "MAC does not hold"
    code, _, err = run("--db", logged, "registry", "verify", *where)
    assert code == 1, err
    assert expected in err and err.count("\n") == 1


def test_a_registry_the_log_never_saw_fails_verify(
    text_file: Path, where: list[str], tmp_path: Path
) -> None:
    assert run("registry", "add", str(text_file), "--tenant", "acme", *where)[0] == 0
    db = str(tmp_path / "t.db")
    assert run("--db", db, "init")[0] == 0
    code, _, err = run("--db", db, "registry", "verify", *where)
    assert code == 1 and "no entry of it in the audit log" in err
    # Without a store it checks the files and says what it did not check.
    code, out, err = run("registry", "verify", *where)
    assert code == 0, err
    assert "not checked against an audit log (no store)" in out


def test_the_library_records_changes_without_the_cli(tmp_path: Path) -> None:
    from trainguard.scan.registrylog import verify_against_log
    from trainguard.store import Store

    store = Store(str(tmp_path / "t.db"))
    store.init()
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"), store)
    registry.add("acme", [("a-1", TEXT, None)])
    assert registry.last_audit_entry == 1
    registry.add_reference(["some public words " * 8])
    assert registry.last_audit_entry == 2
    assert verify_against_log(Registry(registry.path, registry.keys), store) == 2
    store.engine.dispose()
