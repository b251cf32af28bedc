"""Decoding media into what the fingerprints read: mono audio at one rate, grey frames.

Audio and video go through PyAV (FFmpeg in a wheel), images through Pillow; both
come with the ``media`` extra and are imported only when media is read, so the
text registry and scanner work without them. Every failure a file can cause —
truncated, empty, not media at all, too many pixels — is a :class:`MediaError`
naming the input and the problem in one line.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

import numpy as np

from ...errors import InputError

Kind = Literal["audio", "image", "video"]
KINDS: tuple[Kind, ...] = ("audio", "image", "video")

AUDIO_RATE = 8000  # Hz: speech lives below 4 kHz, and fewer samples cost less
FRAME_STEP = 1.0  # seconds between the video frames that are hashed
HASH_SIDE = 64  # frames and images are shrunk to 64x64 grey before hashing
# Images are also kept this wide (grey) for their keypoints, which find crops.
PICTURE_WIDTH = 480
# A sampled video frame is a *still* (kept this wide too, for its keypoints) when its
# hash is more than this many bits from the last still's: a screen share holds a slide
# for many seconds, and frames within it are the same picture to the matcher anyway
# (image.DEFAULT_MAX_DISTANCE).
STILL_BITS = 5
# A 24-megapixel photo or an 8K screen capture passes; a crafted "bomb" does not.
MAX_IMAGE_PIXELS = 64_000_000

AUDIO_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".opus", ".ogg", ".oga", ".wav", ".flac"})
VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"})
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jfif"}
)
MEDIA_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES | IMAGE_SUFFIXES

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


class MediaError(InputError):
    """A file or record that cannot be decoded as the media it should be."""


class MediaUnavailable(InputError):
    """The ``media`` extra (PyAV, Pillow) is not installed."""


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise MediaUnavailable(
            f"reading audio, video and images needs the media extra: "
            f"pip install 'trainguard[media]' ({module} is missing)"
        ) from None


def kind_of_name(name: str) -> Kind | None:
    """The kind a file name announces by its suffix, if any."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def sniff_kind(data: bytes, name: str) -> Kind:
    """The kind of media in ``data``, from its content (the name can lie): images by
    their magic bytes, the rest by the streams FFmpeg finds in it."""
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    av = _require("av")
    try:
        with av.open(io.BytesIO(data)) as container:
            if container.streams.video and not _is_cover_art(container.streams.video[0]):
                return "video"
            if container.streams.audio:
                return "audio"
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise MediaError(f"{name}: not audio, video or an image ({_first_line(exc)})") from None
    raise MediaError(f"{name}: no audio or video stream")


def _is_cover_art(stream: Any) -> bool:
    """An mp3's or m4a's embedded picture shows up as a one-frame video stream."""
    return bool(stream.disposition & 0x400) or stream.codec_context.name in ("mjpeg", "png")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass
class Decoded:
    """What a fingerprint reads from one piece of media."""

    kind: Kind
    duration: float = 0.0  # seconds (0 for an image)
    audio: np.ndarray | None = field(default=None, repr=False)  # float32 mono at AUDIO_RATE
    frames: np.ndarray | None = field(default=None, repr=False)  # (n, 64, 64) float32 grey
    times: np.ndarray | None = field(default=None, repr=False)  # each frame's time in seconds
    # An image in grey, PICTURE_WIDTH wide (uint8): where its keypoints are found.
    picture: np.ndarray | None = field(default=None, repr=False)
    # A video's stills (its distinct sampled frames, like ``picture``) and their times.
    stills: list[np.ndarray] = field(default_factory=list, repr=False)
    still_times: list[float] = field(default_factory=list, repr=False)


def decode(data: bytes, name: str, kind: Kind | None = None) -> Decoded:
    """Decode ``data`` (the bytes of the file ``name``) as ``kind``, or as what it is."""
    actual = sniff_kind(data, name)
    if kind is not None and kind != actual and not (kind == "audio" and actual == "video"):
        raise MediaError(f"{name}: is {actual}, not {kind}")
    if actual == "image":
        frame, picture = image_frames(data, name)
        return Decoded("image", 0.0, None, frame[None], np.zeros(1, np.float32), picture)
    if kind == "audio" or actual == "audio":
        samples = decode_audio(data, name)
        return Decoded("audio", len(samples) / AUDIO_RATE, samples)
    return decode_video(data, name)


def image_frame(data: bytes, name: str) -> np.ndarray:
    """An image shrunk to 64x64 grey (float32), refusing decompression bombs."""
    return image_frames(data, name, picture=False)[0]


