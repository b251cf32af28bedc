"""The registry: keyed fingerprints of registered customer content, on disk.

Layout of a registry folder::

    registry.json          parameters, the committed segments and filter, the next item code
    items.jsonl            one line per item: code, tenant, id, category, counts
    seg-NNNNNN.fp.npy      sorted 48-bit fingerprints of one tenant, packed in 6 bytes each
    seg-NNNNNN.item.npy    the uint32 item code of each fingerprint (4 bytes each)
    filter-NNNNNN.npy      the filter of every tenant's platform fingerprints (2 bytes each)
    reference.npy          sorted unkeyed 13-gram hashes of known public text

Segments and filter are memory-mapped, so worker processes share one copy of
the pages: at most 12 bytes of memory per fingerprint, whatever the number of
readers. Adding
content writes new segments, merging a tenant's smallest ones (size-tiered)
when it holds more than four of a kind; ``compact`` merges each tenant's segments into
one; removing an item rewrites its tenant's segments without it. Two kinds of
fingerprint: ``ngram`` (every 13-word window, for verbatim matches) and
``shingle`` (5-word windows whose unkeyed hash is 0 mod 4 — a sample chosen
by content, so a scanned document samples the same ones — keyed like the
rest, for near-duplicates). The text itself is
never stored. Fingerprints are described in :mod:`.fingerprint`, the filter in
:mod:`.bloom`: an add sets its new fingerprints' bits; a removal or a
compaction rebuilds the filter from the segments (inverting each tenant's
permutation with its key), so a removed item leaves nothing behind there
either. ``registry.json`` is replaced atomically after segments and
items are on disk, so a crash leaves the previous state.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConflictError, InputError, NotFoundError
from . import bloom
from .fingerprint import (
    DEFAULT_N,
    key_words,
    pack,
    permute,
    platform_fingerprints,
    siphash24_word,
    unpack,
    unpermute,
    window_hashes,
)
from .keys import KeyRing
from .normalize import tokenize

ENV_REGISTRY = "TRAINGUARD_REGISTRY"
DEFAULT_REGISTRY = "trainguard-registry"
SHINGLE_N = 5
SHINGLE_SAMPLE = 4
# Bumped whenever tokens or their hashes change: fingerprints made under another
# normalization would silently never match.
# 2: characters NFKC changes in unspaced scripts hash as their NFKC form.
# 3: token hashes over 8-byte chunks of the normalized bytes (was FNV-1a per byte).
# 4: n't one token, joined or apart; labels on their own line, wrapped, with a
#    parenthesis, or after a timestamp within a line.
NORMALIZATION = 4
# 3: 48-bit tenant fingerprints in 6 bytes, a keyed permutation of the platform
# fingerprint a scan probes the filter with, 2 bytes of filter each (2: 56 bits in 7
# bytes, 1 byte of filter; 1: 64-bit SipHash under the tenant key, no filter).
FINGERPRINTS = 3
PARAMETERS = {
    "ngram": DEFAULT_N,
    "shingle": SHINGLE_N,
    "shingle_sample": SHINGLE_SAMPLE,
    "normalization": NORMALIZATION,
    "fingerprints": FINGERPRINTS,
}
KINDS = ("ngram", "shingle")
_FLUSH_FINGERPRINTS = 20_000_000
MAX_SEGMENTS = 4  # per tenant and kind before an add merges (Registry._merge_smallest)
_TIER = 4
_MERGE_LIMIT = 100_000_000
# The filter is sized for the fingerprints it was built for (16 bits each); an add sets
# more bits in it until the registry has grown by half (11 bits each), then rebuilds it.
_FILTER_GROWTH = 1.5


@dataclass(frozen=True)
class Item:
    code: int
    tenant: str
    id: str
    category: str | None
    ngrams: int
    shingles: int


@dataclass
class AddResult:
    added: int = 0
    already: int = 0
    empty: int = 0
    fingerprints: int = 0


def record_fingerprints(text: str, platform: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(unique 13-gram, unique sampled 5-gram) platform fingerprints of a text."""
    k0, k1 = key_words(platform)
    hashes = tokenize(text).hashes
    ngrams = np.unique(platform_fingerprints(window_hashes(hashes, DEFAULT_N), k0, k1))
    shingles = window_hashes(hashes, SHINGLE_N)
    sampled = shingles[shingles % np.uint64(SHINGLE_SAMPLE) == 0]
    return ngrams, np.unique(platform_fingerprints(sampled, k0, k1))


