"""Media made at test time from seeds (scan/media/samples.py), and a registry of it
(module-scoped: built once per test file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from trainguard.scan.keys import KeyRing
from trainguard.scan.media import MediaRegistry
from trainguard.scan.media import samples as S
from trainguard.scan.media.decode import decode
from trainguard.scan.media.matcher import MediaMatcher
from trainguard.scan.media.store import fingerprint

RATE = 16000
REGISTERED_RECORDINGS = range(6)  # seeds of the registered recordings
UNREGISTERED_RECORDINGS = range(100, 112)  # other "speakers saying other things"
DECK = 3  # the registered deck; its other slides share the template


@dataclass
class Registered:
    path: Path
    keys: KeyRing
    registry: MediaRegistry
    matcher: MediaMatcher
    recordings: dict[str, np.ndarray]


def recording(seed: int, seconds: float = 30.0) -> np.ndarray:
    return S.speech_like(seed, seconds, RATE)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """Six 30 s recordings and slides 0-9 of one deck, for tenant acme."""
    base = tmp_path_factory.mktemp("media")
    keys = KeyRing(base / "keys")
    recordings = {f"meeting-{s}": recording(s) for s in REGISTERED_RECORDINGS}
    entries = [
        (name, "customer.recording", fingerprint(decode(S.encode_audio(x, RATE), name)))
        for name, x in recordings.items()
    ]
    entries += [
        (f"slide-{i}", "customer.slides", fingerprint(decode(S.image_bytes(S.slide(i, DECK)), "s")))
        for i in range(10)
    ]
    registry = MediaRegistry(base / "registry", keys)
    registry.add("acme", entries)
    return Registered(base / "registry", keys, registry, MediaMatcher(registry, keys), recordings)
