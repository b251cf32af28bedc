"""Registering customer content and removing it: the operations behind
``trainguard registry add/remove`` and ``/v1/registry/items``.

A registry opened with the store logs each change itself (``registry.add``,
``registry.remove``: the tenant, the item ids, and the registry's resulting
state, which ``registry verify`` later holds the folder to), so every adapter
opens it through :func:`open_registry` and the entry is the same whoever asks.

Audio, images and video live in the registry's media part, which keeps no log
of its own: :func:`add_media`, :func:`remove_media` and :func:`compact_media`
build their entries here, once, and append them with the caller's ``append``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..decision.identity import check_record_id
from ..scan.corpus import Fields, Malformed
from ..scan.keys import KeyRing
from ..scan.register import RegisterResult, register_sources
from ..scan.registry import AddResult, Item, Registry
from .access import REGISTRY_WRITE, Principal
from .decisions import Append

if TYPE_CHECKING:
    from ..scan.media import MediaAddResult, MediaItem
    from ..sources import Format
    from ..store import Store


def open_registry(
    folder: str | Path | None, keys: str | Path | KeyRing | None, store: Store | None
) -> Registry:
    """The registry in ``folder`` under the keys in ``keys`` (each defaulting to its
    environment variable, then ./trainguard-registry and ./trainguard-keys); with a
    store, its changes go into that store's audit log."""
    ring = keys if isinstance(keys, KeyRing) else KeyRing(keys)
    return Registry(folder, ring, store)


def add_files(
    who: Principal,
    registry: Registry,
    tenant: str,
    sources: Sequence[str],
    fields: Fields,
    category: str | None = None,
    fmt: Format | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
) -> RegisterResult:
    """Register every record of the files, folders, globs or URLs ``sources`` as
    ``tenant``'s content (see :mod:`trainguard.scan.register` for the item ids)."""
    mine = who.acting_for(tenant, *REGISTRY_WRITE)
    return register_sources(
        registry, mine, sources, fields, category, fmt, progress=progress, on_malformed=on_malformed
    )


def add_items(
    who: Principal,
    registry: Registry,
    tenant: str | None,
    items: Sequence[tuple[str, str, str | None]],
) -> AddResult:
    """Register (id, text, category) items given whole, as the service receives them."""
    mine = who.acting_for(tenant, *REGISTRY_WRITE)
    for i, (item_id, _, _) in enumerate(items):
        check_record_id(item_id, f"items.{i}.id")
    return registry.add(mine, items)


def remove_item(who: Principal, registry: Registry, tenant: str | None, item_id: str) -> Item:
    """Delete one item's fingerprints now (its tenant's segments are rewritten)."""
    mine = who.acting_for(tenant, *REGISTRY_WRITE)
    return registry.remove(mine, item_id)


def added_json(tenant: str, result: AddResult, audit_index: int | None) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "added": result.added,
        "already_registered": result.already,
        "too_short": result.empty,
        "fingerprints": result.fingerprints,
        "audit_index": audit_index,
    }


def add_media(
    who: Principal,
    registry: Registry,
    tenant: str,
    sources: Sequence[str],
    kind: str | None,
    category: str | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    append: Append | None = None,
) -> tuple[MediaAddResult, int | None]:
    """Register the audio, image or video files ``sources`` as ``tenant``'s content
    (``kind``: one of them, or None/"media" for whatever each file is), and log it
    with ``append`` when there is a log: the entry and its index."""
    from ..scan.media import KINDS, register_media

    mine = who.acting_for(tenant, *REGISTRY_WRITE)
    wanted: Any = kind if kind in KINDS else None
    result = register_media(registry.path, registry.keys, mine, sources, wanted, category, progress)
    if append is None:
        return result, None
    entry = {
        "registry": str(registry.path.resolve()),
        "tenant": mine,
        "category": category,
        "kind": kind or "media",
        "sources": list(sources),
        "added": result.added,
        "already": result.already,
        "fingerprints": result.landmarks + result.frames,
        # The ids as a digest: the log says which items, the registry holds them.
        "item_ids_sha256": hashlib.sha256(
            "\n".join(sorted(result.ids)).encode("utf-8")
        ).hexdigest(),
    }
    return result, append("registry.add", entry)


def media_item_of(registry: Registry, tenant: str, item_id: str) -> bool:
    """Whether ``item_id`` is a media item of ``tenant`` (else it is text, or nothing)."""
    from ..scan.media import MediaRegistry

    media = MediaRegistry(registry.path, registry.keys)
    return media.exists() and any(
        i.tenant == tenant and i.id == item_id for i in media.items().values()
    )


def remove_media(
    who: Principal,
    registry: Registry,
    tenant: str | None,
    item_id: str,
    *,
    append: Append | None = None,
) -> tuple[MediaItem, int | None]:
    """Delete one media item's fingerprints now, and log it with ``append``."""
    from ..scan.media import MediaRegistry

    mine = who.acting_for(tenant, *REGISTRY_WRITE)
    removed = MediaRegistry(registry.path, registry.keys).remove(mine, item_id)
    if append is None:
        return removed, None
    entry = {
        "registry": str(registry.path.resolve()),
        "tenant": mine,
        "item": item_id,
        "kind": removed.kind,
    }
    return removed, append("registry.remove", entry)


def compact_media(
    registry: Registry, *, append: Append | None = None
) -> tuple[dict[str, int], int | None] | None:
    """Remove what killed media writes left behind, and log it with ``append``;
    None when the registry has no media part."""
    from ..scan.media import MediaRegistry

    media = MediaRegistry(registry.path, registry.keys)
    if not media.exists():
        return None
    counts = media.compact()
    if append is None:
        return counts, None
    entry = {"registry": str(registry.path.resolve()), "kind": "media", **counts}
    return counts, append("registry.compact", entry)
