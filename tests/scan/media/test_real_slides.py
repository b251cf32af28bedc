"""Real slides (tests/data/slides: pages of the two example decks of the LaTeX beamer
class). Every other page of each deck is registered; the others share its theme —
navigation bars, a side bar, the same fonts and boxes — and must not be found.
The counts are what `python bench/bench_media.py` measured on this fixture
(docs/media.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PIL", reason="needs the media extra (Pillow)")
pytest.importorskip("cv2", reason="needs the media extra (OpenCV)")

from PIL import Image

from trainguard.scan.keys import KeyRing
from trainguard.scan.media import MediaRegistry
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.matcher import MediaMatcher
from trainguard.scan.media.store import fingerprint

PAGES = sorted((Path(__file__).parents[2] / "data" / "slides").glob("*.jpg"))


@dataclass
class Decks:
    matcher: MediaMatcher
    registered: list[Path]
    others: list[Path]

    def found(self, data: bytes) -> list[str]:
        return [s["item"] for s in self.matcher.find(fingerprint(decode(data, "scanned")))]


@pytest.fixture(scope="module")
def decks(tmp_path_factory: pytest.TempPathFactory) -> Decks:
    base = tmp_path_factory.mktemp("slides")
    keys = KeyRing(base / "keys")
    registry = MediaRegistry(base / "registry", keys)
    registered, others = [], []
    for deck in ("conference-talk", "lecture"):
        own = [p for p in PAGES if p.name.startswith(deck + "-p")]
        registered += own[0::2]
        others += own[1::2]
    registry.add(
        "acme", [(p.stem, None, fingerprint(decode(p.read_bytes(), p.name))) for p in registered]
    )
    return Decks(MediaMatcher(registry, keys), registered, others)


def cut(img: Any, share: float) -> Any:
    w, h = img.size
    return img.crop(
        (round(w * share), round(h * share), w - round(w * share), h - round(h * share))
    )


TRANSFORMS: dict[str, Callable[[Any], bytes]] = {
    "JPEG quality 30": lambda img: S.image_bytes(img, "JPEG", quality=30),
    "scaled to 1/2": lambda img: S.image_bytes(img.resize((img.width // 2, img.height // 2))),
    "crop 5%": lambda img: S.image_bytes(cut(img, 0.05)),
    "crop 10%": lambda img: S.image_bytes(cut(img, 0.10)),
}
# Of the 20 registered pages, how many each transformation leaves findable (measured).
# The fit is deterministic (docs/media.md), so these are the counts, not a margin.
AT_LEAST = {"JPEG quality 30": 20, "scaled to 1/2": 20, "crop 5%": 17, "crop 10%": 14}


def test_the_fixture_is_forty_pages_of_two_decks() -> None:
    assert len(PAGES) == 40
    assert {p.name.rsplit("-p", 1)[0] for p in PAGES} == {"conference-talk", "lecture"}


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_registered_pages_are_found_after(decks: Decks, transform: str) -> None:
    found = []
    for p in decks.registered:
        items = decks.found(TRANSFORMS[transform](Image.open(p).convert("RGB")))
        assert set(items) <= {p.stem}  # never another page of the deck
        if items:
            found.append(p.stem)
    missed = sorted({p.stem for p in decks.registered} - set(found))
    assert len(found) >= AT_LEAST[transform], missed


def test_other_pages_of_the_same_decks_are_not_found(decks: Decks) -> None:
    assert {
        p.stem: decks.found(p.read_bytes()) for p in decks.others if decks.found(p.read_bytes())
    } == {}


def test_crops_of_other_pages_of_the_same_decks_are_not_found(decks: Decks) -> None:
    cropped = {p.stem: S.image_bytes(cut(Image.open(p).convert("RGB"), 0.05)) for p in decks.others}
    assert {k: decks.found(d) for k, d in cropped.items() if decks.found(d)} == {}
