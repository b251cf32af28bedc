"""A registry's integrity: checksums of its files, a keyed MAC of ``registry.json``.

A scan that reads a damaged registry would look up fingerprints that are not
there and report a clean corpus, so every file a registry reads is checked
against what ``registry.json`` recorded when it was committed — its size and
SHA-256 — before it is used, and anything else stops with one line naming
the file. ``registry.json`` itself carries a MAC under a key derived from the
platform key: whoever can write the registry folder but holds no key cannot
swap a file and record the new file's checksum. Rolling the whole folder back
to an earlier committed state keeps every checksum and the MAC valid; that is
what the audit log's registry entries catch (:mod:`.registrylog`).

SHA-256 rather than a faster non-cryptographic hash: a checksum an attacker can
match by crafting the file would not stop the attack above. It costs about
0.65 ms per MB here (``hashlib``, with the CPU's SHA instructions), paid once
per process per committed state — see docs/scan.md for the measurement.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from ..errors import InputError

_CHUNK = 1 << 20
_MAC_PERSON = b"tg-registry-mac"


class RegistryDamaged(InputError):
    """A registry file is missing or does not match what registry.json recorded."""


def file_digest(path: Path, size: int | None = None) -> dict[str, Any]:
    """``{"bytes", "sha256"}`` of a file, or of its first ``size`` bytes."""
    h = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while size is None or done < size:
            chunk = f.read(_CHUNK if size is None else min(_CHUNK, size - done))
            if not chunk:
                break
            h.update(chunk)
            done += len(chunk)
    return {"bytes": done, "sha256": h.hexdigest()}


def check_file(
    registry: Path, name: str, expected: dict[str, Any] | None, *, prefix: bool = False
) -> None:
    """Raise :class:`RegistryDamaged` unless ``registry/name`` is what was committed.
    ``prefix``: the file may have grown since (an append-only file whose committed
    part is its first ``bytes``)."""
    where = f"registry {registry}: {name}"
    if expected is None:
        raise RegistryDamaged(f"{where} has no checksum in registry.json; the registry is damaged")
    f = registry / name
    try:
        size = f.stat().st_size
    except FileNotFoundError:
        raise RegistryDamaged(f"{where} is missing; the registry is damaged") from None
    want = int(expected["bytes"])
    if size < want or (size > want and not prefix):
        raise RegistryDamaged(
            f"{where} is {size} bytes, registry.json recorded {want}; the registry is damaged"
        )
    if file_digest(f, want)["sha256"] != expected["sha256"]:
        raise RegistryDamaged(
            f"{where} does not match its checksum in registry.json; the registry is damaged"
        )


def canonical(meta: dict[str, Any]) -> bytes:
    """The bytes a MAC or a state digest is taken over (the MAC itself left out)."""
    body = {k: v for k, v in meta.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def meta_mac(meta: dict[str, Any], platform: bytes) -> str:
    """Keyed BLAKE2b of registry.json's content under the platform key."""
    return hashlib.blake2b(
        canonical(meta), key=platform, digest_size=32, person=_MAC_PERSON[:16]
    ).hexdigest()


def mac_holds(meta: dict[str, Any], platform: bytes) -> bool:
    return hmac.compare_digest(str(meta.get("mac", "")), meta_mac(meta, platform))


def state_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of a committed registry.json's content, MAC included: what the audit
    log records of each registry change, so a later check can tell whether the
    folder still holds the state the log last saw."""
    full = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(full).hexdigest()
