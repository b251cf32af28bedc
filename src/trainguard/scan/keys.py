"""Fingerprint keys, kept apart from the registry.

One 128-bit secret per tenant, created on first use, in its own file (mode
0600, folder 0700); file names are a hash of the tenant name. One more, the
platform key (``platform.key``), keys the fingerprints a scan probes the
registry's filter with, so that a scan keys each window once whatever the
number of tenants. Whoever holds the registry but not these keys cannot test
whether a text is registered; whoever holds the platform key alone can ask
the filter whether a text is *perhaps* registered by some tenant (it answers
yes for 0.4-1.4% of everything), not by whom; whoever holds a tenant's key
can test, for that tenant only.
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
PLATFORM_FILE = "platform.key"  # tenants' files are named by 32 hex digits: never this


class KeyRing:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or os.environ.get(ENV_KEYS) or DEFAULT_KEYS)
        self._cache: dict[str, bytes] = {}
        self._platform: bytes | None = None

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

    def platform_key(self, *, create: bool = False) -> bytes | None:
        """The platform key; with ``create``, a new one if there is none yet."""
        if self._platform is None:
            f = self.path / PLATFORM_FILE
            if f.exists():
                self._platform = self._read(f, None)
            elif create:
                self._platform = self._create(f, None)
        return self._platform

    def _read(self, f: Path, tenant: str | None) -> bytes:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            key = bytes.fromhex(data["key"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise InputError(f"key file {f}: unreadable ({type(exc).__name__})") from None
        if data.get("tenant") != tenant or len(key) != KEY_BYTES:
            whose = "the platform" if tenant is None else f"tenant {tenant!r}"
            raise InputError(f"key file {f}: not the key of {whose}")
        return key

    def _create(self, f: Path, tenant: str | None) -> bytes:
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
            if f.name == PLATFORM_FILE:
                continue
            try:
                out.append(str(json.loads(f.read_text(encoding="utf-8"))["tenant"]))
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                continue
        return sorted(out)

    def all_keys(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for tenant in self.tenants():
            key = self.key(tenant)
            if key is not None:
                out[tenant] = key
        return out
