"""Per-tenant fingerprint keys, kept apart from the registry.

One 128-bit secret per tenant, created on first use, in its own file (mode
0600, folder 0700). File names are a hash of the tenant name. Whoever holds the
registry but not these keys cannot test whether a text is registered; whoever
holds a key can, for that tenant only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import InputError
from .fingerprint import KEY_BYTES, new_key

ENV_KEYS = "TRAINGUARD_KEYS"
DEFAULT_KEYS = "trainguard-keys"


class KeyRing:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or os.environ.get(ENV_KEYS) or DEFAULT_KEYS)
        self._cache: dict[str, bytes] = {}

    def _file(self, tenant: str) -> Path:
        return self.path / (hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:32] + ".key")

    def key(self, tenant: str, *, create: bool = False) -> bytes | None:
        """The tenant's key; with ``create``, a new one if it has none yet."""
        if tenant in self._cache:
            return self._cache[tenant]
        f = self._file(tenant)
        if f.exists():
            key = self._read(f, tenant)
        elif create:
            key = self._create(f, tenant)
        else:
            return None
        self._cache[tenant] = key
        return key

    def _read(self, f: Path, tenant: str) -> bytes:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            key = bytes.fromhex(data["key"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"key file {f}: unreadable ({type(exc).__name__})") from None
        if data.get("tenant") != tenant or len(key) != KEY_BYTES:
            raise InputError(f"key file {f}: not the key of tenant {tenant!r}")
        return key

    def _create(self, f: Path, tenant: str) -> bytes:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = new_key()
        body = json.dumps({"tenant": tenant, "key": key.hex()}) + "\n"
        try:
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return self._read(f, tenant)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        return key

    def tenants(self) -> list[str]:
        if not self.path.is_dir():
            return []
        out = []
        for f in sorted(self.path.glob("*.key")):
            try:
                out.append(str(json.loads(f.read_text(encoding="utf-8"))["tenant"]))
            except (OSError, ValueError, KeyError):
                continue
        return sorted(out)

    def all_keys(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for tenant in self.tenants():
            key = self.key(tenant)
            if key is not None:
                out[tenant] = key
        return out
