"""Registry changes in the audit log, and the check that a registry is the one the
log last saw.

Every add, removal, compaction and reference update appends an entry (kinds
``registry.add``, ``registry.remove``, ``registry.compact``,
``registry.reference``) naming the registry by the random id its
``registry.json`` carries, and holding the tenant, the item ids, the
fingerprint counts, the size and SHA-256 of every file of the resulting state,
and the SHA-256 of that state's ``registry.json`` content. Checksums and the
MAC catch a damaged or forged file; only the log catches a registry folder
rolled back, whole, to an earlier state (or edited by someone holding the
keys): :func:`verify_against_log`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..errors import IntegrityError
from ..store import schema as t
from .integrity import state_digest

if TYPE_CHECKING:
    from ..store import Store
    from .registry import Registry

KINDS = ("registry.add", "registry.remove", "registry.compact", "registry.reference")


def change_entry(registry: Registry, data: dict[str, Any]) -> dict[str, Any]:
    """What a registry change's audit entry holds: ``data`` and the resulting state."""
    meta = registry.meta
    out = {
        **data,
        "registry_id": meta["registry_id"],
        "registry": str(registry.path.resolve()),
        "state_sha256": state_digest(meta),
        "files": meta["files"],
        "segments": [
            {k: s[k] for k in ("name", "tenant", "kind", "fingerprints")} for s in meta["segments"]
        ],
    }
    if "item_ids" in data:
        joined = "\n".join(sorted(data["item_ids"])).encode("utf-8")
        out["item_ids_sha256"] = hashlib.sha256(joined).hexdigest()
    return out


def record_change(store: Store, registry: Registry, kind: str, data: dict[str, Any]) -> int:
    return store.audit.record(kind, change_entry(registry, data))


def latest_change(store: Store, registry_id: str) -> tuple[int, dict[str, Any]] | None:
    """The newest registry entry of this registry in the log: (index, data). The
    table is asked only which entries are registry changes; each is read through
    the log (whose own check, ``audit verify``, covers its hashes)."""
    query = (
        select(t.audit_entries.c.idx)
        .where(t.audit_entries.c.kind.in_(KINDS))
        .order_by(t.audit_entries.c.idx.desc())
    )
    with store.read() as conn:
        indexes = [int(i) for i in conn.execute(query).scalars()]
    for idx in indexes:
        entry = store.audit.entry(idx)
        if entry["entry"] is None:
            raise IntegrityError(
                f"audit log: registry entry {idx} is redacted; the registry cannot be checked"
            )
        data: dict[str, Any] = entry["entry"]["data"]
        if data.get("registry_id") == registry_id:
            return idx, data
    return None


def verify_against_log(registry: Registry, store: Store) -> int:
    """The index of the log's latest entry for this registry, when the registry's
    committed state is the one it records; :class:`IntegrityError` otherwise."""
    meta = registry.meta
    found = latest_change(store, str(meta.get("registry_id")))
    if found is None:
        raise IntegrityError(
            f"registry {registry.path}: no entry of it in the audit log of "
            f"{store.display_url}; its changes were not recorded there"
        )
    index, data = found
    if data.get("state_sha256") != state_digest(meta):
        raise IntegrityError(
            f"registry {registry.path}: not the state audit entry {index} recorded "
            "(edited or rolled back since)"
        )
    return index
