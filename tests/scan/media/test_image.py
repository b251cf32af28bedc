"""Perceptual hashes of slides: robust to re-compression, scaling and brightness;
slides of other decks are not found; slides of the registered deck's template that
were not registered rarely are (the measured rate is in docs/media.md)."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="needs the media extra (PyAV)")
pytest.importorskip("PIL", reason="needs the media extra (Pillow)")

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import ImageEnhance

from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.image import Keying, distance
from trainguard.scan.media.matcher import MediaConfig, MediaMatcher
from trainguard.scan.media.store import fingerprint

from .conftest import DECK, Registered

TRANSFORMS: dict[str, Callable[[Any], bytes]] = {
    "JPEG quality 30": lambda s: S.image_bytes(s.convert("RGB"), "JPEG", quality=30),
    "WebP quality 50": lambda s: S.image_bytes(s.convert("RGB"), "WEBP", quality=50),
    "scaled to 1/2": lambda s: S.image_bytes(s.resize((640, 360))),
    "scaled to 1/4": lambda s: S.image_bytes(s.resize((320, 180))),
    "brighter by 30%": lambda s: S.image_bytes(ImageEnhance.Brightness(s).enhance(1.3)),
    "darker by 30%": lambda s: S.image_bytes(ImageEnhance.Brightness(s).enhance(0.7)),
}


def found(registered: Registered, data: bytes) -> list[str]:
    return [s["item"] for s in registered.matcher.find(fingerprint(decode(data, "scanned")))]


# A 320x180 thumbnail of a 1280x720 slide keeps little of its text: one slide in ten
# moves 6 bits, past the default distance (5).
MIN_FOUND = {"scaled to 1/4": 9}


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_registered_slides_are_found_after(registered: Registered, transform: str) -> None:
    hits = [
        i
        for i in range(10)
        if f"slide-{i}" in found(registered, TRANSFORMS[transform](S.slide(i, DECK)))
    ]
    assert len(hits) >= MIN_FOUND.get(transform, 10), hits


def test_slides_of_other_decks_are_not_found(registered: Registered) -> None:
    hits = [
        (d, i)
        for d in (0, 1, 2, 4)
        for i in range(10)
        if found(registered, S.image_bytes(S.slide(i, d)))
    ]
    assert hits == []


def test_unregistered_slides_of_the_same_template_are_not_found(registered: Registered) -> None:
    """The hard case: same title bar, logo box, bullets and footer, other words. Whole
    pictures of such slides can fall within 5 bits; their centres do not."""
    hits = [i for i in range(10, 60) if found(registered, S.image_bytes(S.slide(i, DECK)))]
    assert hits == [], f"unregistered slides of the registered template matched: {hits}"


def test_without_the_centre_check_whole_pictures_of_one_template_do_collide(
    registered: Registered,
) -> None:
    """Why the centre check exists: the same slides, whole hashes alone."""
    alone = MediaMatcher(
        registered.registry, registered.keys, MediaConfig(centre_check=False, crops=False)
    )
    hits = sum(
        bool(alone.find(fingerprint(decode(S.image_bytes(S.slide(i, DECK)), "s"))))
        for i in range(10, 410)
    )
    assert hits > 0


def crop(img: Any, left: float, top: float, right: float, bottom: float) -> Any:
    w, h = img.size
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


# Measured (bench/bench_media.py, 40 slides): 2% off each side 0.90, 5% 0.75, 10% 0.60.
def _overlap(a: list[float] | tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (left, top, right, bottom)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize(("share", "at_least"), [(0.02, 8), (0.05, 6), (0.10, 4)])
def test_cropped_registered_slides_are_found_where_they_lie(
    registered: Registered, share: float, at_least: int
) -> None:
    hits = []
    for i in range(10):
        data = S.image_bytes(crop(S.slide(i, DECK), share, share, share, share))
        spans = registered.matcher.find(fingerprint(decode(data, "cropped")))
        mine = [s for s in spans if s["item"] == f"slide-{i}"]
        assert [s["item"] for s in spans if s["item"] != f"slide-{i}"] == []
        if mine and mine[0]["evidence"] == "crop":
            # The part of the registered slide the crop shows: the fit samples pairs
            # of keypoints, so its edges land a few percent either way; the region
            # must overlap the true one by at least 3/4 (intersection over union).
            assert _overlap(mine[0]["region"], (share, share, 1 - share, 1 - share)) >= 0.75
            hits.append(i)
    assert len(hits) >= at_least, hits


def test_a_crop_moved_off_centre_and_rescaled_is_found(registered: Registered) -> None:
    picture = crop(S.slide(2, DECK), 0.08, 0.02, 0.0, 0.06).resize((1280, 720)).convert("RGB")
    spans = registered.matcher.find(
        fingerprint(decode(S.image_bytes(picture, "JPEG", quality=75), "moved"))
    )
    assert [(s["item"], s["evidence"]) for s in spans] == [("slide-2", "crop")]


def test_crops_of_unregistered_slides_are_not_found(registered: Registered) -> None:
    hits = [
        i
        for i in range(10, 40)
        if found(registered, S.image_bytes(crop(S.slide(i, DECK), 0.05, 0.05, 0.05, 0.05)))
    ]
    assert hits == []


@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=50),
    st.binary(min_size=16, max_size=16),
)
def test_keying_keeps_every_distance_and_inverts(values: list[int], key: bytes) -> None:
    h = np.array(values, dtype=np.uint64)
    keying = Keying(key)
    keyed = keying.apply(h)
    assert np.array_equal(keying.invert(keyed), h)
    assert np.array_equal(
        distance(keyed[:, None], keyed[None, :]), distance(h[:, None], h[None, :])
    )


def test_keyed_hashes_differ_between_tenants() -> None:
    h = np.arange(1000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    a, b = Keying(b"a" * 16).apply(h), Keying(b"b" * 16).apply(h)
    assert np.mean(distance(a, b)) > 20  # unrelated: about 32 bits apart
    assert np.mean(distance(a, h)) > 20
