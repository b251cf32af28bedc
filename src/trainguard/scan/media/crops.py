"""Finding a registered picture in a crop of it: keypoints, their geometry, and the
hash of the aligned centre.

A DCT hash of the whole picture does not survive a crop (2% off each side moves
it up to 26 bits). So each registered image also keeps

- its *keypoints*: up to ``MAX_POINTS`` ORB keypoints (OpenCV) of the picture
  ``PICTURE_WIDTH`` wide, each as its position (as a share of the width and
  height) and the first 64 bits of its descriptor, keyed like picture hashes;
- the DCT hash of its *centre* (``CENTRE``: the middle 60% in each direction),
  which lies inside any crop of up to 20% off each side.

A scanned image's keypoints are looked up (multi-index search, ``POINT_RADIUS``
bits); the pairs of each registered item vote for one crop — a scale and an
offset per axis — by sampled pairs of pairs (RANSAC); :mod:`.spots` first
screens out the items whose agreeing pairs are template keypoints, without a
fit. When ``MIN_INLIERS`` keypoints agree, the registered centre is mapped into
the scanned image, hashed there, and compared with the registered centre hash
(``CENTRE_MAX_DISTANCE``): the finding needs both (the geometry says where, the
centre's hash says it is the same content — slides sharing a template share many
keypoints).

A video's *stills* (its sampled frames more than ``decode.STILL_BITS`` from the
previous still) keep keypoints and a centre like an image, with their time; each
still is a candidate of its own, so crops of video frames are found the same way.

Keypoints alone are not evidence: a title bar's corners or a logo box recur on
every slide of a deck. Measured (``python bench/bench_media.py``): docs/media.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .decode import HASH_SIDE, _require
from .image import dct_hash

MAX_POINTS = 128
POINT_RADIUS = 10  # bits of the 64 kept of a descriptor
MIN_POINT_PAIRS = 8  # descriptor pairs with one item before its geometry is fitted
MIN_INLIERS = 6  # keypoints that agree on one crop
INLIER_TOLERANCE = 0.01  # of the width or height
MIN_SPREAD = 0.05  # two pairs this far apart on both axes (in the scanned picture) fix a crop
CENTRE = (0.2, 0.2, 0.8, 0.8)  # left, top, right, bottom, as shares of the picture
# A crop keeps at least this share of each side (and a picture is not enlarged in it
# by more than its inverse): beyond, the centre is not inside the crop anyway.
MIN_SCALE, MAX_SCALE = 0.4, 1.25
# A centre is hashed from fewer pixels than the whole picture, so it moves more under
# re-compression and rescaling: measured on 40 registered slides, up to 12 bits
# (JPEG quality 30), while unregistered slides' centres were at least 14 bits from
# any of their template's and 12 from other decks'; with the whole hash or the
# keypoints as the other half of the evidence, 10 (docs/media.md).
CENTRE_MAX_DISTANCE = 10
# A video's still against a registered video's: both compressed frames, their text
# blurred, so slides of one template come closer. Measured on generated slides, crops
# were found within 8 bits while an unregistered slide came within 10 of a registered
# frame; a screenshot (an image) against a video still keeps 10, which real slides'
# crops needed (python bench/bench_media.py --part video; docs/media.md).
STILL_CENTRE_MAX_DISTANCE = 8
_HYPOTHESES = 256


@dataclass(frozen=True)
class Crop:
    """Where a scanned image lies in a registered one: registered = scale * scanned + offset,
    per axis, positions as shares of each picture's width and height."""

    scale: tuple[float, float]
    offset: tuple[float, float]
    inliers: int

    def scanned_box(self, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        """A box of the registered picture, in the scanned picture's shares."""
        (sx, sy), (ox, oy) = self.scale, self.offset
        return ((box[0] - ox) / sx, (box[1] - oy) / sy, (box[2] - ox) / sx, (box[3] - oy) / sy)

    def seen(self) -> tuple[float, ...]:
        """The part of the registered picture the scanned one shows."""
        (sx, sy), (ox, oy) = self.scale, self.offset
        return tuple(min(1.0, max(0.0, v)) for v in (ox, oy, sx + ox, sy + oy))


def _orb() -> Any:
    cv2 = _require("cv2")
    return cv2.ORB_create(
        nfeatures=MAX_POINTS, scaleFactor=1.2, nlevels=4, edgeThreshold=15, fastThreshold=10
    )


_DETECTOR: Any = None


def keypoints(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions (n, 2) float32 as shares of width and height, 64-bit descriptors)."""
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = _orb()
    points, descriptors = _DETECTOR.detectAndCompute(picture, None)
    if descriptors is None or not points:
        return np.empty((0, 2), np.float32), np.empty(0, np.uint64)
    h, w = picture.shape
    xy = np.array([p.pt for p in points], np.float32) / np.array([w, h], np.float32)
    bits = np.ascontiguousarray(descriptors[:, :8]).view("<u8").reshape(-1).astype(np.uint64)
    return xy, bits


def region_hash(picture: np.ndarray, box: tuple[float, ...]) -> int:
    """The DCT hash of a box of the picture (shares of width and height)."""
    from PIL import Image

    h, w = picture.shape
    pixels = (box[0] * w, box[1] * h, box[2] * w, box[3] * h)
    small = Image.fromarray(picture).resize(
        (HASH_SIDE, HASH_SIDE), Image.Resampling.BOX, box=pixels
    )
    return int(dct_hash(np.asarray(small, np.float32)[None])[0])


def centre_hash(picture: np.ndarray) -> int:
    return region_hash(picture, CENTRE)


@lru_cache(maxsize=512)
def hypotheses(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of pairs a fit samples among ``n`` keypoint pairs: the same for the
    same n, so the same pairs give the same answer."""
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, n, _HYPOTHESES), rng.integers(0, n, _HYPOTHESES)
    a.setflags(write=False)  # shared by every caller
    b.setflags(write=False)
    return a, b


