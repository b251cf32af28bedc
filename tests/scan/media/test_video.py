"""Video: a screen share showing a registered slide, a re-encoded registered
recording, and the sound of a video, found at the right times."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

from pathlib import Path

from trainguard.scan.keys import KeyRing
from trainguard.scan.media import MediaRegistry
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.matcher import MediaMatcher
from trainguard.scan.media.store import fingerprint

from .conftest import DECK, RATE, Registered, recording


def test_a_registered_slide_shown_in_a_screen_share_is_found_when_shown(
    registered: Registered,
) -> None:
    share = S.encode_video(
        [S.slide(40, DECK), S.slide(2, DECK), S.slide(41, DECK)], 4.0, size=(640, 360)
    )
    spans = [
        s
        for s in registered.matcher.find(fingerprint(decode(share, "share.mp4")))
        if s["item"] == "slide-2"
    ]
    assert spans and spans[0]["evidence"] == "picture"
    assert 3.0 <= spans[0]["start"] <= 5.0 and 7.0 <= spans[0]["end"] <= 8.0


def test_a_re_encoded_registered_video_is_found_at_its_offset(tmp_path: Path) -> None:
    """Registered: a 20 s screen share (H.264, 1280x720). Scanned: seconds 6-20 of it,
    re-encoded as MPEG-4 at 640x360 — the offset within one sampled frame (1 s)."""
    deck = [S.slide(i, 7) for i in range(5)]
    keys = KeyRing(tmp_path / "k")
    registry = MediaRegistry(tmp_path / "r", keys)
    original = S.encode_video(deck, 4.0)
    registry.add("acme", [("call-1", None, fingerprint(decode(original, "call-1.mp4")))])
    clip = S.encode_video(deck[1:], 4.0, codec="mpeg4", size=(640, 360))  # starts 4 s in
    spans = MediaMatcher(registry, keys).find(fingerprint(decode(clip, "clip.mp4")))
    assert spans and spans[0]["item"] == "call-1" and spans[0]["evidence"] == "frames"
    assert abs((spans[0]["item_start"] - spans[0]["start"]) - 4.0) <= 1.0


def test_the_sound_of_a_video_is_checked_against_registered_recordings(
    registered: Registered,
) -> None:
    x = registered.recordings["meeting-1"]
    video = S.encode_video([S.slide(90, 9)], 30.0, fps=2, size=(320, 180), audio=x, audio_rate=RATE)
    spans = registered.matcher.find(fingerprint(decode(video, "call.mp4")))
    assert [s["item"] for s in spans if s["evidence"] == "landmarks"] == ["meeting-1"]


def test_an_unregistered_video_of_other_slides_and_voices_is_not_found(
    registered: Registered,
) -> None:
    video = S.encode_video(
        [S.slide(i, 11) for i in range(4)],
        3.0,
        size=(640, 360),
        audio=recording(321, 12.0),
        audio_rate=RATE,
    )
    assert registered.matcher.find(fingerprint(decode(video, "other.mp4"))) == []
