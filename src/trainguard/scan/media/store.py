"""Media fingerprints on disk, in their own folder of the registry (``media/``).

Layout::

    media/media.json           parameters, each tenant's key check and arrays, next item code
    media/items.jsonl          one line per item: code, tenant, id, kind, category, counts
    media/<name>.hash.npy      audio: a tenant's keyed landmarks, sorted (uint32)
    media/<name>.item.npy      the item code of each (uint32)
    media/<name>.time.npy      audio: the anchor frame (uint32); visual, centres: seconds
    media/<name>.xy.npy        points: each keypoint's position (float32 pairs)
    media/<name>.still.npy     points: the row of its still in the centres (uint32)

``visual`` arrays hold keyed 64-bit perceptual hashes of images and video
frames (uint64, in the order added); ``audio`` arrays keyed landmarks of audio
files and of the sound of videos; ``centres`` one row per *still* — an image, or
a video frame that differs from the video's previous still (decode.STILL_BITS) —
with the keyed hash of its centre, its item and time, and ``points`` the stills'
keyed keypoint descriptors with their positions and still (what finds crops,
:mod:`.crops`). Every add rewrites the tenant's arrays under
new names and then replaces ``media.json`` atomically, so a crash leaves the
previous state; the text registry beside it is not touched. Nothing stored
identifies content without the tenant's key (see :mod:`.audio`, :mod:`.image`).
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConflictError, InputError, NotFoundError
from ..fingerprint import siphash24_word
from ..keys import KeyRing
from . import audio, crops
from .decode import PICTURE_WIDTH, Decoded, Kind
from .image import POINTS_DOMAIN, Keying, dct_hash

FOLDER = "media"
PARAMETERS = {
    "audio_rate": 8000,
    "hop": audio.HOP,
    "n_fft": audio.N_FFT,
    "peak_frames": audio.PEAK_FRAMES,
    "peak_bins": audio.PEAK_BINS,
    "fanout": audio.FANOUT,
    "visual": "dct-4-12-of-64",
    "points": f"orb-{crops.MAX_POINTS}-of-{PICTURE_WIDTH}-centre-{crops.CENTRE}",
    "media_format": 3,  # 3: video stills keep keypoints and centres
}
# The parts of each array set of a tenant.
ARRAYS: dict[str, tuple[str, ...]] = {
    "audio": ("hash", "item", "time"),
    "visual": ("hash", "item", "time"),
    "points": ("hash", "still", "xy"),
    "centres": ("hash", "item", "time"),
}


@dataclass(frozen=True)
class MediaItem:
    code: int
    tenant: str
    id: str
    kind: Kind
    category: str | None
    duration: float
    landmarks: int
    frames: int


@dataclass
class Fingerprints:
    """A recording's, image's or video's fingerprints before keying."""

    kind: Kind
    duration: float
    landmarks: np.ndarray  # uint32 21-bit landmark values
    anchors: np.ndarray  # uint32 anchor frames
    hashes: np.ndarray  # uint64 DCT hash of each sampled frame
    times: np.ndarray  # float32 seconds of each sampled frame
    # Per still (an image, or a video's distinct frames; see .crops): keypoint
    # positions, descriptors and still numbers, each still's centre hash and time, and
    # the grey pictures the scan hashes aligned regions of (never stored).
    points_xy: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.float32))
    points: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    points_still: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))
    centre: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    centre_time: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    pictures: list[np.ndarray] = field(default_factory=list, repr=False)


def fingerprint(decoded: Decoded) -> Fingerprints:
    if decoded.audio is not None:
        landmarks, anchors = audio.landmarks(decoded.audio)
    else:
        landmarks = anchors = np.empty(0, np.uint32)
    if decoded.frames is not None and decoded.times is not None:
        hashes, times = dct_hash(decoded.frames), decoded.times.astype(np.float32)
    else:
        hashes, times = np.empty(0, np.uint64), np.empty(0, np.float32)
    fp = Fingerprints(decoded.kind, decoded.duration, landmarks, anchors, hashes, times)
    if decoded.picture is not None:
        stills, still_times = [decoded.picture], [0.0]
    else:
        stills, still_times = decoded.stills, decoded.still_times
    if stills:
        found = [crops.keypoints(p) for p in stills]
        fp.points_xy = np.concatenate([xy for xy, _ in found]).reshape(-1, 2)
        fp.points = np.concatenate([bits for _, bits in found])
        fp.points_still = np.repeat(
            np.arange(len(stills), dtype=np.uint32), [bits.size for _, bits in found]
        )
        fp.centre = np.array([crops.centre_hash(p) for p in stills], np.uint64)
        fp.centre_time = np.asarray(still_times, np.float32)
        fp.pictures = list(stills)
    return fp


