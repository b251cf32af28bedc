"""Finding registered media in one decoded record.

Three kinds of evidence, each with its own threshold (measured: docs/media.md):

- *landmarks* (audio, and the sound of videos): at least ``min_landmarks``
  landmarks agree with a registered item on one time offset, and they are at
  least ``min_agreement`` of the scanned landmarks over that stretch;
- *frames* of a video: at least ``min_frames`` sampled frames within
  ``max_distance`` bits of a registered video's frames, at one offset (±1 s);
- *pictures*: an image within ``max_distance`` bits of a registered image or
  video frame, and a video frame within it of a registered image (a slide
  shown in a screen share).

Each span says where in the scanned record (``start``/``end``, seconds) and
where in the registered item (``item_start``/``item_end``) the match lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..keys import KeyRing
from . import audio
from .decode import FRAME_STEP
from .image import DEFAULT_MAX_DISTANCE, Keying
from .index import MultiIndex
from .store import Fingerprints, MediaItem, MediaRegistry, TenantArrays

DEFAULT_MIN_LANDMARKS = 20
DEFAULT_MIN_AGREEMENT = 0.02
DEFAULT_MIN_FRAMES = 3


@dataclass(frozen=True)
class MediaConfig:
    max_distance: int = DEFAULT_MAX_DISTANCE
    min_landmarks: int = DEFAULT_MIN_LANDMARKS
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    min_frames: int = DEFAULT_MIN_FRAMES


@dataclass
class _Tenant:
    name: str
    table: np.ndarray
    keying: Keying
    arrays: TenantArrays
    index: MultiIndex | None = None

    def visual_index(self) -> MultiIndex:
        if self.index is None:
            self.index = MultiIndex(self.arrays.visual_hash)
        return self.index


class MediaMatcher:
    """Looks up records' fingerprints in every tenant's media the key ring can read."""

    def __init__(
        self, registry: MediaRegistry, keys: KeyRing, config: MediaConfig | None = None
    ) -> None:
        self.registry = registry
        self.config = config or MediaConfig()
        self.items: dict[int, MediaItem] = registry.items()
        self.tenants: list[_Tenant] = []
        for name in registry.tenants():
            key = registry.tenant_key(name)
            if key is not None:
                self.tenants.append(
                    _Tenant(name, audio.keyed_table(key), Keying(key), registry.arrays(name))
                )

    def find(self, fp: Fingerprints) -> list[dict[str, Any]]:
        spans: list[dict[str, Any]] = []
        for tenant in self.tenants:
            if fp.landmarks.size and tenant.arrays.audio_hash.size:
                spans += self._landmark_spans(tenant, fp)
            if fp.hashes.size and tenant.arrays.visual_hash.size:
                spans += self._visual_spans(tenant, fp)
        spans.sort(key=lambda s: (-s["matches"], -s["confidence"], s["tenant"], s["item"]))
        return spans

    def _span(self, tenant: _Tenant, code: int, evidence: str, **fields: Any) -> dict[str, Any]:
        item = self.items[code]
        return {
            "tenant": tenant.name,
            "item": item.id,
            "item_kind": item.kind,
            "category": item.category,
            "evidence": evidence,
            **fields,
        }

    def _landmark_spans(self, tenant: _Tenant, fp: Fingerprints) -> list[dict[str, Any]]:
        a = tenant.arrays
        q = tenant.table[fp.landmarks]
        out = []
        for code, matches, offset, first, last in audio.match(
            q, fp.anchors, a.audio_hash, a.audio_item, a.audio_time
        ):
            if matches < self.config.min_landmarks:
                break  # sorted by matches
            if code not in self.items:
                continue
            inside = int(np.count_nonzero((fp.anchors >= first) & (fp.anchors <= last)))
            agreement = matches / max(inside, 1)
            if agreement < self.config.min_agreement:
                continue
            sec = audio.FRAME_SECONDS
            out.append(
                self._span(
                    tenant, code, "landmarks",
                    start=round(first * sec, 2), end=round(last * sec, 2),
                    item_start=round((first + offset) * sec, 2),
                    item_end=round((last + offset) * sec, 2),
                    matches=matches, confidence=round(min(1.0, agreement), 3),
                )
            )  # fmt: skip
        return out

    def _visual_spans(self, tenant: _Tenant, fp: Fingerprints) -> list[dict[str, Any]]:
        a = tenant.arrays
        radius = self.config.max_distance
        qi, hi, dist = tenant.visual_index().search(tenant.keying.apply(fp.hashes), radius)
        if qi.size == 0:
            return []
        codes = a.visual_item[hi].astype(np.int64)
        out = []
        for code in np.unique(codes):
            if int(code) not in self.items:
                continue
            item = self.items[int(code)]
            sel = codes == code
            q_t = fp.times[qi[sel]].astype(np.float64)
            r_t = a.visual_time[hi[sel]].astype(np.float64)
            d = dist[sel]
            if fp.kind == "video" and item.kind == "video":
                # Frames of one registered video: they must agree on an offset.
                bins = np.round((r_t - q_t) / FRAME_STEP).astype(np.int64)
                best, best_frames = 0, np.empty(0, np.int64)
                for b in np.unique(bins):
                    near = np.abs(bins - b) <= 1
                    frames = np.unique(qi[sel][near])
                    if frames.size > best_frames.size:
                        best, best_frames = int(b), frames
                need = min(self.config.min_frames, item.frames)
                if best_frames.size < need:
                    continue
                near = np.abs(bins - best) <= 1
                first, last = float(q_t[near].min()), float(q_t[near].max())
                out.append(
                    self._span(
                        tenant, int(code), "frames",
                        start=round(first, 2), end=round(last, 2),
                        item_start=round(first + best * FRAME_STEP, 2),
                        item_end=round(last + best * FRAME_STEP, 2),
                        matches=int(best_frames.size), distance=int(d.min()),
                        confidence=round(1.0 - float(d[near].mean()) / 32.0, 3),
                    )
                )  # fmt: skip
            else:
                # A picture: one close hash is the evidence.
                k = int(np.argmin(d))
                out.append(
                    self._span(
                        tenant, int(code), "picture",
                        start=round(float(q_t.min()), 2), end=round(float(q_t.max()), 2),
                        item_start=round(float(r_t[k]), 2), item_end=round(float(r_t[k]), 2),
                        matches=int(np.unique(qi[sel]).size), distance=int(d[k]),
                        confidence=round(1.0 - float(d[k]) / 32.0, 3),
                    )
                )  # fmt: skip
        return out
