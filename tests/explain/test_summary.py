"""The public training summary counts what the model's manifests hold, section by
section of the AI Office's template, and refuses manifests changed since."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.errors import IntegrityError, NotFoundError
from trainguard.explain.summary import summary_html, training_summary
from trainguard.gate import run_gate
from trainguard.lineage import register_model
from trainguard.store import Store

from .conftest import World


def _manifest_counts(out_dir: Path) -> tuple[Counter[str], Counter[str], int, int]:
    meta = json.loads((out_dir / "manifest.json").read_text())
    admitted: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for c in meta["counts"]:
        if c["allowed"]:
            admitted[c["category"]] += c["records"]
        else:
            reasons[c["reason"]] += c["records"]
    return admitted, reasons, meta["records"], meta["admitted"]


def test_the_numbers_are_the_manifests_counts(world: World) -> None:
    admitted, reasons, records, admitted_total = _manifest_counts(world.gate.out_dir)
    s = training_summary(world.demo.store, world.gate.model, provider="MeetCo")
    general = s["general_information"]
    assert general["provider"]["name"] == "MeetCo"
    size = general["training_data_size"]
    assert size["records_trained_on"] == admitted_total == world.gate.admitted
    assert size["records_considered"] == records
    assert size["records_kept_out"] == records - admitted_total
    assert {"+".join(c["categories"]): c["records"] for c in general["categories_trained_on"]} == (
        admitted
    )
    processing = s["data_processing"]
    assert {r["reason"]: r["records"] for r in processing["kept_out_by_reason"]} == reasons
    # Every record of the demo's set is a user's: customer content or telemetry.
    user = s["data_sources"]["user_data"]
    assert user["used"] and user["records"] == admitted_total
    assert user["answer"].startswith(f"Yes: {admitted_total:,} of the records")
    assert not s["data_sources"]["web_crawled_data"]["used"]
    assert (
        general["modalities"]["audio"]
        == admitted["customer.audio"] + admitted["customer.audio+customer.transcript"]
    )


def test_a_model_of_public_and_synthetic_data_answers_no_to_user_data(
    store: Store, policy_files: dict[str, Path], tmp_path: Path
) -> None:
    from trainguard.decision.policy import load_policy_file

    store.add_policies([(load_policy_file(policy_files["v1"]), "v1")])
    store.assign_tenant("open", "meetco-terms")
    source = tmp_path / "open.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [f"d{i}" for i in range(7)],
                "tenant": ["open"] * 7,
                "category": ["external.public_web"] * 4 + ["external.synthetic"] * 3,
                "collected_at": [datetime(2023, 5, 1, tzinfo=UTC)] * 7,
                "text": ["x"] * 7,
            }
        ),
        source,
    )
    when = datetime(2023, 6, 1, tzinfo=UTC)
    run_gate(store, [str(source)], "train.first_party", tmp_path / "gated", at=when)
    register_model(store, "open-model", [tmp_path / "gated"], when)
    s = training_summary(store, "open-model")
    sources = s["data_sources"]
    assert (sources["web_crawled_data"]["records"], sources["synthetic_data"]["records"]) == (4, 3)
    assert not sources["user_data"]["used"]
    assert sources["user_data"]["answer"].startswith("No: none of the records")
    assert s["general_information"]["provider"]["name"] == "not stated"


def test_a_manifest_edited_after_registration_is_refused(world: World) -> None:
    path = world.gate.out_dir / "manifest.parquet"
    table = pq.read_table(path)
    flipped = table.set_column(
        table.schema.get_field_index("allowed"), "allowed", pc.invert(table.column("allowed"))
    )
    pq.write_table(flipped, path)
    with pytest.raises(IntegrityError, match="changed since it was registered"):
        training_summary(world.demo.store, world.gate.model)


def test_the_html_has_the_templates_three_sections(world: World) -> None:
    page = summary_html(training_summary(world.demo.store, world.gate.model))
    for heading in (
        "<h2>1. General information</h2>",
        "<h2>2. List of data sources</h2>",
        "<h3>2.4 User data</h3>",
        "<h2>3. Data processing aspects</h2>",
    ):
        assert heading in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_summary_command_and_its_bad_input(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(world.demo.store.url.split("///", 1)[1])]
    out = tmp_path / "s.html"
    made = runner.invoke(
        app, [*db, "summary", "--model", world.gate.model, "--format", "html", "--out", str(out)]
    )
    assert made.exit_code == 0, made.stderr
    assert "1. General information" in out.read_text()
    shown = runner.invoke(app, [*db, "summary", "--model", world.gate.model])
    assert json.loads(shown.stdout)["general_information"]["model"]["name"] == world.gate.model
    for args, problem in [
        (["summary", "--model", "nope"], "model 'nope' is not registered"),
        (["summary", "--model", world.gate.model, "--format", "pdf"], "--format 'pdf'"),
    ]:
        bad = runner.invoke(app, [*db, *args])
        assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and problem in bad.stderr


def test_an_unknown_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        training_summary(store, "nope")


def test_a_tenants_part_counts_its_records_only_and_the_parts_add_up(world: World) -> None:
    store, name = world.demo.store, world.gate.model
    whole = training_summary(store, name)
    parts = [training_summary(store, name, tenant=t) for t in ("acme", "globex")]
    assert whole["tenant"] is None and [p["tenant"] for p in parts] == ["acme", "globex"]
    for key in ("records_considered", "records_trained_on", "records_kept_out"):
        sizes = [p["general_information"]["training_data_size"][key] for p in parts]
        assert sum(sizes) == whole["general_information"]["training_data_size"][key]
        assert key != "records_considered" or all(sizes)
    assert "records of tenant acme only" in summary_html(parts[0])
    assert "records of tenant" not in summary_html(whole)
    shown = CliRunner().invoke(
        app,
        ["--db", store.url.split("///", 1)[1], "summary", "--model", name, "--tenant", "globex"],
    )
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) | {"generated_at": None} == parts[1] | {"generated_at": None}
