"""gate --scan with media: a record whose binary content is a registered recording or
slide is kept out, whatever its labels say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.gate import verify_manifest
from trainguard.scan import Registry
from trainguard.scan.media import samples as S

from .conftest import RATE, recording

runner = CliRunner()


def gate_input(tmp_path: Path, policy_files: dict[str, Path], with_text: bool) -> list[str]:
    """A registry holding a recording and a slide of tenant acme (and a text if
    ``with_text``), a store with the demo's terms, and in.parquet: a clean recording,
    the registered call as mp3, the registered slide as JPEG, and bytes that are not
    media. Returns the gate's command line, less --out and --engine."""
    options = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    (tmp_path / "customer").mkdir()
    (tmp_path / "customer" / "call.wav").write_bytes(S.encode_audio(recording(1, 15.0), RATE))
    (tmp_path / "customer" / "slide.png").write_bytes(S.image_bytes(S.slide(1, 5)))
    assert (
        runner.invoke(
            app, ["registry", "add", str(tmp_path / "customer"), "--tenant", "acme", *options]
        ).exit_code
        == 0
    )
    if with_text:
        from trainguard.scan import KeyRing

        Registry(tmp_path / "r", KeyRing(tmp_path / "k")).add(
            "acme", [("doc", "a registered text " * 40, None)]
        )
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
        pa.table({
            "id": ["clean-audio", "copied-call", "copied-slide", "other-bytes"],
            "tenant": ["acme"] * 4,
            "category": ["service.telemetry"] * 4,
            "collected_at": ["2023-09-01T00:00:00Z"] * 4,
            "payload": [
                S.encode_audio(recording(80, 12.0), RATE, "mp3", "libmp3lame", 48000),
                S.encode_audio(recording(1, 15.0), RATE, "mp3", "libmp3lame", 48000),
                S.image_bytes(S.slide(1, 5).convert("RGB"), "JPEG", quality=40),
                b"\x00\x01 not media",
            ],
        }),
        tmp_path / "in.parquet",
    )  # fmt: skip
    return ["--db", db, "gate", str(tmp_path / "in.parquet"), "--use", "train.first_party",
            "--at", "2023-09-02T00:00:00Z", "--scan", *options]  # fmt: skip


def assert_copies_kept_out(out: Path) -> None:
    rows = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert rows["clean-audio"]["allowed"] and rows["other-bytes"]["allowed"]
    for kept_out in ("copied-call", "copied-slide"):
        assert not rows[kept_out]["allowed"]
        assert rows[kept_out]["reasons"] == ["REGISTERED_CUSTOMER_CONTENT"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scan"]["media_items"] == {"audio": 1, "image": 1, "video": 0}
    assert verify_manifest(out)["ok"]


@pytest.mark.parametrize("with_text", [False, True], ids=["media only", "text and media"])
def test_registered_media_in_a_binary_column_is_kept_out(
    tmp_path: Path, policy_files: dict[str, Path], with_text: bool
) -> None:
    result = runner.invoke(app, [*gate_input(tmp_path, policy_files, with_text),
                                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert_copies_kept_out(tmp_path / "o")


@pytest.mark.ray
def test_on_ray_the_same_records_are_kept_out_as_on_the_local_engine(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    """The media check travels to Ray's workers (pickled without its matcher; each
    opens the registry itself) and decides what it decides here."""
    pytest.importorskip("ray")
    command = gate_input(tmp_path, policy_files, with_text=False)
    for engine in ("local", "ray"):
        result = runner.invoke(app, [*command, "--out", str(tmp_path / engine),
                                     "--engine", engine])  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert_copies_kept_out(tmp_path / engine)
    assert (
        pq.read_table(tmp_path / "ray" / "manifest.parquet").to_pylist()
        == pq.read_table(tmp_path / "local" / "manifest.parquet").to_pylist()
    )
    assert (
        pq.read_table(tmp_path / "ray" / "data").to_pylist()
        == pq.read_table(tmp_path / "local" / "data").to_pylist()
    )
