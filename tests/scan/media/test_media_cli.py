"""registry add and scan on media: folders, WebDataset tar shards, Parquet binary
columns; kinds inferred from the files; --fail-on-findings; keys."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.scan.media import samples as S

from .conftest import RATE, recording

runner = CliRunner()


@pytest.fixture
def registry(tmp_path: Path) -> list[str]:
    """Tenant acme's recording meeting.wav and slide slide.png; the options that name them."""
    rec = tmp_path / "customer"
    rec.mkdir()
    (rec / "meeting.wav").write_bytes(S.encode_audio(recording(1, 15.0), RATE))
    (rec / "slide.png").write_bytes(S.image_bytes(S.slide(1, 5)))
    options = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    result = runner.invoke(
        app,
        [
            "registry",
            "add",
            str(rec),
            "--tenant",
            "acme",
            "--category",
            "customer.recording",
            *options,
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "registered 2 media items for tenant 'acme'" in result.stdout
    return options


def findings(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_webdataset_tar_shard_is_scanned_member_by_member(
    tmp_path: Path, registry: list[str]
) -> None:
    shard = tmp_path / "shard-000000.tar"
    members = {
        "000001.mp3": S.encode_audio(recording(1, 15.0), RATE, "mp3", "libmp3lame", 48000),
        "000001.txt": b"a caption",
        "000002.jpg": S.image_bytes(S.slide(1, 5).convert("RGB"), "JPEG", quality=40),
        "000003.jpg": S.image_bytes(S.slide(2, 5).convert("RGB"), "JPEG", quality=40),
    }
    with tarfile.open(shard, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "f.jsonl"
    result = runner.invoke(
        app, ["scan", str(shard), "--out", str(out), "--fail-on-findings", *registry]
    )
    assert result.exit_code == 1
    found = findings(out)
    assert [(f["doc_id"], f["kind"], f["spans"][0]["item"]) for f in found] == [
        ("000001.mp3", "audio", str(tmp_path / "customer" / "meeting.wav")),
        ("000002.jpg", "image", str(tmp_path / "customer" / "slide.png")),
    ]
    assert found[0]["spans"][0]["category"] == "customer.recording"
    assert "3 media records" in result.stdout


def test_parquet_binary_columns_are_scanned_with_their_ids(
    tmp_path: Path, registry: list[str]
) -> None:
    table = pa.table(
        {
            "id": ["clean", "copy"],
            "audio": [
                S.encode_audio(recording(50, 12.0), RATE, "mp3", "libmp3lame", 48000),
                S.encode_audio(recording(1, 15.0), RATE, "adts", "aac", 32000),
            ],
        }
    )
    pq.write_table(table, tmp_path / "corpus.parquet")
    out = tmp_path / "f.jsonl"
    result = runner.invoke(
        app,
        ["scan", str(tmp_path / "corpus.parquet"), "--kind", "media", "--out", str(out), *registry],
    )
    assert result.exit_code == 0, result.stderr
    assert [f["doc_id"] for f in findings(out)] == ["copy"]


def test_a_clean_corpus_passes_fail_on_findings(tmp_path: Path, registry: list[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "other.mp3").write_bytes(
        S.encode_audio(recording(60, 12.0), RATE, "mp3", "libmp3lame", 48000)
    )
    (corpus / "other.png").write_bytes(S.image_bytes(S.slide(3, 8)))
    out = tmp_path / "f.jsonl"
    result = runner.invoke(
        app, ["scan", str(corpus), "--out", str(out), "--fail-on-findings", *registry]
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == ""


def test_another_key_folder_is_refused_rather_than_finding_nothing(
    tmp_path: Path, registry: list[str]
) -> None:
    (tmp_path / "a.wav").write_bytes(S.encode_audio(recording(1, 5.0), RATE))
    other = ["--registry", registry[1], "--keys", str(tmp_path / "other-keys")]
    result = runner.invoke(
        app, ["scan", str(tmp_path / "a.wav"), "--out", str(tmp_path / "f.jsonl"), *other]
    )
    assert result.exit_code == 2
    assert "no key of any tenant" in result.stderr


def test_registered_values_are_keyed(tmp_path: Path, registry: list[str]) -> None:
    """No unkeyed landmark of the recording is among the stored values (beyond chance)."""
    import numpy as np

    from trainguard.scan.media.decode import decode
    from trainguard.scan.media.store import fingerprint

    fp = fingerprint(decode((tmp_path / "customer" / "meeting.wav").read_bytes(), "m"))
    stored = np.concatenate(
        [np.load(f) for f in (tmp_path / "r" / "media").glob("audio-*.hash.npy")]
    )
    assert np.isin(stored, fp.landmarks).mean() < 0.01


def test_an_unknown_kind_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["registry", "add", str(tmp_path), "--tenant", "acme", "--kind", "sound"]
    )
    assert result.exit_code == 2 and "--kind 'sound' is not one of" in result.stderr


def test_stats_and_remove_cover_media_items(tmp_path: Path, registry: list[str]) -> None:
    stats = json.loads(runner.invoke(app, ["registry", "stats", *registry]).stdout)
    assert stats["media"]["items"] == {"audio": 1, "image": 1, "video": 0}
    wav = str(tmp_path / "customer" / "meeting.wav")
    result = runner.invoke(app, ["registry", "remove", wav, "--tenant", "acme", *registry])
    assert result.exit_code == 0 and "removed audio item" in result.stdout
    (tmp_path / "copy.mp3").write_bytes(
        S.encode_audio(recording(1, 15.0), RATE, "mp3", "libmp3lame", 48000)
    )
    out = tmp_path / "f.jsonl"
    assert (
        runner.invoke(
            app, ["scan", str(tmp_path / "copy.mp3"), "--out", str(out), *registry]
        ).exit_code
        == 0
    )
    assert out.read_text() == ""  # its fingerprints are gone
    stats = json.loads(runner.invoke(app, ["registry", "stats", *registry]).stdout)
    assert stats["media"]["items"] == {"audio": 0, "image": 1, "video": 0}
    again = runner.invoke(app, ["registry", "remove", wav, "--tenant", "acme", *registry])
    assert again.exit_code == 2 and again.stderr.count("\n") == 1


def test_kinds_are_inferred_from_the_sources(tmp_path: Path) -> None:
    from trainguard.scan.media.run import looks_like_media

    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.mp3").write_bytes(b"")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "docs.jsonl").write_text("{}\n")
    (tmp_path / "text" / "logo.png").write_bytes(b"")
    assert looks_like_media([str(tmp_path / "media")])
    assert looks_like_media([str(tmp_path / "shard.tar")])
    assert not looks_like_media([str(tmp_path / "text")])  # a text corpus with a stray picture
    assert not looks_like_media([str(tmp_path / "corpus.parquet")])


def test_workers_find_the_same_in_the_same_order(tmp_path: Path, registry: list[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate((1, 70, 1, 71)):
        (corpus / f"{i}.mp3").write_bytes(
            S.encode_audio(recording(seed, 12.0), RATE, "mp3", "libmp3lame", 48000)
        )
    (corpus / "4.png").write_bytes(S.image_bytes(S.slide(1, 5)))
    (corpus / "5.wav").write_bytes(b"not audio")
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"f{workers}.jsonl"
        result = runner.invoke(
            app, ["scan", str(corpus), "--out", str(out), "--workers", workers, *registry]
        )
        assert result.exit_code == 0, result.stderr
        assert "1 malformed records skipped" in result.stdout
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    assert [json.loads(line)["doc_id"].rsplit("/", 1)[1] for line in outputs[0].splitlines()] == [
        "0.mp3",
        "2.mp3",
        "4.png",
    ]


@pytest.mark.ray
def test_the_ray_engine_finds_the_same_in_the_same_order(
    tmp_path: Path, registry: list[str]
) -> None:
    pytest.importorskip("ray", reason="needs the ray extra")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n, data in enumerate(
        [
            S.encode_audio(recording(1, 15.0), RATE, "mp3", "libmp3lame", 48000),
            S.image_bytes(S.slide(9, 5)),
            S.image_bytes(S.slide(1, 5).convert("RGB"), "JPEG", quality=50),
            b"not audio at all",
        ]
    ):
        (corpus / f"{n}.{['mp3', 'png', 'jpg', 'wav'][n]}").write_bytes(data)
    outputs = []
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        result = runner.invoke(
            app,
            ["scan", str(corpus), "--out", str(out), "--engine", engine, "--workers", "2",
             *registry],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert "1 malformed records skipped" in result.stdout
        outputs.append(findings(out))
    assert outputs[0] == outputs[1]
    assert [f["doc_id"].rsplit("/", 1)[1] for f in outputs[1]] == ["0.mp3", "2.jpg"]


def test_compact_removes_what_a_killed_add_left_and_keeps_what_is_registered(
    tmp_path: Path, registry: list[str]
) -> None:
    media = Path(registry[1]) / "media"
    (media / "audio-deadbeef0000.hash.npy").write_bytes(b"x" * 100)  # a killed add's arrays
    with (media / "items.jsonl").open("a") as f:  # and its item line, never committed
        f.write(json.dumps({"code": 99, "tenant": "acme", "id": "ghost", "kind": "audio"}) + "\n")
    result = runner.invoke(app, ["registry", "compact", *registry])
    assert result.exit_code == 0, result.stderr
    assert "media: 1 leftover files removed (100 bytes), 1 uncommitted item lines dropped" in (
        result.stdout
    )
    assert not (media / "audio-deadbeef0000.hash.npy").exists()
    assert "ghost" not in (media / "items.jsonl").read_text()
    out = tmp_path / "f.jsonl"
    (tmp_path / "again.wav").write_bytes(S.encode_audio(recording(1, 15.0), RATE))
    scanned = runner.invoke(
        app, ["scan", str(tmp_path / "again.wav"), "--out", str(out), *registry]
    )
    assert scanned.exit_code == 0, scanned.stderr
    assert [f["spans"][0]["item"].rsplit("/", 1)[1] for f in findings(out)] == ["meeting.wav"]
