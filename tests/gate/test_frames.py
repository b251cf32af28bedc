"""The in-memory entry points decide exactly as a gate run does."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainguard.gate import gate_pandas, gate_polars, gate_table, ray_gate, run_gate
from trainguard.store import Store

from .conftest import AUG_15, records


def test_arrow_pandas_and_polars_admit_the_same_rows(timeline_store: Store) -> None:
    ctx = timeline_store.context()
    admitted, manifest = gate_table(ctx, records(), "train.first_party", AUG_15)
    assert sorted(admitted.column("id").to_pylist()) == ["tele-1", "usage-1"]
    assert manifest.num_rows == 5

    frame, manifest_pd = gate_pandas(ctx, records().to_pandas(), "train.first_party", AUG_15)
    assert sorted(frame["id"]) == ["tele-1", "usage-1"]
    assert manifest_pd.equals(manifest)

    import polars as pl

    pl_frame, manifest_pl = gate_polars(ctx, pl.from_arrow(records()), "train.first_party", AUG_15)  # type: ignore[arg-type]
    assert sorted(pl_frame["id"].to_list()) == ["tele-1", "usage-1"]
    assert manifest_pl.equals(manifest)


def test_gate_table_matches_the_manifest_of_a_run(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    _, manifest = gate_table(timeline_store.context(), records(), "train.first_party", AUG_15)
    run_gate(timeline_store, [str(records_parquet)], "train.first_party", tmp_path / "o", at=AUG_15)
    assert pq.read_table(tmp_path / "o" / "manifest.parquet").equals(manifest)


@pytest.mark.ray
def test_ray_engine_writes_the_same_bytes_as_the_local_one(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    ray = pytest.importorskip("ray")
    from trainguard.gate.raygate import run_gate_on_ray

    second = tmp_path / "second.parquet"
    more = records().slice(1, 3)
    pq.write_table(more.set_column(0, "id", pa.array(["audio-2", "tele-2", "summary-2"])), second)
    sources = [str(records_parquet), str(second)]
    local = run_gate(timeline_store, sources, "train.first_party", tmp_path / "local", at=AUG_15)
    on_ray = run_gate_on_ray(
        timeline_store, sources, "train.first_party", tmp_path / "ray", at=AUG_15
    )
    assert local.root == on_ray.root
    for f in (
        "manifest.json",
        "manifest.parquet",
        "data/part-00000.parquet",
        "data/part-00001.parquet",
    ):
        assert filecmp.cmp(tmp_path / "local" / f, tmp_path / "ray" / f, shallow=False), f

    # And the map_batches callable admits what gate_table admits.
    ds = ray.data.from_arrow(records())
    admitted = ds.map_batches(
        ray_gate(timeline_store.context(), "train.first_party", AUG_15), batch_format="pyarrow"
    )
    assert sorted(r["id"] for r in admitted.take_all()) == ["tele-1", "usage-1"]


@pytest.mark.ray
def test_ray_engine_refuses_an_id_repeated_in_another_shard(
    timeline_store: Store, records_parquet: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    from trainguard.errors import InputError
    from trainguard.gate.raygate import run_gate_on_ray

    second = tmp_path / "second.parquet"
    pq.write_table(
        records().set_column(0, "id", pa.array(["n1", "n2", "chat-1", "n4", "n5"])), second
    )
    size = timeline_store.audit.size()
    with pytest.raises(InputError) as caught:
        run_gate_on_ray(
            timeline_store, [str(records_parquet), str(second)], "train.first_party",
            tmp_path / "o", at=AUG_15,
        )  # fmt: skip
    assert str(caught.value) == (
        f"record id 'chat-1' of tenant 'acme' appears twice: {records_parquet} row 0 and "
        f"{second} row 2; ids must be unique within a tenant"
    )
    assert not (tmp_path / "o").exists() and timeline_store.audit.size() == size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.")]


def test_gate_table_refuses_a_repeated_id(timeline_store: Store) -> None:
    from trainguard.errors import InputError

    table = records().set_column(0, "id", pa.array(["a", "b", "a", "c", "d"]))
    with pytest.raises(InputError, match="'a' of tenant 'acme' appears twice, in rows 0 and 2"):
        gate_table(timeline_store.context(), table, "train.first_party", AUG_15)
