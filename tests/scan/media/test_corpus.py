"""Media corpora beyond local files: fsspec URLs (memory://, file://) for registry add
and scan, and Hugging Face `datasets` Audio and Image features stored in Parquet."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

import json
from pathlib import Path

import fsspec
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.scan.media import samples as S
from trainguard.scan.media.corpus import MediaRecord, expand_media, read_records

from .conftest import RATE, recording

runner = CliRunner()


def findings(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def memory_corpus() -> str:
    """memory://corpus-N/ holding a registered slide and recording and an unrelated one."""
    fs = fsspec.filesystem("memory")
    root = f"/corpus-{id(fs)}-{len(fs.store)}"
    fs.pipe(f"{root}/slides/slide.png", S.image_bytes(S.slide(1, 5)))
    fs.pipe(
        f"{root}/audio/call.mp3",
        S.encode_audio(recording(1, 15.0), RATE, "mp3", "libmp3lame", 48000),
    )
    fs.pipe(f"{root}/audio/other.wav", S.encode_audio(recording(50, 15.0), RATE))
    fs.pipe(f"{root}/audio/notes.txt", b"not media")
    return f"memory://{root}"


def test_urls_are_expanded_like_folders(memory_corpus: str) -> None:
    found = expand_media([memory_corpus])
    assert found == [
        f"{memory_corpus}/audio/call.mp3",
        f"{memory_corpus}/audio/other.wav",
        f"{memory_corpus}/slides/slide.png",
    ]
    records = [r for r in read_records(found[0]) if isinstance(r, MediaRecord)]
    assert records[0].id == found[0] and records[0].data.startswith((b"ID3", b"\xff"))


def test_registry_add_and_scan_read_memory_and_file_urls(
    tmp_path: Path, memory_corpus: str
) -> None:
    local = tmp_path / "customer"
    local.mkdir()
    (local / "call.wav").write_bytes(S.encode_audio(recording(1, 15.0), RATE))
    options = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    added = runner.invoke(
        app, ["registry", "add", f"file://{local}", f"{memory_corpus}/slides/slide.png",
              "--tenant", "acme", *options],
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "registered 2 media items" in added.stdout
    out = tmp_path / "findings.jsonl"
    scanned = runner.invoke(
        app, ["scan", f"{memory_corpus}/audio", f"{memory_corpus}/slides", "--kind", "media",
              "--out", str(out), *options],
    )  # fmt: skip
    assert scanned.exit_code == 0, scanned.stderr
    assert [(f["doc_id"].rsplit("/", 1)[1], f["spans"][0]["item"].rsplit("/", 1)[1])
            for f in findings(out)] == [("call.mp3", "call.wav"), ("slide.png", "slide.png")]  # fmt: skip


def test_a_url_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    options = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    result = runner.invoke(
        app,
        [
            "registry",
            "add",
            "memory://nowhere/at/all",
            "--kind",
            "audio",
            "--tenant",
            "acme",
            *options,
        ],
    )
    assert result.exit_code == 2
    assert "memory://nowhere/at/all: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_hugging_face_audio_and_image_features_are_scanned(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    customer = tmp_path / "customer"
    customer.mkdir()
    (customer / "call.wav").write_bytes(S.encode_audio(recording(2, 15.0), RATE))
    (customer / "slide.png").write_bytes(S.image_bytes(S.slide(2, 5)))
    options = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    assert (
        runner.invoke(
            app, ["registry", "add", str(customer), "--tenant", "acme", *options]
        ).exit_code
        == 0
    )

    audio = [S.encode_audio(recording(2, 15.0), RATE, "mp3", "libmp3lame", 48000),
             S.encode_audio(recording(60, 15.0), RATE, "mp3", "libmp3lame", 48000)]  # fmt: skip
    images = [
        S.image_bytes(S.slide(40, 5)),
        S.image_bytes(S.slide(2, 5).convert("RGB"), "JPEG", quality=60),
    ]
    ds = (
        datasets.Dataset.from_dict(
            {
                "id": ["a", "b"],
                "audio": [{"bytes": a, "path": None} for a in audio],
                "image": [{"bytes": i, "path": None} for i in images],
            }
        )
        .cast_column("audio", datasets.Audio(decode=False))
        .cast_column("image", datasets.Image(decode=False))
    )
    parquet = tmp_path / "hf.parquet"
    ds.to_parquet(str(parquet))
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(
        app, ["scan", str(parquet), "--kind", "media", "--out", str(out), *options]
    )
    assert result.exit_code == 0, result.stderr
    assert [
        (f["doc_id"], f["kind"], f["spans"][0]["item"].rsplit("/", 1)[1]) for f in findings(out)
    ] == [
        ("a:audio", "audio", "call.wav"),
        ("b:image", "image", "slide.png"),
    ]
