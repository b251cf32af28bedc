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


def test_unregistered_slides_of_the_same_template_are_rarely_found(registered: Registered) -> None:
    """The hard case: same title bar, logo box, bullets and footer, other words."""
    hits = sum(bool(found(registered, S.image_bytes(S.slide(i, DECK)))) for i in range(10, 60))
    assert hits <= 1, f"{hits} of 50 unregistered slides of the registered template matched"


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
