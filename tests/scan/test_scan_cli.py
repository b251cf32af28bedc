"""`registry add` and `scan` end to end: every input form, every engine, every exit code."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.scan import Fields, KeyRing, Registry, ScanOptions, scan_corpus, tokenize

from ..conftest import meeting_rows

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def planted(meetings: dict[str, str], item: str, seed: int, words: int = 30) -> str:
    text = meetings[item]
    t = tokenize(text)
    i = random.Random(seed).randrange(0, len(t) - words)
    return text[int(t.starts[i]) : int(t.ends[i + words - 1])]


@pytest.fixture(scope="module")
def setup(meetings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cli")
    rows = meeting_rows()[:20]
    (base / "customer.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:10]))
    reg, keys = base / "registry", base / "keys"
    code, out, err = run(
        "registry", "add", str(base / "customer.jsonl"), "--tenant", "acme", "--id-field",
        "meeting_id", "--text-field", "turns", "--registry", str(reg), "--keys", str(keys),
    )  # fmt: skip
    assert code == 0, err
    assert "registered 10 items" in out
    corpus = base / "corpus"
    corpus.mkdir()
    ids = [r["meeting_id"] for r in rows]
    docs = [{"id": f"clean-{i}", "text": meetings[m][:3000]} for i, m in enumerate(ids[10:])]
    docs.insert(3, {"id": "leak-1", "text": "Intro. " + planted(meetings, ids[2], 1) + " Outro."})
    lines = [json.dumps(d) for d in docs]
    lines.insert(5, "{this is not json")
    lines.insert(7, json.dumps({"id": "no-text", "body": "x"}))
    (corpus / "a.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(corpus / "b.jsonl.gz", "wt") as f:
        f.write(json.dumps({"id": "leak-2", "text": planted(meetings, ids[4], 2)}) + "\n")
    (corpus / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(
            (json.dumps({"id": "leak-3", "text": planted(meetings, ids[5], 3)}) + "\n").encode()
        )
    )
    pq.write_table(
        pa.table({"id": ["leak-4", "clean-p"], "text": [planted(meetings, ids[6], 4), "hello"]}),
        corpus / "d.parquet",
    )
    (corpus / "notes.txt").write_text("Notes\n" + planted(meetings, ids[7], 5) + "\n")
    return {"base": base, "registry": reg, "keys": keys, "corpus": corpus}


def scan(setup: dict[str, Path], *args: str) -> tuple[int, str, str]:
    return run("scan", *args, "--registry", str(setup["registry"]), "--keys", str(setup["keys"]))


def test_scan_finds_every_planted_fragment_in_every_format(setup: dict[str, Path]) -> None:
    out = setup["base"] / "findings.jsonl"
    code, stdout, err = scan(setup, str(setup["corpus"]), "--out", str(out))
    assert code == 0, err
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    findings = [e for e in entries if "malformed" not in e]
    assert sorted(f["doc_id"] for f in findings) == sorted(
        ["leak-1", "leak-2", "leak-3", "leak-4", str(setup["corpus"] / "notes.txt")]
    )
    for f in findings:
        assert set(f) == {"doc_id", "source", "spans", "matched_tokens", "doc_tokens", "coverage"}
        assert f["spans"][0]["kind"] == "verbatim" and f["spans"][0]["tenants"] == ["acme"]
    assert "5 with registered content, 2 malformed records not scanned" in stdout
    assert "(no_text 1, not_json 1)" in stdout
    # Malformed records are named with their file and line, in the findings too.
    assert f"{setup['corpus'] / 'a.jsonl'}:6: not JSON" in err
    assert f"{setup['corpus'] / 'a.jsonl'}:8: no text field" in err
    a = str(setup["corpus"] / "a.jsonl")
    assert [(e["source"], e["line"], e["malformed"]) for e in entries if "malformed" in e] == [
        (a, 6, "not_json"),
        (a, 8, "no_text"),
    ]


def test_fail_on_findings_exits_1(setup: dict[str, Path]) -> None:
    out = setup["base"] / "f2.jsonl"
    code, _, err = scan(
        setup, str(setup["corpus"] / "b.jsonl.gz"), "--out", str(out), "--fail-on-findings"
    )
    assert code == 1
    assert "1 documents hold registered customer content" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.jsonl"], "no such file or folder"),
        (["{corpus}", "--format", "csv"], "scan reads jsonl, parquet or text, not csv"),
        (["{corpus}", "--format", "xml"], "--format 'xml' is not one of"),
        (["{corpus}", "--workers", "0"], "--workers 0"),
        (["{corpus}", "--engine", "spark"], "--engine 'spark'"),
        (["{corpus}", "--min-confidence", "2"], "--min-confidence 2.0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    setup: dict[str, Path], args: list[str], message: str
) -> None:
    out = setup["base"] / "bad.jsonl"
    code, _, err = scan(setup, *[a.format(corpus=setup["corpus"]) for a in args], "--out", str(out))
    assert code == 2, err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_missing_registry_is_one_line(setup: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(tmp_path / "f.jsonl"),
                       "--registry", str(tmp_path / "none"), "--keys", str(tmp_path / "k"))  # fmt: skip
    assert code == 2 and "not found" in err


def test_a_registry_made_under_the_previous_normalization_is_refused_in_one_line(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    """Its fingerprints would never match text normalized now: a scan would call a
    leaking corpus clean."""
    old = tmp_path / "old-registry"
    shutil.copytree(setup["registry"], old)
    meta = json.loads((old / "registry.json").read_text())
    assert meta["normalization"] == 4
    meta["normalization"] = 3
    (old / "registry.json").write_text(json.dumps(meta))
    out = tmp_path / "f.jsonl"
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(out),
                       "--registry", str(old), "--keys", str(setup["keys"]))  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert str(old) in err and "'normalization': 3" in err and "register the content again" in err
    assert not out.exists()


@pytest.mark.parametrize("keep", ["nothing", "tenants only"])
def test_scanning_with_keys_the_registry_was_not_made_with_is_refused(
    setup: dict[str, Path], tmp_path: Path, keep: str
) -> None:
    """Wrong keys would find nothing and call a leaking corpus clean: refused instead."""
    keys = tmp_path / "keys"
    keys.mkdir()
    if keep == "tenants only":  # a platform key of its own, the right tenant keys
        for f in setup["keys"].glob("*.key"):
            if f.name != "platform.key":
                (keys / f.name).write_bytes(f.read_bytes())
        KeyRing(keys).platform_key(create=True)
    out = tmp_path / "f.jsonl"
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(out),
                       "--registry", str(setup["registry"]), "--keys", str(keys))  # fmt: skip
    assert code == 2 and "platform key" in err and err.count("\n") == 1, err
    assert not out.exists()
    code, _, err = run("registry", "add", str(setup["corpus"]), "--tenant", "acme",
                       "--registry", str(setup["registry"]), "--keys", str(keys))  # fmt: skip
    assert code == 2 and "platform key" in err and err.count("\n") == 1, err


def test_a_tenant_whose_key_is_missing_is_named_in_a_warning(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    registry, keys = tmp_path / "registry", tmp_path / "keys"
    shutil.copytree(setup["registry"], registry)
    shutil.copytree(setup["keys"], keys)
    text = " ".join(f"word{i}" for i in range(40))
    Registry(registry, KeyRing(keys)).add("globex", [("g-1", text, None)])
    ring = KeyRing(keys)
    (keys / ring._file("globex").name).unlink()  # globex's key is not here
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(tmp_path / "f.jsonl"),
                       "--registry", str(registry), "--keys", str(keys))  # fmt: skip
    assert code == 0, err
    assert "no key of 1 tenant(s)" in err and "'globex'" in err


@pytest.mark.parametrize(
    "command", [["registry", "compact"], ["registry", "remove", "x", "--tenant", "t"]]
)
def test_compacting_or_removing_from_a_missing_registry_does_not_create_one(
    tmp_path: Path, command: list[str]
) -> None:
    code, _, err = run(
        *command, "--registry", str(tmp_path / "none"), "--keys", str(tmp_path / "k")
    )
    assert code == 2 and "not found" in err and err.count("\n") == 1
    assert not (tmp_path / "none").exists()


def findings_bytes(setup: dict[str, Path], engine: str, workers: int, out: Path) -> bytes:
    options = ScanOptions(str(setup["registry"]), str(setup["keys"]), fields=Fields())
    scan_corpus(
        [str(setup["corpus"])], options, out, engine=engine, workers=workers, shard_bytes=2000
    )
    return out.read_bytes()


def test_one_worker_and_two_give_the_same_findings(setup: dict[str, Path]) -> None:
    base = setup["base"]
    one = findings_bytes(setup, "local", 1, base / "one.jsonl")
    assert one.count(b"\n") == 5 + 2  # and the two malformed records
    assert findings_bytes(setup, "local", 2, base / "two.jsonl") == one


@pytest.mark.ray
def test_ray_gives_the_same_findings_as_the_local_pool(setup: dict[str, Path]) -> None:
    pytest.importorskip("ray")
    base = setup["base"]
    assert findings_bytes(setup, "ray", 2, base / "ray.jsonl") == findings_bytes(
        setup, "local", 2, base / "local.jsonl"
    )


def test_registrations_and_scans_are_recorded_in_the_audit_log(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    from trainguard.store import Store

    db = tmp_path / "audit.db"
    assert run("--db", str(db), "init")[0] == 0
    where = ["--registry", str(tmp_path / "reg"), "--keys", str(tmp_path / "keys")]
    code, out, err = run(
        "--db", str(db), "registry", "add", str(setup["base"] / "customer.jsonl"), "--tenant",
        "acme", "--text-field", "turns", "--id-field", "meeting_id", *where,
    )  # fmt: skip
    assert code == 0, err
    assert "(audit entry 1)" in out  # after the log's origin
    code, out, err = run(
        "--db", str(db), "scan", str(setup["corpus"] / "b.jsonl.gz"), "--out",
        str(tmp_path / "f.jsonl"), *where,
    )  # fmt: skip
    assert code == 0, err
    store = Store(str(db))
    kinds = [store.audit.entry(i)["kind"] for i in range(store.audit.size())]
    assert kinds == ["log.origin", "registry.add", "scan.run"]
    scan = store.audit.entry(2)["entry"]["data"]
    assert scan["findings"] == 1 and len(scan["findings_sha256"]) == 64
    store.engine.dispose()


# --- fail closed ----------------------------------------------------------------------


def spoiled_transcript(setup: dict[str, Path], tmp_path: Path) -> Path:
    """A corpus holding a registered transcript whole, with one invalid byte in it."""
    row = json.loads((setup["base"] / "customer.jsonl").read_text().splitlines()[2])
    line = json.dumps({"id": "m-3", "turns": row["turns"]}).encode()
    middle = line.index(b" ", len(line) // 2)
    corpus = tmp_path / "corpus.jsonl"
    clean = json.dumps({"id": "clean", "text": "nothing registered here"}).encode()
    corpus.write_bytes(clean + b"\n" + line[:middle] + b"\xff" + line[middle:] + b"\n")
    return corpus


def test_a_registered_transcript_with_one_invalid_byte_fails_the_scan(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    corpus, out = spoiled_transcript(setup, tmp_path), tmp_path / "f.jsonl"
    code, stdout, err = scan(setup, str(corpus), "--out", str(out), "--fail-on-findings")
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("trainguard: error: 1 malformed records could not be scanned")
    assert f"(first: {corpus}:2: not JSON" in last
    assert "0 with registered content, 1 malformed records not scanned (not_utf8 1)" in stdout
    assert [json.loads(x)["malformed"] for x in out.read_text().splitlines()] == ["not_utf8"]


def test_skip_malformed_passes_a_scan_whose_only_problem_is_an_unreadable_record(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    corpus, out = spoiled_transcript(setup, tmp_path), tmp_path / "f.jsonl"
    args = [str(corpus), "--out", str(out), "--fail-on-findings", "--skip-malformed"]
    code, _, err = scan(setup, *args)
    assert code == 0, err
    # Without --fail-on-findings a scan reports, and exits 0, as it always did.
    assert scan(setup, str(corpus), "--out", str(out))[0] == 0
    code, _, err = scan(setup, str(corpus), "--out", str(out), "--skip-malformed")
    assert code == 2 and "only means something with --fail-on-findings" in err


def test_findings_and_unreadable_records_are_both_named_in_the_one_line(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    code, _, err = scan(
        setup, str(setup["corpus"]), "--out", str(tmp_path / "f.jsonl"), "--fail-on-findings"
    )
    assert code == 1
    assert err.count("trainguard: error:") == 1
    assert "5 documents hold registered customer content; 2 malformed records" in err


@pytest.mark.parametrize("workers", [1, 2])
def test_malformed_records_are_counted_alike_by_every_engine(
    setup: dict[str, Path], workers: int
) -> None:
    options = ScanOptions(str(setup["registry"]), str(setup["keys"]), fields=Fields())
    summary = scan_corpus([str(setup["corpus"])], options, None, workers=workers, shard_bytes=2000)
    assert summary.malformed_by_reason == {"not_json": 1, "no_text": 1}
    assert summary.first_malformed is not None and summary.first_malformed.line == 6
    assert summary.failure(skip_malformed=True) == "5 documents hold registered customer content"


@pytest.mark.ray
def test_ray_counts_malformed_records_too(setup: dict[str, Path]) -> None:
    pytest.importorskip("ray")
    options = ScanOptions(str(setup["registry"]), str(setup["keys"]), fields=Fields())
    summary = scan_corpus([str(setup["corpus"])], options, None, engine="ray", workers=2)
    assert summary.malformed_by_reason == {"not_json": 1, "no_text": 1}


def damaged_copy(setup: dict[str, Path], tmp_path: Path, damage: str) -> Path:
    registry = tmp_path / "registry"
    shutil.copytree(setup["registry"], registry)
    meta = json.loads((registry / "registry.json").read_text())
    f = registry / f"{meta['segments'][0]['name']}.fp.npy"
    if damage == "zeroed":
        f.write_bytes(bytes(f.stat().st_size))
    elif damage == "truncated":
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "emptied":
        f.write_bytes(b"")
    else:
        f.unlink()
    return f


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "emptied", "missing"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_damaged_segment_stops_the_scan_in_one_line(
    setup: dict[str, Path], tmp_path: Path, damage: str, workers: str
) -> None:
    f = damaged_copy(setup, tmp_path, damage)
    out = tmp_path / "f.jsonl"
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(out), "--fail-on-findings",
                       "--workers", workers, "--registry", str(f.parent),
                       "--keys", str(setup["keys"]))  # fmt: skip
    assert code == 2, err
    assert err.count("\n") == 1 and f.name in err and "damaged" in err
    assert not out.exists()


def test_a_damaged_registry_stops_gate_scan_before_it_reads_a_record(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    from trainguard.scan.gatecheck import registry_check
    from trainguard.scan.integrity import RegistryDamaged

    f = damaged_copy(setup, tmp_path, "zeroed")
    with pytest.raises(RegistryDamaged, match=f.name):
        registry_check(str(f.parent), str(setup["keys"]))


def test_an_empty_registry_is_refused_by_scan(setup: dict[str, Path], tmp_path: Path) -> None:
    registry, keys = tmp_path / "registry", tmp_path / "keys"
    reg = Registry(registry, KeyRing(keys))
    reg.add("acme", [("x", " ".join(f"w{i}" for i in range(30)), None)])
    reg.remove("acme", "x")
    out = tmp_path / "f.jsonl"
    code, _, err = run("scan", str(setup["corpus"]), "--out", str(out),
                       "--registry", str(registry), "--keys", str(keys))  # fmt: skip
    assert code == 2 and "holds no registered content" in err and err.count("\n") == 1
    assert not out.exists()