def key_check(key: bytes) -> str:
    """What media.json keeps of a tenant's key: enough to refuse another key."""
    return f"{siphash24_word(key, 0x6D65646961):016x}"


@dataclass
class TenantArrays:
    audio_hash: np.ndarray
    audio_item: np.ndarray
    audio_time: np.ndarray
    visual_hash: np.ndarray
    visual_item: np.ndarray
    visual_time: np.ndarray
    points_hash: np.ndarray
    points_still: np.ndarray
    points_xy: np.ndarray
    centres_hash: np.ndarray
    centres_item: np.ndarray
    centres_time: np.ndarray

    @staticmethod
    def empty() -> TenantArrays:
        return TenantArrays(
            np.empty(0, np.uint32), np.empty(0, np.uint32), np.empty(0, np.uint32),
            np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.float32),
            np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty((0, 2), np.float32),
            np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.float32),
        )  # fmt: skip

    def parts(self, kind: str) -> list[np.ndarray]:
        return [getattr(self, f"{kind}_{part}") for part in ARRAYS[kind]]

    @property
    def points_item(self) -> np.ndarray:
        """The item code of each keypoint."""
        out: np.ndarray = self.centres_item[self.points_still]
        return out

    def keep(self, kind: str, code: int) -> list[np.ndarray]:
        """The arrays of ``kind`` without the rows of item ``code`` (points renumber
        their stills to the centres kept)."""
        arrays = self.parts(kind)
        if kind == "points":
            stills_kept = self.centres_item != code
            renumber = (np.cumsum(stills_kept) - 1).astype(np.uint32)
            kept = stills_kept[arrays[1]]
            return [arrays[0][kept], renumber[arrays[1][kept]], arrays[2][kept]]
        kept = arrays[1] != code
        return [a[kept] for a in arrays]