def platform_check(platform: bytes) -> str:
    """What registry.json records of its platform key: a keyed hash of a constant, so
    that keys from another registry are refused rather than silently matching
    nothing (it says nothing about the key itself)."""
    return f"{siphash24_word(platform, 0x74726169_6E677561):016x}"


@dataclass
class Segment:
    name: str
    tenant: str
    kind: str
    fingerprints: int
    fp: np.ndarray = field(repr=False)  # packed: see fingerprint.pack()
    item: np.ndarray = field(repr=False)

    def values(self) -> np.ndarray:
        """The segment's fingerprints as an array of uint64."""
        return unpack(self.fp)


class Registry:
    def __init__(self, path: str | Path | None = None, keys: KeyRing | None = None) -> None:
        self.path = Path(path or os.environ.get(ENV_REGISTRY) or DEFAULT_REGISTRY)
        self.keys = keys or KeyRing()
        self._meta: dict[str, Any] | None = None
        self._items: dict[int, Item] | None = None
        self._segments: list[Segment] | None = None
        self._reference: np.ndarray | None = None
        self._filter: np.ndarray | None = None

    # --- reading --------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            f = self.path / "registry.json"
            if not f.exists():
                self._meta = {"format": 1, **PARAMETERS, "next_item": 0, "segments": []}
            else:
                try:
                    meta = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise InputError(
                        f"registry {self.path}: registry.json unreadable ({exc})"
                    ) from None
                stale = {k: meta.get(k) for k, v in PARAMETERS.items() if meta.get(k) != v}
                if stale:
                    raise InputError(
                        f"registry {self.path} was made with other parameters ({stale}); "
                        "register the content again into a new registry"
                    )
                self._meta = meta
        return self._meta

    def exists(self) -> bool:
        return (self.path / "registry.json").exists()

    def require(self) -> Registry:
        """This registry, which must exist: reading, removing from or compacting a
        registry that is not there is a mistake, not an empty registry to create."""
        if not self.exists():
            raise NotFoundError(
                f"registry {self.path}: not found (run `trainguard registry add` first)"
            )
        return self

    def require_keys(self) -> Registry:
        """This registry, when the key ring can recognise its content: the platform key
        it was made with and the key of at least one of its tenants. A scan with the
        wrong keys would otherwise find nothing and report a clean corpus."""
        if not self.meta["segments"]:
            return self
        platform = self.keys.platform_key()
        if platform is None:
            raise InputError(
                f"keys {self.keys.path}: no platform key, so registry {self.path} "
                "cannot be read (use the --keys folder it was made with)"
            )
        if self.meta.get("platform_check") != platform_check(platform):
            raise InputError(
                f"keys {self.keys.path}: not the platform key registry {self.path} "
                "was made with (use the --keys folder it was made with)"
            )
        if len(self.tenants_without_keys()) == len(self.tenants()):
            raise InputError(f"keys {self.keys.path}: no key of any tenant of registry {self.path}")
        return self

    def tenants_without_keys(self) -> list[str]:
        """The registry's tenants whose key the key ring does not hold."""
        return [t for t in self.tenants() if self.keys.key(t) is None]

    def items(self) -> dict[int, Item]:
        if self._items is None:
            limit = int(self.meta["next_item"])
            items: dict[int, Item] = {}
            f = self.path / "items.jsonl"
            if f.exists():
                with f.open(encoding="utf-8") as lines:
                    for line in lines:
                        d = json.loads(line)
                        if d.get("removed"):
                            items.pop(int(d["code"]), None)
                        elif int(d["code"]) < limit:  # beyond: written by a run that did not commit
                            items[int(d["code"])] = Item(
                                int(d["code"]), d["tenant"], d["id"], d.get("category"),
                                int(d["ngrams"]), int(d["shingles"]),
                            )  # fmt: skip
            self._items = items
        return self._items

    def segments(self) -> list[Segment]:
        if self._segments is None:
            out = []
            for s in self.meta["segments"]:
                # Plain array views of the maps: np.memmap's Python-level slicing
                # hooks cost more than the lookups they wrap.
                fp = np.asarray(np.load(self.path / f"{s['name']}.fp.npy", mmap_mode="r"))
                item = np.asarray(np.load(self.path / f"{s['name']}.item.npy", mmap_mode="r"))
                out.append(
                    Segment(s["name"], s["tenant"], s["kind"], int(s["fingerprints"]), fp, item)
                )
            self._segments = out
        return self._segments

    def filter(self) -> np.ndarray:
        """The filter's words (one zero word when nothing is registered)."""
        if self._filter is None:
            spec = self.meta.get("filter")
            self._filter = (
                np.asarray(np.load(self.path / f"{spec['name']}.npy", mmap_mode="r"))
                if spec
                else np.zeros(1, np.uint64)
            )
        return self._filter

    def reference(self) -> np.ndarray:
        if self._reference is None:
            f = self.path / "reference.npy"
            self._reference = (
                np.asarray(np.load(f, mmap_mode="r")) if f.exists() else np.empty(0, np.uint64)
            )
        return self._reference

    def tenants(self) -> list[str]:
        return sorted({s["tenant"] for s in self.meta["segments"]})

    def stats(self) -> dict[str, Any]:
        items = self.items()
        by_kind = {k: 0 for k in KINDS}
        disk = 0
        for s in self.meta["segments"]:
            by_kind[s["kind"]] += int(s["fingerprints"])
            for suffix in (".fp.npy", ".item.npy"):
                disk += (self.path / f"{s['name']}{suffix}").stat().st_size
        if self.meta.get("filter"):
            disk += (self.path / f"{self.meta['filter']['name']}.npy").stat().st_size
        total = sum(by_kind.values())
        return {
            "path": str(self.path),
            "tenants": len({i.tenant for i in items.values()}),
            "items": len(items),
            "segments": len(self.meta["segments"]),
            "fingerprints": by_kind,
            "reference_hashes": int(self.reference().shape[0]),
            "bytes_on_disk": disk,
            "bytes_per_fingerprint": round(disk / total, 2) if total else None,
        }

    # --- writing --------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"registry {self.path} is being written by another process"
                ) from None
            # Re-read under the lock.
            self._meta = self._items = self._segments = self._filter = None
            yield

    def _commit(self, meta: dict[str, Any]) -> None:
        tmp = self.path / f".registry.{uuid.uuid4().hex[:8]}.json"
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / "registry.json")
        self._meta = meta
        self._items = self._segments = self._filter = None

    def _write_segment(
        self, tenant: str, kind: str, fp: np.ndarray, item: np.ndarray
    ) -> dict[str, Any]:
        order = np.lexsort((item, fp))
        fp, item = fp[order], item[order]
        keep = np.ones(len(fp), dtype=bool)
        keep[1:] = (fp[1:] != fp[:-1]) | (item[1:] != item[:-1])
        name = f"seg-{uuid.uuid4().hex[:12]}"
        self._save(f"{name}.fp", pack(fp[keep]))
        self._save(f"{name}.item", item[keep].astype(np.uint32))
        return {"name": name, "tenant": tenant, "kind": kind, "fingerprints": int(keep.sum())}

    def _save(self, name: str, array: np.ndarray) -> None:
        with (self.path / f"{name}.npy").open("wb") as f:
            np.save(f, array)
            f.flush()
            os.fsync(f.fileno())

    def _load(self, segments: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(fingerprints, item codes) of these segments, concatenated, in memory."""
        fps = [unpack(np.load(self.path / f"{s['name']}.fp.npy")) for s in segments]
        codes = [np.load(self.path / f"{s['name']}.item.npy") for s in segments]
        return np.concatenate(fps), np.concatenate(codes)

    # --- the filter -------------------------------------------------------------------

    def _filter_to_grow(self, meta: dict[str, Any]) -> np.ndarray | None:
        """An in-memory copy of the committed filter that an add sets bits in (None:
        there is none yet, and the add builds it from the segments)."""
        spec = meta.get("filter")
        if not spec:
            return None
        return np.array(np.load(self.path / f"{spec['name']}.npy"))

    def _commit_filter(self, meta: dict[str, Any], bits: np.ndarray | None) -> dict[str, Any]:
        """Save the filter an add grew, or rebuild it when it has none or the registry
        outgrew it; returns the meta that names it."""
        total = sum(int(s["fingerprints"]) for s in meta["segments"])
        spec = meta.get("filter")
        if bits is None or spec is None or total > _FILTER_GROWTH * int(spec["fingerprints"]):
            return self._rebuild_filter(meta)
        name = f"filter-{uuid.uuid4().hex[:12]}"
        self._save(name, bits)
        return {**meta, "filter": {**spec, "name": name}}

    def _rebuild_filter(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The filter of every committed segment, from the segments alone: each tenant's
        fingerprints are mapped back to platform fingerprints with the tenant's key."""
        total = sum(int(s["fingerprints"]) for s in meta["segments"])
        bits = np.zeros(bloom.words_for(total), dtype=np.uint64)
        for s in meta["segments"]:
            key = self.keys.key(s["tenant"])
            if key is None:
                raise InputError(
                    f"registry {self.path}: no key of tenant {s['tenant']!r} in "
                    f"{self.keys.path}; the filter cannot be rebuilt without every tenant's key"
                )
            fps, _ = self._load([s])
            bloom.insert(bits, unpermute(fps, *key_words(key)))
        name = f"filter-{uuid.uuid4().hex[:12]}"
        self._save(name, bits)
        return {**meta, "filter": {"name": name, "words": len(bits), "fingerprints": total}}

    def add(
        self,
        tenant: str,
        records: Iterable[tuple[str, str, str | None]],
        progress: Callable[[int], None] | None = None,
    ) -> AddResult:
        """Register (item id, text, category) records of one tenant."""
        if not tenant:
            raise InputError("--tenant must not be empty")
        key = self.keys.key(tenant, create=True)
        platform = self.keys.platform_key(create=True)
        assert key is not None and platform is not None
        result = AddResult()
        with self._writing():
            meta = dict(self.meta)
            check = meta.setdefault("platform_check", platform_check(platform))
            if check != platform_check(platform):
                raise InputError(
                    f"keys {self.keys.path}: not the platform key registry {self.path} "
                    "was made with; adding under it would make content no scan finds"
                )
            meta["segments"] = list(meta["segments"])
            bits = self._filter_to_grow(meta)
            known = {(i.tenant, i.id) for i in self.items().values()}
            code = int(meta["next_item"])
            buffers: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {
                k: ([], []) for k in KINDS
            }
            pending = 0
            lines: list[str] = []
            for item_id, text, category in records:
                if (tenant, item_id) in known:
                    result.already += 1
                    continue
                known.add((tenant, item_id))
                ngrams, shingles = record_fingerprints(text, platform)
                if progress is not None:
                    progress(len(text.encode("utf-8")))
                if len(ngrams) == 0:
                    result.empty += 1  # shorter than 13 words: nothing to match
                    continue
                for kind, fps in (("ngram", ngrams), ("shingle", shingles)):
                    buffers[kind][0].append(fps)
                    buffers[kind][1].append(np.full(len(fps), code, dtype=np.uint32))
                lines.append(json.dumps({
                    "code": code, "tenant": tenant, "id": item_id, "category": category,
                    "ngrams": len(ngrams), "shingles": len(shingles),
                }) + "\n")  # fmt: skip
                code += 1
                result.added += 1
                result.fingerprints += len(ngrams) + len(shingles)
                pending += len(ngrams) + len(shingles)
                if pending >= _FLUSH_FINGERPRINTS:
                    meta["segments"] += self._flush(tenant, key, buffers, bits)
                    pending = 0
            meta["segments"] += self._flush(tenant, key, buffers, bits)
            meta["segments"] = self._merge_smallest(meta["segments"], tenant)
            if result.added:  # nothing new: the committed filter stands as it is
                meta = self._commit_filter(meta, bits)
            with (self.path / "items.jsonl").open("a", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
            meta["next_item"] = code
            self._commit(meta)
            self.collect_garbage()
        return result

    def _merge_smallest(self, segments: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
        """Merge a tenant's smallest segments of a kind when it holds more than
        ``MAX_SEGMENTS``: a scan looks up every segment, so a registry fed a
        little at a time would otherwise get slower with every add.

        Size-tiered, as log-structured stores do: the smallest segments are merged
        together with each next one no more than ``_TIER`` times their sum, so a
        small add never rewrites a big segment, each fingerprint is rewritten a
        logarithmic number of times, and the count stays a handful. Merges happen
        in memory, so an add never merges more than ``_MERGE_LIMIT`` fingerprints
        (1.2 GB); beyond that, ``compact`` is the explicit, documented step."""
        for kind in KINDS:
            mine = sorted(
                (s for s in segments if s["tenant"] == tenant and s["kind"] == kind),
                key=lambda s: int(s["fingerprints"]),
            )
            if len(mine) <= MAX_SEGMENTS:
                continue
            group, total = [mine[0]], int(mine[0]["fingerprints"])
            for s in mine[1:]:
                size = int(s["fingerprints"])
                if size > _TIER * total or total + size > _MERGE_LIMIT:
                    break
                group.append(s)
                total += size
            if len(group) < 2:
                continue
            merged = self._write_segment(tenant, kind, *self._load(group))
            gone = {s["name"] for s in group}
            segments = [s for s in segments if s["name"] not in gone] + [merged]
        return segments

    def _flush(
        self,
        tenant: str,
        key: bytes,
        buffers: dict[str, tuple[list[np.ndarray], list[np.ndarray]]],
        bits: np.ndarray | None,
    ) -> list[dict[str, Any]]:
        """Write the buffered platform fingerprints as the tenant's segments (through
        the tenant's permutation), setting their bits in the filter being grown."""
        out = []
        for kind, (fps, codes) in buffers.items():
            if fps:
                platform = np.concatenate(fps)
                if bits is not None:
                    bloom.insert(bits, platform)
                tenant_fps = permute(platform, *key_words(key))
                out.append(self._write_segment(tenant, kind, tenant_fps, np.concatenate(codes)))
            fps.clear()
            codes.clear()
        return out

    def remove(self, tenant: str, item_id: str) -> Item:
        """Delete one item's fingerprints now: its tenant's segments are rewritten without it."""
        self.require()
        with self._writing():
            matches = [i for i in self.items().values() if i.tenant == tenant and i.id == item_id]
            if not matches:
                raise NotFoundError(f"registry has no item {item_id!r} of tenant {tenant!r}")
            item = matches[0]
            meta = self._rebuild_filter(self._rewrite(self.meta, {tenant}, drop={item.code}))
            with (self.path / "items.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps({"code": item.code, "removed": True}) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._commit(meta)
            self.collect_garbage()
            return item

    def compact(self) -> dict[str, int]:
        """Merge each tenant's segments of each kind into one."""
        self.require()
        with self._writing():
            before = len(self.meta["segments"])
            meta = self._rebuild_filter(self._rewrite(self.meta, set(self.tenants()), drop=set()))
            self._commit(meta)
            self.collect_garbage()
            return {"segments_before": before, "segments_after": len(meta["segments"])}

    def _rewrite(self, meta: dict[str, Any], tenants: set[str], drop: set[int]) -> dict[str, Any]:
        keep = [s for s in meta["segments"] if s["tenant"] not in tenants]
        old = [s for s in meta["segments"] if s["tenant"] in tenants]
        for tenant in sorted(tenants):
            for kind in KINDS:
                parts = [s for s in old if s["tenant"] == tenant and s["kind"] == kind]
                if not parts:
                    continue
                fps, codes = self._load(parts)
                if drop:
                    mask = ~np.isin(codes, np.fromiter(drop, dtype=np.uint32))
                    fps, codes = fps[mask], codes[mask]
                if len(fps):
                    keep.append(self._write_segment(tenant, kind, fps, codes))
        return {**meta, "segments": keep}

    def collect_garbage(self) -> None:
        """Delete segment and filter files no committed state refers to."""
        live = {s["name"] for s in self.meta["segments"]}
        if self.meta.get("filter"):
            live.add(self.meta["filter"]["name"])
        for f in [*self.path.glob("seg-*.npy"), *self.path.glob("filter-*.npy")]:
            if f.name.split(".")[0] not in live:
                f.unlink(missing_ok=True)

    def add_reference(self, texts: Iterable[str]) -> int:
        """Add known public text: its 13-grams will not count as distinctive matches."""
        with self._writing():
            parts = [np.asarray(self.reference())]
            for text in texts:
                parts.append(window_hashes(tokenize(text).hashes, DEFAULT_N))
            merged = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
            tmp = self.path / f".reference.{uuid.uuid4().hex[:8]}.npy"
            with tmp.open("wb") as f:
                np.save(f, merged)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / "reference.npy")
            self._reference = None
            if not self.exists():
                self._commit(dict(self.meta))
            return int(merged.shape[0])
