"""The registry: keyed fingerprints of registered customer content, on disk.

Layout of a registry folder::

    registry.json          parameters, the committed segments and filter, the next item code
    items.jsonl            one line per item: code, tenant, id, category, counts
    seg-NNNNNN.fp.npy      sorted 48-bit fingerprints of one tenant, packed in 6 bytes each
    seg-NNNNNN.item.npy    the uint32 item code of each fingerprint (4 bytes each)
    filter-NNNNNN.npy      the filter of every tenant's platform fingerprints (2 bytes each)
    reference.npy          sorted unkeyed 13-gram hashes of known public text

``registry.json`` records the size and SHA-256 of every other file (of
``items.jsonl``, its committed prefix) and a MAC under the platform key; every
file is checked before it is used (:mod:`.integrity`). The folder is 0700 and
its files 0600 whatever the umask: item ids and categories are about people.

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
from typing import IO, TYPE_CHECKING, Any

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
from .integrity import RegistryDamaged, check_file, file_digest, mac_holds, meta_mac
from .keys import KeyRing
from .names import check_category, check_tenant, default_item_id
from .normalize import tokenize

if TYPE_CHECKING:
    from ..store import Store

ENV_REGISTRY = "TRAINGUARD_REGISTRY"
# 2: registry.json records every file's size and SHA-256 and carries a MAC; a
# registry without them (1) is refused, since nothing could tell it from a damaged one.
FORMAT = 2
ITEMS_FILE = "items.jsonl"
REFERENCE_FILE = "reference.npy"
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
    """A registry folder. With a ``store``, every change (add, remove, compact,
    reference) is appended to its audit log with what a later check needs:
    :mod:`.registrylog`."""

    def __init__(
        self,
        path: str | Path | None = None,
        keys: KeyRing | None = None,
        store: Store | None = None,
    ) -> None:
        self.path = Path(path or os.environ.get(ENV_REGISTRY) or DEFAULT_REGISTRY)
        self.keys = keys or KeyRing()
        self.store = store
        self.last_audit_entry: int | None = None  # of the last change, when logged
        self._written: dict[str, dict[str, Any]] = {}  # checksums of files written, uncommitted
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
                self._meta = {
                    "format": FORMAT, **PARAMETERS, "next_item": 0, "segments": [], "files": {}
                }  # fmt: skip
            else:
                self._meta = self._read_meta(f)
        return self._meta

    def _read_meta(self, f: Path) -> dict[str, Any]:
        try:
            meta = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise RegistryDamaged(
                f"registry {self.path}: registry.json unreadable ({exc})"
            ) from None
        if not isinstance(meta, dict) or not isinstance(meta.get("segments"), list):
            raise RegistryDamaged(f"registry {self.path}: registry.json is not a registry's")
        if meta.get("format") != FORMAT:
            raise InputError(
                f"registry {self.path}: format {meta.get('format')!r}, without the checksums "
                f"of format {FORMAT}; register the content again into a new registry"
            )
        stale = {k: meta.get(k) for k, v in PARAMETERS.items() if meta.get(k) != v}
        if stale:
            raise InputError(
                f"registry {self.path} was made with other parameters ({stale}); "
                "register the content again into a new registry"
            )
        if not isinstance(meta.get("files"), dict):
            raise RegistryDamaged(f"registry {self.path}: registry.json lists no checksums")
        # The MAC is checked whenever the platform key it was made under is at hand (a
        # key ring without it is refused by require_keys, with a message of its own).
        platform = self.keys.platform_key()
        ours = platform is not None and meta.get("platform_check") == platform_check(platform)
        if ours and platform is not None and not mac_holds(meta, platform):
            raise RegistryDamaged(
                f"registry {self.path}: registry.json was changed by something other than "
                "trainguard (its MAC does not hold); the registry is damaged"
            )
        return meta

    def _check(self, name: str, *, prefix: bool = False) -> Path:
        """The path of a committed file, checked against its recorded checksum."""
        check_file(self.path, name, self.meta["files"].get(name), prefix=prefix)
        return self.path / name

    def _verified(self, name: str) -> Path:
        """The path of a file a change reads: written by it, or committed; checked."""
        check_file(self.path, name, self._written.get(name) or self.meta["files"].get(name))
        return self.path / name

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
            raise InputError(
                f"registry {self.path} holds no registered content; a scan against it "
                "would find nothing (register content with `trainguard registry add`)"
            )
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

    def default_id(self, tenant: str, name: str) -> str:
        """The id an item registered without one gets (see names.default_item_id)."""
        key = self.keys.key(check_tenant(tenant), create=True)
        assert key is not None
        return default_item_id(key, name)

    def tenants_without_keys(self) -> list[str]:
        """The registry's tenants whose key the key ring does not hold."""
        return [t for t in self.tenants() if self.keys.key(t) is None]

    def items(self) -> dict[int, Item]:
        if self._items is None:
            limit = int(self.meta["next_item"])
            items: dict[int, Item] = {}
            committed = self.meta["files"].get(ITEMS_FILE)
            if committed is not None or self.meta["segments"]:
                # Only the committed part: lines beyond it were written by a run that
                # did not commit.
                f = self._check(ITEMS_FILE, prefix=True)
                with f.open("rb") as raw:
                    data = raw.read(int(committed["bytes"]) if committed else 0)
                for line in data.decode("utf-8").splitlines():
                    if line:
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
                # Checked once per process and committed state: a damaged segment
                # would make a scan miss what it holds.
                fp = np.asarray(np.load(self._check(f"{s['name']}.fp.npy"), mmap_mode="r"))
                item = np.asarray(np.load(self._check(f"{s['name']}.item.npy"), mmap_mode="r"))
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
                np.asarray(np.load(self._check(f"{spec['name']}.npy"), mmap_mode="r"))
                if spec
                else np.zeros(1, np.uint64)
            )
        return self._filter

    def reference(self) -> np.ndarray:
        if self._reference is None:
            committed = REFERENCE_FILE in self.meta["files"]
            self._reference = (
                np.asarray(np.load(self._check(REFERENCE_FILE), mmap_mode="r"))
                if committed
                else np.empty(0, np.uint64)
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
                disk += self._recorded_bytes(f"{s['name']}{suffix}")
        if self.meta.get("filter"):
            disk += self._recorded_bytes(f"{self.meta['filter']['name']}.npy")
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

    def _recorded_bytes(self, name: str) -> int:
        entry = self.meta["files"].get(name)
        if entry is None:
            raise RegistryDamaged(f"registry {self.path}: {name} has no checksum in registry.json")
        return int(entry["bytes"])

    def verify_files(self) -> int:
        """Check every committed file against its checksum (what a scan checks as it
        opens them); the number of files checked."""
        self._items = self._segments = self._filter = self._reference = None
        self.items()
        self.segments()
        self.filter()
        self.reference()
        return len(self.meta["files"])

    # --- writing --------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)  # also a folder made before registries were private
        with _private(self.path / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    f"registry {self.path} is being written by another process"
                ) from None
            # Re-read under the lock.
            self._meta = self._items = self._segments = self._filter = None
            self._reference = None
            self._written = {}
            yield

    def _commit(self, meta: dict[str, Any]) -> None:
        """Make ``meta`` the registry's state: the checksums of every file it names (the
        ones written now, the others as recorded before), its MAC, then registry.json
        replaced atomically."""
        platform = self.keys.platform_key(create=True)
        assert platform is not None
        meta = {**meta, "format": FORMAT}
        meta.setdefault("platform_check", platform_check(platform))
        meta.setdefault("registry_id", uuid.uuid4().hex)
        meta["files"] = self._checksums(meta)
        meta["mac"] = meta_mac(meta, platform)
        tmp = self.path / f".registry.{uuid.uuid4().hex[:8]}.json"
        with _private(tmp, "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / "registry.json")
        self._meta = meta
        self._items = self._segments = self._filter = self._reference = None
        self._written = {}

    def _checksums(self, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
        live = [f"{s['name']}{x}" for s in meta["segments"] for x in (".fp.npy", ".item.npy")]
        if meta.get("filter"):
            live.append(f"{meta['filter']['name']}.npy")
        old = self.meta["files"] if self.exists() else {}
        files = {}
        for name in live:
            files[name] = self._written.get(name) or old.get(name) or file_digest(self.path / name)
        if (self.path / REFERENCE_FILE).exists() and (
            REFERENCE_FILE in old or REFERENCE_FILE in self._written
        ):
            files[REFERENCE_FILE] = self._written.get(REFERENCE_FILE) or old[REFERENCE_FILE]
        if (self.path / ITEMS_FILE).exists():
            files[ITEMS_FILE] = file_digest(self.path / ITEMS_FILE)
        return files

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
        path = self.path / f"{name}.npy"
        with _private(path, "wb") as f:
            np.save(f, array)
            f.flush()
            os.fsync(f.fileno())
        self._written[path.name] = file_digest(path)  # fresh in the page cache

    def _load(self, segments: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(fingerprints, item codes) of these segments, concatenated, in memory."""
        # Checked like a scan's reads: a merge or a rewrite must not turn a damaged
        # segment into a new one with a valid checksum.
        fps = [unpack(np.load(self._verified(f"{s['name']}.fp.npy"))) for s in segments]
        codes = [np.load(self._verified(f"{s['name']}.item.npy")) for s in segments]
        return np.concatenate(fps), np.concatenate(codes)

    # --- the filter -------------------------------------------------------------------

    def _filter_to_grow(self, meta: dict[str, Any]) -> np.ndarray | None:
        """An in-memory copy of the committed filter that an add sets bits in (None:
        there is none yet, and the add builds it from the segments)."""
        spec = meta.get("filter")
        if not spec:
            return None
        return np.array(np.load(self._verified(f"{spec['name']}.npy")))

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
        check_tenant(tenant)
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
            added: list[str] = []
            categories: set[str] = set()
            taxonomy = self.store.taxonomy() if self.store is not None else None
            for item_id, text, category in records:
                if category is not None and category not in categories:
                    check_category(category, taxonomy)
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
                added.append(item_id)
                if category is not None:
                    categories.add(category)
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
            with _private(self.path / ITEMS_FILE, "a") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
            meta["next_item"] = code
            self._commit(meta)
            self.collect_garbage()
            self._log("registry.add", {
                "tenant": tenant, "categories": sorted(categories), "item_ids": added,
                "added": result.added, "already": result.already, "empty": result.empty,
                "fingerprints": result.fingerprints,
            })  # fmt: skip
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
            with _private(self.path / ITEMS_FILE, "a") as f:
                f.write(json.dumps({"code": item.code, "removed": True}) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._commit(meta)
            self.collect_garbage()
            self._log("registry.remove", {
                "tenant": tenant, "item_ids": [item.id],
                "fingerprints": item.ngrams + item.shingles,
            })  # fmt: skip
            return item

    def compact(self) -> dict[str, int]:
        """Merge each tenant's segments of each kind into one."""
        self.require()
        with self._writing():
            before = len(self.meta["segments"])
            meta = self._rebuild_filter(self._rewrite(self.meta, set(self.tenants()), drop=set()))
            self._commit(meta)
            self.collect_garbage()
            counts = {"segments_before": before, "segments_after": len(meta["segments"])}
            self._log("registry.compact", dict(counts))
            return counts

    def _log(self, kind: str, data: dict[str, Any]) -> None:
        """Append the change just committed to the store's audit log, if there is one."""
        self.last_audit_entry = None
        if self.store is not None:
            from .registrylog import record_change

            self.last_audit_entry = record_change(self.store, self, kind, data)

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
            with _private(tmp, "wb") as f:
                np.save(f, merged)
                f.flush()
                os.fsync(f.fileno())
            self._written[REFERENCE_FILE] = file_digest(tmp)
            os.replace(tmp, self.path / REFERENCE_FILE)
            self._commit(dict(self.meta))
            self._log("registry.reference", {"reference_hashes": int(merged.shape[0])})
            return int(merged.shape[0])


def _private(path: Path, mode: str) -> IO[Any]:
    """Open a registry file for writing, created 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding="utf-8")
