"""Gate runs end to end: what is admitted, what the manifest says, and that it proves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainguard.audit.merkle import MerkleTree, leaf_hash
from trainguard.errors import ConflictError, InputError, IntegrityError
from trainguard.gate import prove_record, run_gate, verify_manifest
from trainguard.gate.leaves import reference_leaf
from trainguard.gate.manifest import check_record_proof
from trainguard.store import Store

from .conftest import AUG_9, AUG_15, records


def manifest_rows(out: Path) -> dict[str, dict[str, object]]:
    return {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}


def test_on_aug_9_consented_chat_is_admitted_and_on_aug_15_it_is_not(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    from .conftest import admin_grant

    timeline_store.add_consent_events([admin_grant(timeline_store)])
    before = run_gate(
        timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "a", at=AUG_9
    )
    after = run_gate(
        timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "b", at=AUG_15
    )

    rows = manifest_rows(tmp_path / "a")
    assert rows["chat-1"]["allowed"] and rows["chat-1"]["consents"]
    assert rows["tele-1"]["reasons"] == ["ALLOWED"]
    later = manifest_rows(tmp_path / "b")
    assert later["chat-1"]["reasons"] == ["DENIED_AT_USE"]
    assert later["tele-1"]["allowed"]
    assert (before.records, after.records) == (5, 5)
    # The admitted data keeps the input's schema and holds exactly the admitted ids.
    data = pq.read_table(tmp_path / "b" / "data")
    assert data.schema.names == records().schema.names
    assert sorted(data.column("id").to_pylist()) == sorted(
        i for i, r in later.items() if r["allowed"]
    )


def test_derived_records_inherit_the_categories_of_their_sources(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    run_gate(timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "o", at=AUG_15)
    rows = manifest_rows(tmp_path / "o")
    # A summary of a chat is chat too; usage compiled from telemetry stays service data.
    assert rows["summary-1"]["categories"] == ["customer.ai_output", "customer.chat"]
    assert not rows["summary-1"]["allowed"]
    assert rows["usage-1"]["categories"] == ["service.telemetry", "service.usage"]
    assert rows["usage-1"]["allowed"]


def test_sources_can_be_found_in_an_earlier_manifest(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    run_gate(
        timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "first", at=AUG_15
    )
    later = pa.table(
        {
            "id": ["embedding-1", "orphan-1"],
            "tenant": ["acme", "acme"],
            "category": ["service.diagnostics", "service.diagnostics"],
            "collected_at": ["2023-08-12T00:00:00Z"] * 2,
            "derived_from": [["chat-1"], ["no-such-record"]],
        }
    )
    pq.write_table(later, tmp_path / "later.parquet")
    run_gate(
        timeline_store,
        [str(tmp_path / "later.parquet")],
        "train.first_party",
        tmp_path / "second",
        at=AUG_15,
        lineage_dirs=[tmp_path / "first"],
    )
    rows = manifest_rows(tmp_path / "second")
    assert "customer.chat" in rows["embedding-1"]["categories"]
    assert not rows["embedding-1"]["allowed"]
    # A source no one can find: its categories are unknown, so the record is denied.
    assert rows["orphan-1"]["reasons"] == ["UNKNOWN_CATEGORY"]


def test_the_root_can_be_recomputed_from_the_parquet_rows_alone(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    result = run_gate(timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_15)
    table = pq.read_table(out / "manifest.parquet")
    # Independently of the compiled encoder: the plain definition, row by row.
    leaves = [leaf_hash(reference_leaf(r)) for r in table.to_pylist()]
    assert MerkleTree(leaves).root().hex() == result.root
    assert json.loads((out / "manifest.json").read_text())["merkle"]["root"] == result.root
    assert verify_manifest(out)["ok"]

    proof = prove_record(out, "summary-1")
    assert proof["row"]["id"] == "summary-1"
    assert check_record_proof(proof)
    proof["row"]["allowed"] = True  # claim the summary went in
    assert not check_record_proof(proof)


def test_a_manifest_edited_after_the_run_fails_verification(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    run_gate(timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_15)
    table = pq.read_table(out / "manifest.parquet")
    flipped = table.set_column(
        table.schema.get_field_index("allowed"), "allowed", pa.array([True] * table.num_rows)
    )
    pq.write_table(flipped, out / "manifest.parquet")
    with pytest.raises(IntegrityError, match="does not match"):
        verify_manifest(out)


def test_a_manifest_with_leaves_of_another_format_is_refused_as_such(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    run_gate(timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_15)
    meta = json.loads((out / "manifest.json").read_text())
    meta["merkle"]["leaf"] = "SHA-256(0x00 || RFC 8785 JSON of the manifest.parquet row)"
    (out / "manifest.json").write_text(json.dumps(meta))
    with pytest.raises(IntegrityError, match="leaves of another format"):
        verify_manifest(out)


def test_same_inputs_and_state_give_the_same_manifest_bytes(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        run_gate(
            timeline_store, [str(records_parquet)], "infer.feature", tmp_path / name, at=AUG_15
        )
    for f in ("manifest.json", "manifest.parquet"):
        a, b = (hashlib.sha256((tmp_path / n / f).read_bytes()).digest() for n in "ab")
        assert a == b, f


def test_counts_and_root_do_not_depend_on_the_batch_size(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    # Batches of 1 row count by touching cells; one batch of all rows by a bincount.
    results = [
        run_gate(
            timeline_store, [str(records_parquet)], "train.first_party", tmp_path / f"b{rows}",
            at=AUG_15, batch_rows=rows,
        )
        for rows in (1, 100_000)
    ]  # fmt: skip
    assert results[0].manifest["counts"] == results[1].manifest["counts"]
    assert results[0].root == results[1].root


def test_an_existing_output_is_kept_unless_replace_is_asked(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    first = run_gate(timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_9)
    with pytest.raises(ConflictError, match="--replace"):
        run_gate(timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_15)
    assert verify_manifest(out)["root"] == first.root
    second = run_gate(
        timeline_store, [str(records_parquet)], "train.first_party", out, at=AUG_15, replace=True
    )
    assert verify_manifest(out)["root"] == second.root != first.root
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_gate_run_is_in_the_audit_log(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    result = run_gate(
        timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "o", at=AUG_15
    )
    assert result.audit_index is not None
    entry = timeline_store.audit.entry(result.audit_index)["entry"]
    assert entry["kind"] == "gate.run"
    assert entry["data"]["root"] == result.root
    assert (
        entry["data"]["inputs"][0]["sha256"]
        == hashlib.sha256(records_parquet.read_bytes()).hexdigest()
    )


def test_jsonl_csv_and_compressed_inputs_are_read_too(
    timeline_store: Store, tmp_path: Path
) -> None:
    import gzip

    rows = records().drop_columns(["subjects", "derived_from"]).to_pylist()
    (tmp_path / "in").mkdir()
    with gzip.open(tmp_path / "in" / "a.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows[:3])
    (tmp_path / "in" / "b.csv").write_text(
        "id,tenant,category,collected_at,text\n"
        + "".join(
            f"{r['id']},{r['tenant']},{r['category']},{r['collected_at']},{r['text']}\n"
            for r in rows[3:]
        )
    )
    (tmp_path / "in" / "README").write_text("not data")
    result = run_gate(
        timeline_store, [str(tmp_path / "in")], "train.first_party", tmp_path / "o", at=AUG_15
    )
    assert result.records == 5
    assert [i["format"] for i in result.manifest["inputs"]] == ["jsonl", "csv"]


def test_a_mapping_file_names_the_columns(timeline_store: Store, tmp_path: Path) -> None:
    from trainguard.gate import ColumnMapping

    (tmp_path / "m.yaml").write_text(
        "id: msg\ntenant: account\ncategory_value: customer.chat\ncollected_at: sent\n"
        "subjects: people\ncontent: [body]\n"
    )
    table = pa.table(
        {
            "msg": ["m1"],
            "account": ["acme"],
            "sent": ["2023-05-01T00:00:00Z"],
            "people": [["bob"]],
            "body": ["hello"],
            "note": ["not content"],
        }
    )
    pq.write_table(table, tmp_path / "chat.parquet")
    result = run_gate(
        timeline_store,
        [str(tmp_path / "chat.parquet")],
        "infer.feature",
        tmp_path / "o",
        at=AUG_15,
        mapping=ColumnMapping.load(tmp_path / "m.yaml"),
    )
    row = manifest_rows(tmp_path / "o")["m1"]
    assert row["categories"] == ["customer.chat"]
    assert row["content_sha256"] == hashlib.sha256(b"5:hello,").digest()
    assert result.manifest["inputs"][0]["content_columns"] == ["body"]


def test_hidden_files_in_a_source_folder_are_not_data(
    timeline_store: Store, tmp_path: Path
) -> None:
    (tmp_path / "in" / ".cache").mkdir(parents=True)
    pq.write_table(records(), tmp_path / "in" / "a.parquet")
    pq.write_table(records(), tmp_path / "in" / ".cache" / "stale.parquet")
    result = run_gate(
        timeline_store, [str(tmp_path / "in")], "train.first_party", tmp_path / "o", at=AUG_15
    )
    assert [i["url"].rsplit("/", 1)[-1] for i in result.manifest["inputs"]] == ["a.parquet"]


# --- record ids are unique within a tenant ----------------------------------------------


def gate_refused(store: Store, sources: list[Path], out: Path, **options: object) -> str:
    """Run the gate expecting a refusal; check it wrote and recorded nothing."""
    size = store.audit.size()
    with pytest.raises(InputError) as caught:
        run_gate(store, [str(s) for s in sources], "train.first_party", out, at=AUG_15, **options)  # type: ignore[arg-type]
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    assert store.audit.size() == size
    message = str(caught.value)
    assert "\n" not in message
    return message


def with_ids(table: pa.Table, ids: list[str], tenants: list[str] | None = None) -> pa.Table:
    table = table.set_column(0, "id", pa.array(ids))
    if tenants is not None:
        table = table.set_column(1, "tenant", pa.array(tenants))
    return table


def test_an_id_repeated_within_a_batch_refuses_the_run(
    timeline_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(with_ids(records(), ["a", "b", "c", "b", "e"]), path)
    message = gate_refused(timeline_store, [path], tmp_path / "o")
    assert message == (
        f"record id 'b' of tenant 'acme' appears twice: {path} row 1 and {path} row 3; "
        "ids must be unique within a tenant"
    )


def test_an_id_repeated_across_batches_and_files_refuses_the_run(
    timeline_store: Store, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(records(), first)
    pq.write_table(with_ids(records(), ["n1", "n2", "n3", "n4", "chat-1"]), second)
    # One row per batch: the two rows meet in no batch, and not in one file either.
    message = gate_refused(timeline_store, [first, second], tmp_path / "o", batch_rows=1)
    assert f"'chat-1' of tenant 'acme' appears twice: {first} row 0 and {second} row 4" in message


def test_a_spilled_run_finds_a_duplicate_far_from_its_first_row(
    timeline_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainguard.gate.unique as unique

    monkeypatch.setattr(unique, "MEMORY_DIGESTS", 4)  # spill to bucket files every 4 rows
    n = 200
    ids = [f"r{i}" for i in range(n)]
    table = pa.concat_tables([records()] * (n // 5))
    files = []
    for k in range(4):
        chunk = ids[k * 50 : (k + 1) * 50]
        if k == 3:
            chunk[-1] = "r7"  # the last row of the last file repeats a row of the first
        files.append(tmp_path / f"part-{k}.parquet")
        pq.write_table(with_ids(table.slice(k * 50, 50), chunk), files[-1])
    message = gate_refused(timeline_store, files, tmp_path / "o", batch_rows=3)
    assert f"'r7' of tenant 'acme' appears twice: {files[0]} row 7 and {files[3]} row 49" in message


def test_the_same_id_under_two_tenants_is_two_records(
    timeline_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(
        with_ids(
            records(), ["x1"] * 5, ["acme", "globex", "initech", "umbrella", "hooli"]
        ).drop_columns(["derived_from"]),
        path,
    )
    result = run_gate(timeline_store, [str(path)], "train.first_party", tmp_path / "o", at=AUG_15)
    assert result.records == 5


# --- lineage is scoped by tenant ------------------------------------------------------------


def lineage_table(rows: list[tuple[str, str, str, list[str]]]) -> pa.Table:
    return pa.table(
        {
            "id": [r[0] for r in rows],
            "tenant": [r[1] for r in rows],
            "category": [r[2] for r in rows],
            "collected_at": ["2023-08-12T00:00:00Z"] * len(rows),
            "derived_from": [r[3] for r in rows],
        }
    )


def test_a_record_derived_from_chat_is_not_admitted_through_a_duplicate_id(
    timeline_store: Store, tmp_path: Path
) -> None:
    # The attack: a second, harmless row under the chat's id, placed last so that
    # "last row wins" would give the summary the harmless row's categories.
    path = tmp_path / "in.parquet"
    pq.write_table(
        lineage_table(
            [
                ("x1", "acme", "customer.chat", []),
                ("s1", "acme", "service.usage", ["x1"]),
                ("x1", "acme", "service.telemetry", []),
            ]
        ),
        path,
    )
    message = gate_refused(timeline_store, [path], tmp_path / "o")
    assert "'x1' of tenant 'acme' appears twice" in message


def test_another_tenants_record_never_stands_in_for_a_source(
    timeline_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(
        lineage_table(
            [
                ("x1", "acme", "customer.chat", []),
                ("x1", "globex", "service.telemetry", []),
                ("s1", "acme", "service.usage", ["x1"]),  # acme's x1: chat
                ("s2", "globex", "service.usage", ["x1"]),  # globex's x1: telemetry
                ("s3", "initech", "service.usage", ["x1"]),  # initech has no x1
            ]
        ),
        path,
    )
    run_gate(timeline_store, [str(path)], "train.first_party", tmp_path / "o", at=AUG_15)
    rows = manifest_rows_by_key(tmp_path / "o")
    assert rows["acme", "s1"]["categories"] == ["customer.chat", "service.usage"]
    assert not rows["acme", "s1"]["allowed"]
    assert rows["globex", "s2"]["categories"] == ["service.telemetry", "service.usage"]
    assert rows["globex", "s2"]["allowed"]
    assert rows["initech", "s3"]["reasons"] == ["UNKNOWN_CATEGORY"]  # fails closed


def test_lineage_manifests_are_looked_up_by_tenant_and_id(
    timeline_store: Store, tmp_path: Path
) -> None:
    # Another tenant's x1 in the earlier manifest does not hide acme's x1 there.
    pq.write_table(
        lineage_table(
            [("x1", "acme", "customer.chat", []), ("x1", "globex", "service.telemetry", [])]
        ),
        tmp_path / "first.parquet",
    )
    run_gate(
        timeline_store, [str(tmp_path / "first.parquet")], "train.first_party",
        tmp_path / "first", at=AUG_15,
    )  # fmt: skip
    pq.write_table(
        lineage_table(
            [("s1", "acme", "service.usage", ["x1"]), ("s2", "hooli", "service.usage", ["x1"])]
        ),
        tmp_path / "later.parquet",
    )
    run_gate(
        timeline_store, [str(tmp_path / "later.parquet")], "train.first_party",
        tmp_path / "second", at=AUG_15, lineage_dirs=[tmp_path / "first"],
    )  # fmt: skip
    rows = manifest_rows_by_key(tmp_path / "second")
    assert "customer.chat" in rows["acme", "s1"]["categories"]
    assert not rows["acme", "s1"]["allowed"]
    assert rows["hooli", "s2"]["reasons"] == ["UNKNOWN_CATEGORY"]


def test_a_source_in_a_file_without_derived_from_is_found(
    timeline_store: Store, tmp_path: Path
) -> None:
    chat = lineage_table([("x1", "acme", "customer.chat", [])]).drop_columns(["derived_from"])
    pq.write_table(chat, tmp_path / "a.parquet")
    pq.write_table(lineage_table([("s1", "acme", "service.usage", ["x1"])]), tmp_path / "b.parquet")
    run_gate(
        timeline_store, [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")],
        "train.first_party", tmp_path / "o", at=AUG_15,
    )  # fmt: skip
    row = manifest_rows_by_key(tmp_path / "o")["acme", "s1"]
    assert row["categories"] == ["customer.chat", "service.usage"]
    assert not row["allowed"]


def manifest_rows_by_key(out: Path) -> dict[tuple[str, str], dict[str, object]]:
    table = pq.read_table(out / "manifest.parquet")
    return {(r["tenant"], r["id"]): r for r in table.to_pylist()}


def test_a_run_that_fails_after_spilling_ids_leaves_nothing(
    timeline_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import trainguard.gate.unique as unique

    monkeypatch.setattr(unique, "MEMORY_DIGESTS", 2)
    good, bad = tmp_path / "a.parquet", tmp_path / "b.parquet"
    plain = records().drop_columns(["derived_from"])  # no first pass: fail in the main one
    pq.write_table(plain, good)
    wrong = plain.set_column(2, "category", pa.array(["customer.hologram"] * 5))
    pq.write_table(with_ids(wrong, ["n1", "n2", "n3", "n4", "n5"]), bad)
    message = gate_refused(timeline_store, [good, bad], tmp_path / "o", batch_rows=2)
    assert "unknown category 'customer.hologram'" in message
    gc.collect()  # an unclosed bucket file would warn here (warnings are errors)
