"""Crops inside video: a registered video keeps keypoints for its stills (the
sampled frames that differ from the last one kept), so a cropped screenshot of a
screen share, or a cropped and re-framed copy of the video, is found — with the
frame times in the scanned record and in the registered item."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainguard.errors import InputError
from trainguard.scan.keys import KeyRing
from trainguard.scan.media import MediaRegistry
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.matcher import MediaMatcher
from trainguard.scan.media.store import fingerprint

SHARE_DECK, SLIDES_DECK = 5, 3
SECONDS_EACH = 3.0  # each slide of the registered screen share is shown this long


@dataclass
class Registry:
    path: Path
    keys: KeyRing
    media: MediaRegistry
    matcher: MediaMatcher
    share: list[Any]  # the registered screen share's slides, in order


def crop(img: Any, share: float) -> Any:
    w, h = img.size
    return img.crop((int(w * share), int(h * share), w - int(w * share), h - int(h * share)))


def find(matcher: MediaMatcher, data: bytes, name: str) -> list[dict[str, Any]]:
    return matcher.find(fingerprint(decode(data, name)))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A 24 s screen share (8 slides, 960x540) and 4 slides as images, for tenant acme."""
    base = tmp_path_factory.mktemp("video-crops")
    keys = KeyRing(base / "keys")
    media = MediaRegistry(base / "registry", keys)
    share = [S.slide(i, SHARE_DECK) for i in range(8)]
    video = S.encode_video(share, SECONDS_EACH, size=(960, 540))
    entries = [("share", "customer.recording", fingerprint(decode(video, "share.mp4")))]
    entries += [
        (f"slide-{i}", "customer.slides", fingerprint(decode(S.image_bytes(S.slide(i, 3)), "s")))
        for i in range(4)
    ]
    media.add("acme", entries)
    return Registry(base / "registry", keys, media, MediaMatcher(media, keys), share)


def test_a_registered_video_keeps_keypoints_for_its_stills_only(registry: Registry) -> None:
    """24 sampled frames, 8 distinct slides: 8 stills, at the times the slides start."""
    a = registry.media.arrays("acme")
    share = next(i for i in registry.media.items().values() if i.id == "share")
    times = a.centres_time[a.centres_item == share.code].tolist()
    assert share.frames >= 24
    assert times == [SECONDS_EACH * i for i in range(8)]
    assert set(a.points_item.tolist()) == {i.code for i in registry.media.items().values()}


@pytest.mark.parametrize("share", [0.02, 0.05])
def test_a_cropped_screenshot_of_a_screen_share_is_found_at_its_frame_time(
    registry: Registry, share: float
) -> None:
    """Measured on these 8 slides: 5 of 8 found at 2%, 6 of 8 at 5% (images of
    generated slides: 0.90 and 0.75, docs/media.md). Each within one sampled frame."""
    found = 0
    for i, slide in enumerate(registry.share):
        spans = find(registry.matcher, S.image_bytes(crop(slide, share)), f"shot-{i}.png")
        assert all(s["item"] == "share" for s in spans)  # never another item
        for s in spans:
            assert s["evidence"] == "crop" and abs(s["item_start"] - SECONDS_EACH * i) <= 1.0
            assert s["region"][0] == pytest.approx(share, abs=0.05)
        found += bool(spans)
    assert found >= 5


@pytest.mark.parametrize("share", [0.02, 0.05])
def test_a_cropped_re_framed_copy_of_a_registered_video_is_found_at_its_offset(
    registry: Registry, share: float
) -> None:
    """Scanned: slides 2-7 of the share, each frame cropped, at 800x450 — 6 s in."""
    clip = S.encode_video(
        [crop(s, share) for s in registry.share[2:]], SECONDS_EACH, size=(800, 450)
    )
    spans = find(registry.matcher, clip, "clip.mp4")
    assert [s["item"] for s in spans] == ["share"]
    s = spans[0]
    assert s["evidence"] == "crop" and s["frames"] >= 2
    assert abs((s["item_start"] - s["start"]) - 2 * SECONDS_EACH) <= 1.0
    assert abs((s["item_end"] - s["end"]) - 2 * SECONDS_EACH) <= 1.0


def test_a_video_of_cropped_registered_slides_is_found_when_shown(registry: Registry) -> None:
    """A screen share of other slides and a cropped registered image (shown 3-6 s)."""
    shown = [S.slide(50, SLIDES_DECK), crop(S.slide(2, SLIDES_DECK), 0.05), S.slide(51, 3)]
    spans = find(registry.matcher, S.encode_video(shown, 3.0, size=(960, 540)), "call.mp4")
    assert [(s["item"], s["evidence"]) for s in spans] == [("slide-2", "crop")]
    assert 2.0 <= spans[0]["start"] <= 4.0 and spans[0]["item_start"] == 0.0


@pytest.mark.parametrize("share", [0.0, 0.05])
def test_unregistered_slides_of_the_same_templates_are_not_found(
    registry: Registry, share: float
) -> None:
    others = [S.slide(i, SHARE_DECK) for i in range(100, 106)]
    others += [S.slide(i, SLIDES_DECK) for i in range(100, 104)]
    shown = [crop(s, share) if share else s for s in others]
    assert find(registry.matcher, S.encode_video(shown, 2.0, size=(960, 540)), "o.mp4") == []
    for i, s in enumerate(shown[:3]):
        assert find(registry.matcher, S.image_bytes(s), f"o-{i}.png") == []


def test_removing_a_video_keeps_the_other_items_crops(tmp_path: Path) -> None:
    """Keypoints point at their still's row: removing an item renumbers the rest."""
    keys = KeyRing(tmp_path / "keys")
    media = MediaRegistry(tmp_path / "registry", keys)
    deck = [S.slide(i, SHARE_DECK) for i in range(3)]
    media.add("acme", [("share", None, fingerprint(decode(S.encode_video(deck, 2.0), "v")))])
    slide = S.slide(7, SLIDES_DECK)
    media.add("acme", [("slide-7", None, fingerprint(decode(S.image_bytes(slide), "s")))])
    media.remove("acme", "share")
    spans = find(MediaMatcher(media, keys), S.image_bytes(crop(slide, 0.02)), "shot.png")
    assert [(s["item"], s["evidence"]) for s in spans] == [("slide-7", "crop")]
    assert find(MediaMatcher(media, keys), S.image_bytes(crop(deck[1], 0.02)), "x.png") == []


def test_a_registry_of_the_previous_media_format_is_refused_in_one_line(
    registry: Registry, tmp_path: Path
) -> None:
    meta = json.loads((registry.path / "media" / "media.json").read_text())
    old = tmp_path / "old"
    (old / "media").mkdir(parents=True)
    (old / "media" / "media.json").write_text(json.dumps({**meta, "media_format": 2}))
    with pytest.raises(InputError, match="media_format") as refused:
        MediaRegistry(old, registry.keys).tenants()
    assert "\n" not in str(refused.value)
