"""Registering customer content and removing it: the operations behind
``trainguard registry add/remove`` and ``/v1/registry/items``.

A registry opened with the store logs each change itself (``registry.add``,
``registry.remove``: the tenant, the item ids, and the registry's resulting
state, which ``registry verify`` later holds the folder to), so every adapter
opens it through :func:`open_registry` and the entry is the same whoever asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..decision.identity import check_record_id
from ..scan.corpus import Fields, Malformed
from ..scan.keys import KeyRing
from ..scan.register import RegisterResult, register_sources
from ..scan.registry import AddResult, Item, Registry
from .access import REGISTRY_WRITE, Principal

if TYPE_CHECKING:
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
