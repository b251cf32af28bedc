"""Finding registered media in one decoded record.

Three kinds of evidence, each with its own threshold (measured: docs/media.md):

- *landmarks* (audio, and the sound of videos): at least ``min_landmarks``
  landmarks agree with a registered item on one time offset, and they are at
  least ``min_agreement`` of the scanned landmarks over that stretch;
- *frames* of a video: at least ``min_frames`` sampled frames within
  ``max_distance`` bits of a registered video's frames, at one offset (±1 s);
- *pictures*: an image within ``max_distance`` bits of a registered image or
  video frame, and a video frame within it of a registered image (a slide
  shown in a screen share). Image against image needs the hashes of both
  centres within ``centre_distance`` too: slides sharing a template fall within
  it as whole pictures far more often than in their middles (measured:
  docs/media.md);
- *crops*: a still (an image, or a distinct frame of a video) whose keypoints
  agree on where it lies in a registered still (an image, or a distinct frame
  of a registered video), and whose part there holds that still's centre within
  ``centre_distance`` bits (:mod:`.crops`).

Each span says where in the scanned record (``start``/``end``, seconds) and
where in the registered item (``item_start``/``item_end``) the match lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..keys import KeyRing
from . import audio, crops, spots
from .decode import FRAME_STEP
from .image import DEFAULT_MAX_DISTANCE, POINTS_DOMAIN, Keying
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
    centre_check: bool = True  # image against image: the centres must agree too
    centre_distance: int = crops.CENTRE_MAX_DISTANCE
    # A scanned video's still against a registered video's (.crops).
    still_centre_distance: int = crops.STILL_CENTRE_MAX_DISTANCE
    crops: bool = True  # look for crops of registered images by their keypoints
    # An item is fitted as a crop when the keypoint pairs that agree with its best crop
    # hypothesis weigh this much, each 1 / the items matched at its spot (.spots);
    # 0 fits every item with enough pairs.
    crop_min_weight: float = spots.MIN_WEIGHT


@dataclass
class _Tenant:
    name: str
    table: np.ndarray
    key: bytes
    arrays: TenantArrays
    index: MultiIndex | None = None
    point_index: MultiIndex | None = None
    centres: dict[int, int] | None = None

    def __post_init__(self) -> None:
        self.keying = Keying(self.key)
        self.point_keying = Keying(self.key, POINTS_DOMAIN)

    def visual_index(self) -> MultiIndex:
        if self.index is None:
            self.index = MultiIndex(self.arrays.visual_hash)
        return self.index

    def points_index(self) -> MultiIndex:
        if self.point_index is None:
            self.point_index = MultiIndex(self.arrays.points_hash)
        return self.point_index

    def centre_of(self, code: int) -> int | None:
        """The keyed centre hash of an item's first still (an image's only one)."""
        if self.centres is None:
            a = self.arrays
            # Reversed, so each item's first still is the one left in the dict.
            pairs = zip(a.centres_item[::-1].tolist(), a.centres_hash[::-1].tolist(), strict=True)
            self.centres = dict(pairs)
        return self.centres.get(code)


class MediaMatcher:
    """Looks up records' fingerprints in every tenant's media the key ring can read."""

    def __init__(
        self, registry: MediaRegistry, keys: KeyRing, config: MediaConfig | None = None
    ) -> None:
        self.registry = registry
        self.config = config or MediaConfig()
        self.items: dict[int, MediaItem] = registry.items()
        self._codes = {(i.id, i.tenant): c for c, i in self.items.items()}
        self.tenants: list[_Tenant] = []
        for name in registry.tenants():
            key = registry.tenant_key(name)
            if key is not None:
                self.tenants.append(
                    _Tenant(name, audio.keyed_table(key), key, registry.arrays(name))
                )

    def find(self, fp: Fingerprints) -> list[dict[str, Any]]:
        spans: list[dict[str, Any]] = []
        for tenant in self.tenants:
            if fp.landmarks.size and tenant.arrays.audio_hash.size:
                spans += self._landmark_spans(tenant, fp)
            found: set[int] = set()
            if fp.hashes.size and tenant.arrays.visual_hash.size:
                visual = self._visual_spans(tenant, fp)
                found = {self._codes[s["item"], s["tenant"]] for s in visual}
                spans += visual
            if self.config.crops and fp.points.size and tenant.arrays.points_hash.size:
                spans += self._crop_spans(tenant, fp, found)
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
        keying = tenant.keying
        qi, hi, dist = tenant.visual_index().search(keying.apply(fp.hashes), radius)
        # Image against image only: a video frame's whole hash is evidence alone.
        centre = int(keying.apply(fp.centre)[0]) if fp.kind == "image" and fp.centre.size else None
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
                # A picture: one close hash is the evidence; image against image, the
                # centres must agree as well.
                registered_centre = tenant.centre_of(int(code)) if item.kind == "image" else None
                if (
                    self.config.centre_check
                    and centre is not None
                    and registered_centre is not None
                ) and bin(centre ^ registered_centre).count("1") > self.config.centre_distance:
                    continue
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

    def _crop_spans(
        self, tenant: _Tenant, fp: Fingerprints, found: set[int]
    ) -> list[dict[str, Any]]:
        """Registered stills each scanned still is a crop of (see .crops), one span per
        registered item: where in the scanned record (its stills' times) and in the item."""
        qi, hi, _ = tenant.points_index().search(
            tenant.point_keying.apply(fp.points), crops.POINT_RADIUS
        )
        scanned_still = fp.points_still[qi] if qi.size else qi
        by_item: dict[int, list[tuple[float, float, int, int, list[float]]]] = {}
        for still in np.unique(scanned_still).tolist():
            sel = scanned_still == still
            time = float(fp.centre_time[still])
            for code, r_time, inliers, d, region in self._still_crops(
                tenant, fp, fp.pictures[still], qi[sel], hi[sel], found
            ):
                by_item.setdefault(code, []).append((time, r_time, inliers, d, region))
        out = []
        for code, matches in by_item.items():
            matches.sort()
            best = min(matches, key=lambda m: (m[3], -m[2]))
            first, last = matches[0], matches[-1]
            out.append(
                self._span(
                    tenant, code, "crop",
                    start=round(first[0], 2), end=round(last[0], 2),
                    item_start=round(first[1], 2), item_end=round(last[1], 2),
                    region=best[4], matches=best[2], distance=best[3],
                    confidence=round(1.0 - best[3] / 32.0, 3),
                    **({"frames": len(matches)} if fp.kind == "video" else {}),
                )
            )  # fmt: skip
        return out

    def _still_crops(
        self,
        tenant: _Tenant,
        fp: Fingerprints,
        picture: np.ndarray,
        qi: np.ndarray,
        hi: np.ndarray,
        found: set[int],
    ) -> list[tuple[int, float, int, int, list[float]]]:
        """(item, still time, inliers, centre distance, region) of each registered still
        one scanned still (``picture``, its keypoint pairs ``qi``/``hi``) is a crop of."""
        a = tenant.arrays
        if qi.size == 0:
            return []
        # The fit samples pairs by their place in the list, and the index lists them in
        # an order that follows the tenant's key: put them in one of their own (scanned
        # keypoint, then registered position), so a finding does not depend on the key.
        xy = np.clip(np.round(a.points_xy[hi] * 65535), 0, 65535).astype(np.uint64)
        canonical = np.argsort(
            (qi.astype(np.uint64) << np.uint64(32)) | (xy[:, 0] << np.uint64(16)) | xy[:, 1],
            kind="stable",
        )
        qi, hi = qi[canonical], hi[canonical]
        stills = a.points_still[hi].astype(np.int64)
        values, dense, counts = np.unique(stills, return_inverse=True, return_counts=True)
        candidates = [
            k
            for k in np.flatnonzero(counts >= crops.MIN_POINT_PAIRS).tolist()
            if (code := int(a.centres_item[values[k]])) not in found and code in self.items
        ]
        if self.config.crop_min_weight > 0 and candidates:
            # Fit only the stills whose best crop hypothesis is agreed on by pairs that
            # weigh enough (.spots): template corners agree on every slide of a deck.
            agree, weighed = spots.screen(
                qi, fp.points_xy[qi], a.points_xy[hi], dense.reshape(-1), values.size, candidates
            )
            candidates = [
                k
                for k, n, w in zip(candidates, agree.tolist(), weighed.tolist(), strict=True)
                if n >= crops.MIN_INLIERS and w >= self.config.crop_min_weight
            ]
        out = []
        for still in values[candidates].tolist():
            registered_centre = int(a.centres_hash[still])
            sel = stills == still
            crop = crops.fit_crop(fp.points_xy[qi[sel]], a.points_xy[hi[sel]])
            if crop is None:
                continue
            box = crop.scanned_box(crops.CENTRE)
            if (
                min(box[0], box[1]) < -crops.INLIER_TOLERANCE
                or max(box[2], box[3]) > 1 + crops.INLIER_TOLERANCE
            ):
                continue  # the registered centre is not inside the scanned image
            box = tuple(min(1.0, max(0.0, v)) for v in box)
            scanned_centre = tenant.keying.apply(
                np.array([crops.region_hash(picture, box)], np.uint64)
            )
            d = bin(int(scanned_centre[0]) ^ registered_centre).count("1")
            code = int(a.centres_item[still])
            if d > (
                self.config.still_centre_distance
                if fp.kind == "video" and self.items[code].kind == "video"
                else self.config.centre_distance
            ):
                continue
            region = [round(v, 3) for v in crop.seen()]
            out.append((code, float(a.centres_time[still]), crop.inliers, d, region))
        return out