def image_frames(
    data: bytes, name: str, picture: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """An image shrunk to 64x64 grey (float32) and, if ``picture``, PICTURE_WIDTH wide
    (grey uint8), refusing decompression bombs."""
    pil = _require("PIL")
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Between one and two times the limit Pillow only warns: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width < 1 or img.height < 1:
                    raise MediaError(f"{name}: image of {img.width}x{img.height} pixels")
                # JPEG: decode at 1/2..1/8 of the size when that is still large enough.
                side = PICTURE_WIDTH if picture else 4 * HASH_SIDE
                img.draft("L", (side, max(1, side * img.height // img.width)))
                grey = img.convert("L")
                return _shrink(grey), _widen(grey) if picture else None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(
            f"{name}: more than {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)"
        ) from None
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError, pil.UnidentifiedImageError) as exc:
        raise MediaError(f"{name}: unreadable image ({_first_line(exc)})") from None


def _shrink(grey: Any) -> np.ndarray:
    from PIL import Image

    small = grey.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def _widen(grey: Any) -> np.ndarray:
    """The grey image PICTURE_WIDTH wide, its aspect kept (at least one row)."""
    from PIL import Image

    height = max(1, round(grey.height * PICTURE_WIDTH / grey.width))
    wide = grey.resize((PICTURE_WIDTH, height), Image.Resampling.BOX)
    return np.asarray(wide, dtype=np.uint8)


def decode_audio(data: bytes, name: str) -> np.ndarray:
    """The first audio stream, mixed to mono and resampled to AUDIO_RATE (float32)."""
    av = _require("av")
    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise MediaError(f"{name}: no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            for frame in _frames(container, stream, name):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise MediaError(f"{name}: unreadable audio ({_first_line(exc)})") from None
    samples = np.concatenate(chunks) if chunks else np.empty(0, np.float32)
    if samples.size == 0:
        raise MediaError(f"{name}: no audio samples")
    return samples.astype(np.float32, copy=False)


def _frames(container: Any, stream: Any, name: str) -> Iterator[Any]:
    """Decoded frames of a stream; a truncated tail ends the stream (what was read
    before it counts), a file that yields nothing at all is an error."""
    av = _require("av")
    stream.thread_type = "AUTO"
    got = False
    try:
        for frame in container.decode(stream):
            got = True
            yield frame
    except (av.FFmpegError, EOFError) as exc:
        if not got:
            raise MediaError(f"{name}: unreadable ({_first_line(exc)})") from None


def decode_video(data: bytes, name: str) -> Decoded:
    """One 64x64 grey frame a second (and every key frame), its stills (see
    STILL_BITS), plus the audio track."""
    from .image import dct_hash  # image.py reads this module's constants

    av = _require("av")
    frames: list[np.ndarray] = []
    times: list[float] = []
    stills: list[np.ndarray] = []
    still_times: list[float] = []
    last_still: int | None = None
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                raise MediaError(f"{name}: no video stream")
            stream = container.streams.video[0]
            due = 0.0
            last = 0.0
            for frame in _frames(container, stream, name):
                t = float(frame.time) if frame.time is not None else last
                last = t
                if t + 1e-6 >= due or frame.key_frame:
                    small = frame.reformat(
                        width=HASH_SIDE, height=HASH_SIDE, format="gray", interpolation="AREA"
                    )
                    frames.append(small.to_ndarray().astype(np.float32))
                    times.append(t)
                    h = int(dct_hash(frames[-1][None])[0])
                    if last_still is None or (h ^ last_still).bit_count() > STILL_BITS:
                        last_still = h
                        stills.append(_still(frame))
                        still_times.append(t)
                    if t + 1e-6 >= due:
                        due = (np.floor(t / FRAME_STEP) + 1) * FRAME_STEP
            duration = float(container.duration / 1e6) if container.duration else last
            has_audio = bool(container.streams.audio)
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise MediaError(f"{name}: unreadable video ({_first_line(exc)})") from None
    if not frames:
        raise MediaError(f"{name}: no video frames")
    audio = None
    if has_audio:
        try:
            audio = decode_audio(data, name)
        except MediaError:
            audio = None  # a video whose sound is broken is still a video
    return Decoded(
        "video", duration, audio, np.stack(frames), np.asarray(times, dtype=np.float32),
        stills=stills, still_times=still_times,
    )  # fmt: skip


def _still(frame: Any) -> np.ndarray:
    """A video frame in grey, PICTURE_WIDTH wide, like an image's picture."""
    height = max(1, round(frame.height * PICTURE_WIDTH / max(frame.width, 1)))
    grey = frame.reformat(width=PICTURE_WIDTH, height=height, format="gray", interpolation="AREA")
    return np.ascontiguousarray(grey.to_ndarray(), dtype=np.uint8)
