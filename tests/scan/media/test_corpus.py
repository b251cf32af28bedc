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
from trainguard.scan.corpus import Malformed
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


@pytest.mark.parametrize("written_by", ["to_parquet", "save_to_disk"])
def test_hugging_face_audio_and_image_features_are_scanned(tmp_path: Path, written_by: str) -> None:
    """Parquet is text unless told; a `datasets` folder (Arrow files, state.json) whose
    features hold Audio or Image is media without --kind."""
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
    if written_by == "to_parquet":
        ds.to_parquet(str(tmp_path / "hf.parquet"))
        corpus = [str(tmp_path / "hf.parquet"), "--kind", "media"]
    else:
        ds.save_to_disk(str(tmp_path / "hf"))
        assert sorted(p.suffix for p in (tmp_path / "hf").iterdir()) == [".arrow", ".json", ".json"]
        corpus = [str(tmp_path / "hf")]
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(app, ["scan", *corpus, "--out", str(out), *options])
    assert result.exit_code == 0, result.stderr
    assert [
        (f["doc_id"], f["kind"], f["spans"][0]["item"].rsplit("/", 1)[1]) for f in findings(out)
    ] == [
        ("a:audio", "audio", "call.wav"),
        ("b:image", "image", "slide.png"),
    ]


def test_arrow_files_are_read_in_the_file_format_too_and_a_broken_one_is_malformed(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    png = S.image_bytes(S.slide(3, 5).resize((64, 36)))
    table = pa.table({"key": ["k1", "k2"], "png": pa.array([png, None], pa.binary())})
    with pa.ipc.new_file(tmp_path / "file.arrow", table.schema) as writer:
        writer.write_table(table)
    assert list(read_records(tmp_path / "file.arrow")) == [
        MediaRecord(str(tmp_path / "file.arrow"), "k1", png)
    ]
    (tmp_path / "broken.arrow").write_bytes(b"not arrow at all")
    [broken] = read_records(tmp_path / "broken.arrow")
    assert isinstance(broken, Malformed) and "Arrow file unreadable" in broken.problem
