"""``registry verify``: is this registry folder what trainguard committed, and what the
audit log last saw of it?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import IntegrityError
from .integrity import RegistryDamaged, mac_holds
from .registry import Registry, platform_check
from .registrylog import verify_against_log

if TYPE_CHECKING:
    from ..store import Store


@dataclass
class RegistryReport:
    path: str
    files: int
    mac: str  # "valid", or why it was not checked
    audit_entry: int | None  # the log entry the state matches (None: no store)

    def summary(self) -> str:
        log = (
            "not checked against an audit log (no store)"
            if self.audit_entry is None
            else f"the state audit entry {self.audit_entry} recorded"
        )
        return f"ok: registry {self.path}: {self.files} files match their checksums; MAC {self.mac}; {log}"


def verify_registry(registry: Registry, store: Store | None) -> RegistryReport:
    """Check every file against registry.json, its MAC when the platform key is at hand,
    and the log's latest entry of the registry when there is a store. Anything that
    does not hold raises :class:`IntegrityError` (one line naming the file)."""
    registry.require()
    try:
        files = registry.verify_files()
    except RegistryDamaged as exc:
        raise IntegrityError(str(exc)) from None
    platform = registry.keys.platform_key()
    meta = registry.meta
    if platform is None:
        mac = f"not checked (no platform key in {registry.keys.path})"
    elif meta.get("platform_check") != platform_check(platform):
        raise IntegrityError(
            f"keys {registry.keys.path}: not the platform key registry {registry.path} was "
            "made with, so its MAC cannot be checked"
        )
    elif not mac_holds(meta, platform):  # also checked on reading; kept here for clarity
        raise IntegrityError(f"registry {registry.path}: registry.json's MAC does not hold")
    else:
        mac = "valid"
    entry = verify_against_log(registry, store) if store is not None else None
    return RegistryReport(str(registry.path), files, mac, entry)
