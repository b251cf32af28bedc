"""Reproducible media to test and measure the fingerprints with, made from a seed.

- :func:`speech_like`: a voice-like signal — a pitch-varying glottal tone shaped
  by vowel formants that change every syllable, with fricative noise and
  pauses. Each seed is another "speaker saying other things", so recordings
  differ the way two meetings do, not the way two noises do.
- :func:`slide`: a presentation slide from a shared template (title bar, logo,
  bullet lines, footer): slides of one deck differ only in their text, the
  hard case for perceptual hashes.
- :func:`encode_audio`, :func:`encode_video`: bytes of real files made with
  PyAV's encoders (mp3, AAC, Opus, FLAC, WAV; H.264/MPEG-4 video).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .decode import _require

_VOWELS = np.array(
    [  # first three formants (Hz) of a few vowels
        [730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
        [660, 1720, 2410], [570, 840, 2410], [440, 1020, 2240], [490, 1350, 1690],
    ],
    dtype=np.float64,
)  # fmt: skip


def speech_like(seed: int, seconds: float, rate: int = 16000) -> np.ndarray:
    """A voice-like float32 signal in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), np.float64)
    base_pitch = rng.uniform(95, 210)
    pos = 0
    while pos < out.size:
        length = int(rng.uniform(0.12, 0.32) * rate)
        seg = np.arange(min(length, out.size - pos)) / rate
        kind = rng.random()
        if kind < 0.12:  # a pause
            pos += seg.size
            continue
        envelope = np.sin(np.pi * np.linspace(0, 1, seg.size)) ** 0.6
        if kind < 0.25:  # a fricative: band-limited noise
            noise = rng.standard_normal(seg.size)
            spectrum = np.fft.rfft(noise)
            freqs = np.fft.rfftfreq(seg.size, 1 / rate)
            centre = rng.uniform(2500, 6000)
            spectrum *= np.exp(-(((freqs - centre) / 800) ** 2))
            out[pos : pos + seg.size] += 0.15 * envelope * np.fft.irfft(spectrum, seg.size)
        else:  # a voiced syllable: harmonics under three formants
            f0 = base_pitch * (1 + rng.uniform(-0.15, 0.15)) * (1 + 0.1 * seg / max(seg[-1], 1e-3))
            phase = 2 * np.pi * np.cumsum(f0) / rate
            formants = _VOWELS[rng.integers(len(_VOWELS))] * rng.uniform(0.9, 1.1, 3)
            voiced = np.zeros(seg.size)
            for k in range(1, int(4000 / base_pitch)):
                fk = k * base_pitch
                gain = sum(
                    np.exp(-(((fk - f) / 120) ** 2)) / (i + 1) for i, f in enumerate(formants)
                )
                voiced += (gain + 0.02) / k**0.5 * np.sin(k * phase)
            out[pos : pos + seg.size] += 0.3 * envelope * voiced
        pos += seg.size
    peak = np.abs(out).max() or 1.0
    return (0.8 * out / peak).astype(np.float32)


def encode_audio(
    samples: np.ndarray, rate: int, container: str = "wav", codec: str = "pcm_s16le",
    bit_rate: int | None = None, out_rate: int | None = None,
) -> bytes:  # fmt: skip
    """The bytes of a mono audio file of ``samples`` (float32 at ``rate``)."""
    av = _require("av")
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as c:
        stream: Any = c.add_stream(codec, rate=out_rate or rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        step = rate // 10
        resampler = av.AudioResampler(
            format=stream.codec_context.format, layout="mono", rate=out_rate or rate
        )
        for start in range(0, samples.size, step):
            chunk = samples[start : start + step].astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for f in resampler.resample(frame):
                f.pts = None
                c.mux(stream.encode(f))
        for f in resampler.resample(None):
            f.pts = None
            c.mux(stream.encode(f))
        c.mux(stream.encode(None))
    return buf.getvalue()


def slide(seed: int, deck: int = 0, size: tuple[int, int] = (1280, 720)) -> Any:
    """A slide of deck ``deck`` (the template) with text drawn from ``seed`` (a PIL image)."""
    _require("PIL")
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([deck, seed])
    theme = np.random.default_rng(deck)
    w, h = size
    bar = tuple(int(x) for x in theme.integers(0, 160, 3))
    img = Image.new("RGB", size, (250, 250, 248))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, w, h // 7], fill=bar)
    draw.rectangle([w - w // 8, h // 40, w - w // 40, h // 7 - h // 40], fill=(255, 255, 255))
    draw.rectangle([0, h - h // 16, w, h], fill=bar)
    words = ["revenue", "roadmap", "pipeline", "customer", "launch", "budget", "Q3", "hiring",
             "latency", "churn", "forecast", "design", "review", "metrics", "risks", "owner"]  # fmt: skip
    title = " ".join(rng.choice(words, 3))
    draw.text((w // 30, h // 20), title.upper(), fill=(255, 255, 255), font_size=h // 14)
    y = h // 5
    for _ in range(int(rng.integers(3, 7))):
        indent = w // 20 + int(rng.integers(0, 2)) * w // 20
        line = " ".join(rng.choice(words, int(rng.integers(3, 8))))
        draw.ellipse([indent - 18, y + 12, indent - 6, y + 24], fill=bar)
        draw.text((indent, y), line, fill=(30, 30, 30), font_size=h // 22)
        y += h // 10
    if rng.random() < 0.5:  # a chart on some slides
        x0 = w // 2 + w // 10
        for i, v in enumerate(rng.uniform(0.2, 1.0, 5)):
            top = int(h * 0.85 - v * h * 0.5)
            draw.rectangle(
                [x0 + i * w // 18, top, x0 + i * w // 18 + w // 24, int(h * 0.85)], fill=bar
            )
    return img


def image_bytes(img: Any, fmt: str = "PNG", **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def encode_video(
    pictures: list[Any], seconds_each: float | list[float], fps: int = 5, codec: str = "libx264",
    container: str = "mp4", size: tuple[int, int] | None = None,
    audio: np.ndarray | None = None, audio_rate: int = 16000, crf: int = 28,
) -> bytes:  # fmt: skip
    """A video showing each picture for ``seconds_each`` (a screen share of a deck; or
    each for its own number of seconds, given a list), with ``audio`` as its sound if
    given."""
    av = _require("av")
    buf = io.BytesIO()
    w, h = size or pictures[0].size
    with av.open(buf, "w", format=container) as c:
        vs: Any = c.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            vs.options = {"crf": str(crf), "preset": "ultrafast"}
        a_stream: Any = None
        if audio is not None:
            a_stream = c.add_stream("aac", rate=audio_rate, layout="mono")
        n = 0
        durations = (
            seconds_each if isinstance(seconds_each, list) else [seconds_each] * len(pictures)
        )
        for pic, seconds in zip(pictures, durations, strict=True):
            frame = av.VideoFrame.from_image(pic.convert("RGB").resize((w, h)))
            for _ in range(round(seconds * fps)):
                out = frame.reformat(format="yuv420p")
                out.pts = n
                n += 1
                c.mux(vs.encode(out))
        c.mux(vs.encode(None))
        if a_stream is not None and audio is not None:
            resampler = av.AudioResampler(
                format=a_stream.codec_context.format, layout="mono", rate=audio_rate
            )
            step = audio_rate // 10
            for start in range(0, audio.size, step):
                chunk = audio[start : start + step].astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate = audio_rate
                frame.pts = start
                for f in resampler.resample(frame):
                    f.pts = None
                    c.mux(a_stream.encode(f))
            c.mux(a_stream.encode(None))
    return buf.getvalue()
