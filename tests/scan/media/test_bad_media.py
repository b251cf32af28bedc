"""Media that cannot be read: one line naming the input and the problem — exit 2 when
registering, a counted malformed record when scanning — never a traceback."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

import struct
import zlib
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.scan.media import MediaError
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import MAX_IMAGE_PIXELS, decode

from .conftest import RATE, recording

runner = CliRunner()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def bad_files() -> dict[str, bytes]:
    mp3 = S.encode_audio(recording(7, 5.0), RATE, "mp3", "libmp3lame", 48000)
    return {
        "truncated.mp3": mp3[:200],
        "empty.wav": S.encode_audio(np.zeros(0, np.float32), RATE),
        "zero.flac": b"",
        "notes.mp3": b"these are meeting notes, not audio\n" * 20,
        "zero.png": png_header(0, 0),
        "bomb.png": png_header(20_000, 20_000),
        "half-bomb.png": png_header(9_000, 9_000),  # between 1x and 2x the limit: Pillow only warns
    }


@pytest.mark.parametrize("name", bad_files())
def test_each_bad_file_is_one_media_error_naming_it(name: str) -> None:
    with pytest.raises(MediaError) as err:
        decode(bad_files()[name], name)
    assert str(err.value).startswith(f"{name}: ") and "\n" not in str(err.value)


def test_the_pixel_limit_admits_a_24_megapixel_photo() -> None:
    assert 6000 * 4000 < MAX_IMAGE_PIXELS < 9000 * 9000


def test_a_wrong_extension_is_read_by_content() -> None:
    data = S.image_bytes(S.slide(1, 1))
    assert decode(data, "slide.mp3").kind == "image"
    with pytest.raises(MediaError, match=r"slide\.mp3: is image, not audio"):
        decode(data, "slide.mp3", "audio")


def test_registering_a_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "good.wav").write_bytes(S.encode_audio(recording(1, 5.0), RATE))
    (folder / "truncated.mp3").write_bytes(bad_files()["truncated.mp3"])
    result = runner.invoke(
        app,
        [
            "registry",
            "add",
            str(folder),
            "--tenant",
            "acme",
            "--registry",
            str(tmp_path / "r"),
            "--keys",
            str(tmp_path / "k"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "truncated.mp3" in result.stderr
    assert not (tmp_path / "r" / "media" / "media.json").exists()  # nothing registered


def test_scanning_bad_files_counts_them_as_malformed(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "good.wav").write_bytes(S.encode_audio(recording(1, 12.0), RATE))
    base = ["--registry", str(tmp_path / "r"), "--keys", str(tmp_path / "k")]
    assert (
        runner.invoke(
            app, ["registry", "add", str(tmp_path / "rec"), "--tenant", "acme", *base]
        ).exit_code
        == 0
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in bad_files().items():
        (corpus / name).write_bytes(data)
    (corpus / "copy.mp3").write_bytes(
        S.encode_audio(recording(1, 12.0), RATE, "mp3", "libmp3lame", 48000)
    )
    result = runner.invoke(app, ["scan", str(corpus), "--out", str(tmp_path / "f.jsonl"), *base])
    assert result.exit_code == 0, result.stderr
    assert f"{len(bad_files())} malformed records skipped" in result.stdout
    assert result.stderr.count("warning:") == len(bad_files())
    assert "Traceback" not in result.stderr
    assert (tmp_path / "f.jsonl").read_text().count("\n") == 1


def test_without_the_media_extra_the_message_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_av(name: str, *args: object, **kwargs: object) -> object:
        if name == "av":
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_av)
    (tmp_path / "a.wav").write_bytes(b"RIFF0000WAVE")
    result = runner.invoke(
        app,
        [
            "registry",
            "add",
            str(tmp_path / "a.wav"),
            "--tenant",
            "acme",
            "--registry",
            str(tmp_path / "r"),
            "--keys",
            str(tmp_path / "k"),
        ],
    )
    assert result.exit_code == 2
    assert "pip install 'trainguard[media]'" in result.stderr and result.stderr.count("\n") == 1
