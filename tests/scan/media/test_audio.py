"""Audio landmarks: registered recordings are found through lossy codecs, resampling,
gain, noise and as clips inside longer files, at the right offset in both; other
recordings are not."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

from collections.abc import Callable
from pathlib import Path

import numpy as np

from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.store import fingerprint

from .conftest import RATE, UNREGISTERED_RECORDINGS, Registered, recording

ALSA = Path("/usr/share/sounds/alsa")


def with_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.size).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10) / np.mean(noise**2))
    return np.clip(x + noise, -1, 1)


TRANSFORMS: dict[str, Callable[[np.ndarray], bytes]] = {
    "mp3 48 kbps": lambda x: S.encode_audio(x, RATE, "mp3", "libmp3lame", 48000),
    "AAC 32 kbps": lambda x: S.encode_audio(x, RATE, "adts", "aac", 32000),
    "Opus 16 kbps": lambda x: S.encode_audio(x, RATE, "ogg", "libopus", 16000, 48000),
    "FLAC at 44.1 kHz": lambda x: S.encode_audio(x, RATE, "flac", "flac", None, 44100),
    "gain -10 dB": lambda x: S.encode_audio(x * 0.316, RATE),
    "noise at 10 dB SNR": lambda x: S.encode_audio(with_noise(x, 10), RATE),
}


def spans(registered: Registered, data: bytes) -> list[dict]:
    return registered.matcher.find(fingerprint(decode(data, "scanned")))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_every_registered_recording_is_found_after(registered: Registered, transform: str) -> None:
    for name, x in registered.recordings.items():
        found = spans(registered, TRANSFORMS[transform](x))
        assert found and found[0]["item"] == name, (transform, name, found[:1])
        assert abs(found[0]["item_start"] - found[0]["start"]) < 1.0  # same offset in both


def test_a_12_second_clip_mixed_into_a_longer_recording_is_found_where_it_is(
    registered: Registered,
) -> None:
    x = registered.recordings["meeting-3"]
    longer = recording(500, 60.0)
    longer[25 * RATE : 37 * RATE] = 0.3 * longer[25 * RATE : 37 * RATE] + x[8 * RATE : 20 * RATE]
    found = spans(
        registered, S.encode_audio(np.clip(longer, -1, 1), RATE, "mp3", "libmp3lame", 48000)
    )
    assert [s["item"] for s in found] == ["meeting-3"]
    s = found[0]
    assert abs(s["start"] - 25) < 1.0 and abs(s["end"] - 37) < 1.0
    assert abs(s["item_start"] - 8) < 1.0 and abs(s["item_end"] - 20) < 1.0


def test_unregistered_recordings_are_not_found(registered: Registered) -> None:
    for seed in UNREGISTERED_RECORDINGS:
        data = S.encode_audio(recording(seed), RATE, "mp3", "libmp3lame", 48000)
        assert spans(registered, data) == [], seed


def test_silence_has_no_landmarks_and_no_finding(registered: Registered) -> None:
    fp = fingerprint(decode(S.encode_audio(np.zeros(5 * RATE, np.float32), RATE), "silence"))
    assert fp.landmarks.size == 0
    assert registered.matcher.find(fp) == []


@pytest.mark.skipif(not ALSA.is_dir(), reason="real speech needs the alsa-utils package")
def test_real_speech_is_found_through_opus_and_mp3(tmp_path: Path) -> None:
    """Recorded speech (alsa-utils' channel announcements, GPL-2, read at test time): a
    13 s recording of all of them, registered; found through codecs; each single
    announcement of 1.5 s is too short to be claimed."""
    from trainguard.scan.keys import KeyRing
    from trainguard.scan.media import MediaRegistry
    from trainguard.scan.media.decode import AUDIO_RATE, decode_audio
    from trainguard.scan.media.matcher import MediaMatcher

    parts = [
        decode_audio(f.read_bytes(), f.name)
        for f in sorted(ALSA.glob("*.wav"))
        if f.name != "Noise.wav"
    ]
    speech = np.concatenate(parts)
    keys = KeyRing(tmp_path / "k")
    registry = MediaRegistry(tmp_path / "r", keys)
    registry.add(
        "acme",
        [("announcements", None, fingerprint(decode(S.encode_audio(speech, AUDIO_RATE), "a")))],
    )
    matcher = MediaMatcher(registry, keys)
    for codec in (("mp3", "libmp3lame", 48000, None), ("ogg", "libopus", 16000, 48000)):
        found = matcher.find(
            fingerprint(
                decode(
                    S.encode_audio(speech, AUDIO_RATE, codec[0], codec[1], codec[2], codec[3]), "q"
                )
            )
        )
        assert found and found[0]["item"] == "announcements", codec


def test_votes_within_one_frame_of_the_best_offset_count_for_it() -> None:
    from trainguard.scan.media.audio import match

    # Registered item 7: landmarks 1..6 at frames 100..105. Scanned: the same landmarks
    # at frames 10..15, two of them a frame late; item 8 shares one landmark by chance.
    r_hash = np.array([1, 2, 3, 4, 5, 6, 6], np.uint32)
    r_item = np.array([7, 7, 7, 7, 7, 7, 8], np.uint32)
    r_time = np.array([100, 101, 102, 103, 104, 105, 40], np.uint32)
    q_hash = np.array([1, 2, 3, 4, 5, 6], np.uint32)
    q_time = np.array([10, 11, 13, 13, 14, 16], np.uint32)
    best = match(q_hash, q_time, r_hash, r_item, r_time)
    assert best[0][:2] == (7, 6) and best[0][2] in (89, 90) and best[0][3:] == (10, 16)
    assert best[1][:2] == (8, 1)
