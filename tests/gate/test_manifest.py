"""Proving one record of a manifest: a record is named by (tenant, id)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.errors import InputError, NotFoundError
from trainguard.gate import prove_record, run_gate
from trainguard.gate.manifest import check_record_proof, manifest_tree
from trainguard.store import Store

from .conftest import AUG_15, records


@pytest.fixture
def shared_id(timeline_store: Store, tmp_path: Path) -> Path:
    """A gate output where acme and globex both have a record 'x1'."""
    table = records().set_column(0, "id", pa.array(["x1", "x1", "a", "b", "c"]))
    table = table.set_column(1, "tenant", pa.array(["acme", "globex", "acme", "acme", "acme"]))
    pq.write_table(table.drop_columns(["derived_from"]), tmp_path / "in.parquet")
    out = tmp_path / "o"
    run_gate(timeline_store, [str(tmp_path / "in.parquet")], "train.first_party", out, at=AUG_15)
    return out


def test_an_id_two_tenants_share_needs_the_tenant(shared_id: Path) -> None:
    with pytest.raises(
        InputError, match="held by tenants 'acme', 'globex'; say whose with --tenant"
    ):
        prove_record(shared_id, "x1")
    for tenant, row in (("acme", 0), ("globex", 1)):
        proof = prove_record(shared_id, "x1", tenant)
        assert (proof["index"], proof["row"]["tenant"]) == (row, tenant)
        assert check_record_proof(proof)
    with pytest.raises(NotFoundError, match="no record 'x1' of tenant 'hooli'"):
        prove_record(shared_id, "x1", "hooli")
    assert prove_record(shared_id, "a")["index"] == 2  # one tenant: no need to say


def test_a_manifest_from_before_with_a_repeated_id_is_refused(shared_id: Path) -> None:
    # Written by a gate that did not refuse duplicates yet: its root is right.
    table = pq.read_table(shared_id / "manifest.parquet")
    table = table.set_column(0, "id", pa.array(["x1", "x1", "a", "x1", "c"]))
    pq.write_table(table, shared_id / "manifest.parquet")
    meta = json.loads((shared_id / "manifest.json").read_text())
    meta["merkle"]["root"] = manifest_tree(table).root().hex()
    (shared_id / "manifest.json").write_text(json.dumps(meta))

    with pytest.raises(InputError) as caught:
        prove_record(shared_id, "x1", "acme")
    assert str(caught.value) == (
        f"{shared_id}: record id 'x1' of tenant 'acme' is in rows 0, 3 of this manifest "
        "(written before ids had to be unique within a tenant); no single row to prove: "
        "gate the data again"
    )
    assert prove_record(shared_id, "x1", "globex")["index"] == 1


def test_the_cli_asks_for_the_tenant_in_one_line(shared_id: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["manifest", "prove", str(shared_id), "x1"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--tenant" in result.stderr
    proof = tmp_path / "p.json"
    result = runner.invoke(
        app, ["manifest", "prove", str(shared_id), "x1", "--tenant", "globex", "-o", str(proof)]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(proof.read_text())["row"]["tenant"] == "globex"