def best_inliers(scanned: np.ndarray, registered: np.ndarray) -> np.ndarray | None:
    """Which pairs agree with the sampled crop most of them agree with (the first such,
    in sampling order); None when no sample gives a usable crop."""
    a, b = hypotheses(len(scanned))
    dq, dr = scanned[a] - scanned[b], registered[a] - registered[b]
    usable = (np.abs(dq) > MIN_SPREAD).all(axis=1)
    scale = np.divide(dr, dq, out=np.zeros_like(dr), where=usable[:, None])
    usable &= ((scale >= MIN_SCALE) & (scale <= MAX_SCALE)).all(axis=1)
    if not usable.any():
        return None
    scale = scale[usable]
    offset = registered[a[usable]] - scale * scanned[a[usable]]
    error = np.abs(scanned[None] * scale[:, None] + offset[:, None] - registered[None]).max(axis=2)
    counts = (error < INLIER_TOLERANCE).sum(axis=1)
    inliers: np.ndarray = error[int(np.argmax(counts))] < INLIER_TOLERANCE
    return inliers


def fit_crop(scanned: np.ndarray, registered: np.ndarray) -> Crop | None:
    """The crop most keypoint pairs agree on (each axis: a scale and an offset), fitted
    by least squares over them; None when fewer than MIN_INLIERS agree."""
    if len(scanned) < MIN_INLIERS:
        return None
    inliers = best_inliers(scanned, registered)
    if inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    ones = np.ones(int(inliers.sum()), np.float32)
    fitted = [
        np.linalg.lstsq(
            np.stack([scanned[inliers, axis], ones], axis=1), registered[inliers, axis], rcond=None
        )[0]
        for axis in range(2)
    ]
    if not all(MIN_SCALE <= f[0] <= MAX_SCALE for f in fitted):
        return None
    return Crop(
        (float(fitted[0][0]), float(fitted[1][0])),
        (float(fitted[0][1]), float(fitted[1][1])),
        int(inliers.sum()),
    )