class MediaRegistry:
    """The media part of a registry folder."""

    def __init__(self, registry: str | Path, keys: KeyRing) -> None:
        self.path = Path(registry) / FOLDER
        self.keys = keys
        self._meta: dict[str, Any] | None = None
        self._items: dict[int, MediaItem] | None = None

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            f = self.path / "media.json"
            if not f.exists():
                self._meta = {**PARAMETERS, "next_item": 0, "tenants": {}}
            else:
                try:
                    meta = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise InputError(
                        f"registry {self.path}: media.json unreadable ({exc})"
                    ) from None
                stale = {k: meta.get(k) for k, v in PARAMETERS.items() if meta.get(k) != v}
                if stale:
                    raise InputError(
                        f"registry {self.path} was made with other media parameters ({stale}); "
                        "register the media again into a new registry"
                    )
                self._meta = meta
        return self._meta

    def exists(self) -> bool:
        return (self.path / "media.json").exists()

    def tenants(self) -> list[str]:
        return sorted(self.meta["tenants"])

    def items(self) -> dict[int, MediaItem]:
        if self._items is None:
            limit = int(self.meta["next_item"])
            items: dict[int, MediaItem] = {}
            f = self.path / "items.jsonl"
            if f.exists():
                with f.open(encoding="utf-8") as lines:
                    for line in lines:
                        d = json.loads(line)
                        if int(d["code"]) < limit:  # beyond: from a run that did not commit
                            items[int(d["code"])] = MediaItem(
                                int(d["code"]), d["tenant"], d["id"], d["kind"],
                                d.get("category"), float(d["duration"]),
                                int(d["landmarks"]), int(d["frames"]),
                            )  # fmt: skip
            self._items = items
        return self._items

    def tenant_key(self, tenant: str) -> bytes | None:
        """The tenant's key when the key ring holds the one its media was keyed with."""
        key = self.keys.key(tenant)
        spec = self.meta["tenants"].get(tenant)
        if key is None or spec is None:
            return None
        if spec["key_check"] != key_check(key):
            raise InputError(
                f"keys {self.keys.path}: not the key tenant {tenant!r}'s media in "
                f"{self.path} was registered with (use the --keys folder it was made with)"
            )
        return key

    def arrays(self, tenant: str) -> TenantArrays:
        spec = self.meta["tenants"].get(tenant)
        if spec is None:
            return TenantArrays.empty()
        out = []
        for kind, parts in ARRAYS.items():
            for part in parts:
                out.append(np.load(self.path / f"{spec[kind]}.{part}.npy", mmap_mode="r"))
        return TenantArrays(*[np.asarray(a) for a in out])

    def stats(self) -> dict[str, Any]:
        items = self.items()
        disk = sum(f.stat().st_size for f in self.path.glob("*.npy")) if self.exists() else 0
        by_kind = {
            k: sum(1 for i in items.values() if i.kind == k) for k in ("audio", "image", "video")
        }
        seconds = sum(i.duration for i in items.values() if i.kind != "image")
        return {
            "items": by_kind,
            "landmarks": sum(i.landmarks for i in items.values()),
            "frame_hashes": sum(i.frames for i in items.values()),
            "seconds_of_audio_and_video": round(seconds, 1),
            "bytes_on_disk": disk,
        }

    # --- writing ----------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"registry {self.path} is being written by another process"
                ) from None
            self._meta = self._items = None
            yield

    def add(
        self, tenant: str, entries: list[tuple[str, str | None, Fingerprints]]
    ) -> tuple[int, int]:
        """Register (id, category, fingerprints) of one tenant; returns (added, already).
        An id the tenant already registered is left as it is."""
        if not tenant.strip():
            raise InputError("--tenant: must not be empty")
        with self.writing():
            meta = json.loads(json.dumps(self.meta))
            key = self.keys.key(tenant, create=True)
            assert key is not None
            spec = meta["tenants"].get(tenant)
            if spec is not None and spec["key_check"] != key_check(key):
                raise InputError(
                    f"keys {self.keys.path}: not the key tenant {tenant!r}'s media was "
                    "registered with (use the --keys folder it was made with)"
                )
            known = {i.id for i in self.items().values() if i.tenant == tenant}
            table = audio.keyed_table(key)
            keying, point_keying = Keying(key), Keying(key, POINTS_DOMAIN)
            old = self.arrays(tenant)
            parts: dict[str, list[np.ndarray]] = {
                "ah": [old.audio_hash], "ai": [old.audio_item], "at": [old.audio_time],
                "vh": [old.visual_hash], "vi": [old.visual_item], "vt": [old.visual_time],
                "ph": [old.points_hash], "ps": [old.points_still], "pxy": [old.points_xy],
                "ch": [old.centres_hash], "ci": [old.centres_item], "ct": [old.centres_time],
            }  # fmt: skip
            stills = int(old.centres_item.size)
            lines = []
            code = int(meta["next_item"])
            already = 0
            for item_id, category, fp in entries:
                if item_id in known:
                    already += 1
                    continue
                known.add(item_id)
                parts["ah"].append(table[fp.landmarks])
                parts["ai"].append(np.full(fp.landmarks.size, code, np.uint32))
                parts["at"].append(fp.anchors.astype(np.uint32))
                parts["vh"].append(keying.apply(fp.hashes))
                parts["vi"].append(np.full(fp.hashes.size, code, np.uint32))
                parts["vt"].append(fp.times.astype(np.float32))
                parts["ph"].append(point_keying.apply(fp.points))
                parts["ps"].append((fp.points_still + stills).astype(np.uint32))
                parts["pxy"].append(fp.points_xy.astype(np.float32).reshape(-1, 2))
                parts["ch"].append(keying.apply(fp.centre))
                parts["ci"].append(np.full(fp.centre.size, code, np.uint32))
                parts["ct"].append(fp.centre_time.astype(np.float32))
                stills += int(fp.centre.size)
                lines.append(
                    {
                        "code": code, "tenant": tenant, "id": item_id, "kind": fp.kind,
                        "category": category, "duration": round(fp.duration, 3),
                        "landmarks": int(fp.landmarks.size), "frames": int(fp.hashes.size),
                    }
                )  # fmt: skip
                code += 1
            if not lines:
                return 0, already
            with (self.path / "items.jsonl").open("a", encoding="utf-8") as f:
                for line in lines:
                    f.write(json.dumps(line, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            ah, ai, at = (np.concatenate(parts[k]) for k in ("ah", "ai", "at"))
            order = np.argsort(ah, kind="stable")
            new_spec = {
                "key_check": key_check(key),
                "audio": self._save("audio", ah[order], ai[order], at[order]),
                "visual": self._save(
                    "visual", *(np.concatenate(parts[k]) for k in ("vh", "vi", "vt"))
                ),
                "points": self._save(
                    "points", *(np.concatenate(parts[k]) for k in ("ph", "ps", "pxy"))
                ),
                "centres": self._save(
                    "centres", *(np.concatenate(parts[k]) for k in ("ch", "ci", "ct"))
                ),
            }
            meta["tenants"][tenant] = new_spec
            meta["next_item"] = code
            self._commit(meta)
            if spec is not None:
                self._delete(spec)
            return len(lines), already

    def remove(self, tenant: str, item_id: str) -> MediaItem:
        """Forget one item's fingerprints (the tenant's arrays are rewritten without them)."""
        with self.writing():
            found = [i for i in self.items().values() if i.tenant == tenant and i.id == item_id]
            if not found:
                raise NotFoundError(f"media item {item_id!r} of tenant {tenant!r}: not registered")
            item = found[0]
            meta = json.loads(json.dumps(self.meta))
            spec = meta["tenants"][tenant]
            a = self.arrays(tenant)
            meta["tenants"][tenant] = {
                "key_check": spec["key_check"],
                **{kind: self._save(kind, *a.keep(kind, item.code)) for kind in ARRAYS},
            }
            self._commit(meta)
            self._delete(spec)
            # Rewrite the item list without the removed line's id.
            self._rewrite_items(exclude=item.code)
            return item

    def compact(self) -> dict[str, int]:
        """Each add and remove already leaves one set of arrays per tenant; what a killed
        add or remove can leave behind is removed here: arrays that media.json does not
        name, and item lines past the last committed item."""
        with self.writing():
            named = {
                f"{spec[kind]}.{part}.npy"
                for spec in self.meta["tenants"].values()
                for kind, parts in ARRAYS.items()
                for part in parts
            }
            removed = freed = 0
            for f in self.path.glob("*.npy"):
                if f.name not in named:
                    freed += f.stat().st_size
                    f.unlink()
                    removed += 1
            for f in self.path.glob(".*.json*"):  # temporary files of a killed commit
                freed += f.stat().st_size
                f.unlink()
                removed += 1
            lines = (
                (self.path / "items.jsonl").read_text(encoding="utf-8").count("\n")
                if (self.path / "items.jsonl").exists()
                else 0
            )
            dropped = lines - len(self.items())
            if dropped:
                self._rewrite_items(exclude=-1)
            return {"files_removed": removed, "bytes_freed": freed, "item_lines_dropped": dropped}

    def _rewrite_items(self, exclude: int) -> None:
        tmp = self.path / f".items.{uuid.uuid4().hex[:8]}.jsonl"
        with tmp.open("w", encoding="utf-8") as f:
            for i in sorted(self.items().values(), key=lambda i: i.code):
                if i.code != exclude:
                    f.write(json.dumps({**i.__dict__}, sort_keys=True) + "\n")
        os.replace(tmp, self.path / "items.jsonl")
        self._items = None

    def _save(self, kind: str, *arrays: np.ndarray) -> str:
        name = f"{kind}-{uuid.uuid4().hex[:12]}"
        for part, array in zip(ARRAYS[kind], arrays, strict=True):
            with (self.path / f"{name}.{part}.npy").open("wb") as f:
                np.save(f, array)
                f.flush()
                os.fsync(f.fileno())
        return name

    def _delete(self, spec: dict[str, Any]) -> None:
        for kind, parts in ARRAYS.items():
            for part in parts:
                (self.path / f"{spec[kind]}.{part}.npy").unlink(missing_ok=True)

    def _commit(self, meta: dict[str, Any]) -> None:
        tmp = self.path / f".media.{uuid.uuid4().hex[:8]}.json"
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / "media.json")
        self._meta = meta
        self._items = None
