"""--scan: mislabeled customer content is caught at the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.gate import verify_manifest
from trainguard.scan import KeyRing, Registry, transcript_text

from ..conftest import meeting_rows

runner = CliRunner()


def test_a_telemetry_record_holding_a_transcript_is_kept_out(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    meeting = meeting_rows()[0]
    text = transcript_text(meeting["turns"])
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [(meeting["meeting_id"], text, "customer.transcript")])

    db = str(tmp_path / "t.db")
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    assert (
        runner.invoke(
            app, ["--db", db, "policy", "add", *(str(policy_files[v]) for v in ("v1", "v2", "v3"))]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["--db", db, "tenant", "assign", "acme", "meetco-terms"]).exit_code == 0
    )
    pq.write_table(
        pa.table(
            {
                "id": ["t-1", "t-2"],
                "tenant": ["acme", "acme"],
                "category": ["service.telemetry", "service.telemetry"],
                "collected_at": ["2023-09-01T00:00:00Z"] * 2,
                "payload": ["cpu=3 mem=70", "debug dump: " + text[5000:7000]],
            }
        ),
        tmp_path / "in.parquet",
    )
    result = runner.invoke(
        app,
        ["--db", db, "gate", str(tmp_path / "in.parquet"), "--use", "train.first_party",
         "--out", str(tmp_path / "o"), "--at", "2023-09-02T00:00:00Z", "--scan",
         "--registry", str(tmp_path / "registry"), "--keys", str(tmp_path / "keys")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "o" / "manifest.parquet").to_pylist()}
    assert rows["t-1"]["allowed"]
    assert not rows["t-2"]["allowed"]
    assert rows["t-2"]["reasons"] == ["REGISTERED_CUSTOMER_CONTENT"]
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["scan"]["items"] == 1
    assert pq.read_table(tmp_path / "o" / "data").column("id").to_pylist() == ["t-1"]
    # The kept-out row's leaf is what its row says (its decision digest was made
    # for the kept-out variant, not the decision it replaced).
    assert verify_manifest(tmp_path / "o")["ok"]
    counts = {(c["category"], c["allowed"], c["reason"]): c["records"] for c in manifest["counts"]}
    assert counts[("service.telemetry", False, "REGISTERED_CUSTOMER_CONTENT")] == 1


@pytest.mark.parametrize("engine", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_a_record_whose_text_is_not_utf8_refuses_the_run_naming_it(
    tmp_path: Path, policy_files: dict[str, Path], engine: str
) -> None:
    """Fail closed: text the check cannot read could hide a transcript (a bad byte every
    few words breaks every window), so the run is refused rather than admit it."""
    meeting = meeting_rows()[0]
    text = transcript_text(meeting["turns"])
    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    registry.add("acme", [(meeting["meeting_id"], text, "customer.transcript")])
    db = str(tmp_path / "t.db")
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    policies = [str(policy_files[v]) for v in ("v1", "v2", "v3")]
    assert runner.invoke(app, ["--db", db, "policy", "add", *policies]).exit_code == 0
    assert runner.invoke(app, ["--db", db, "policy", "default", "meetco-terms"]).exit_code == 0
    spoiled = b" \xff ".join(w.encode() for w in text[5000:7000].split())
    raw = pa.array([b"cpu=3 mem=70", spoiled], pa.binary())
    payload = pa.Array.from_buffers(pa.string(), 2, raw.buffers())  # as a Parquet file may hold
    table = pa.table(
        {
            "id": ["t-1", "t-2"],
            "tenant": ["acme", "acme"],
            "category": ["service.telemetry", "service.telemetry"],
            "collected_at": ["2023-09-01T00:00:00Z"] * 2,
            "payload": payload,
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    result = runner.invoke(
        app,
        ["--db", db, "gate", str(tmp_path / "in.parquet"), "--use", "train.first_party",
         "--out", str(tmp_path / "o"), "--at", "2023-09-02T00:00:00Z", "--scan",
         "--registry", str(tmp_path / "registry"), "--keys", str(tmp_path / "keys"),
         "--engine", engine],
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert "record 't-2'" in result.stderr and "not valid UTF-8" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "o" / "data").exists()
