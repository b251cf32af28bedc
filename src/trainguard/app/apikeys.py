"""API keys: created with a random secret shown once, kept as its SHA-256 only.

A key reads ``tgk_<id>_<secret>``: the id (16 hex digits) finds the row, the
secret (32 random bytes, base64url) proves possession. The store keeps the
SHA-256 of the secret, compared in constant time; a stolen database does not
give anyone a working key. Creating and revoking a key are audit entries that
carry every column of the row — the secret only as the hash the row keeps, the
name only as its SHA-256 — so `audit verify` can hold the table to the log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from ..audit.state_service import name_digest
from ..decision.identity import check_tenant
from ..errors import InputError, NotFoundError
from ..store import Store
from ..store import schema as t
from ..timeutil import format_instant, from_micros, now_utc, to_micros
from .access import ROLES, TENANT_ROLES, Principal, Unauthenticated

PREFIX = "tgk"
_TOKEN = re.compile(r"tgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str | None
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "role": self.role,
            "name": self.name,
            "created_at": format_instant(self.created_at),
            "revoked_at": format_instant(self.revoked_at) if self.revoked_at else None,
        }


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(store: Store, role: str, tenant: str | None, name: str = "") -> tuple[ApiKey, str]:
    """A new key; returns it and its token, which is not stored and cannot be shown again."""
    if role not in ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role in TENANT_ROLES:
        if tenant is None:
            raise InputError(f"role {role}: a key of this role needs --tenant")
        check_tenant(tenant, "tenant")
    elif tenant is not None:
        raise InputError("role operator: an operator key is bound to no tenant; drop --tenant")
    if len(name) > MAX_NAME_CHARS or any(not c.isprintable() for c in name):
        raise InputError(f"name: at most {MAX_NAME_CHARS} printable characters")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    created = now_utc()
    key = ApiKey(key_id, tenant, role, name, created, None)
    with store.write() as conn:
        conn.execute(
            insert(t.api_keys).values(
                id=key_id,
                secret_hash=secret_hash(secret),
                tenant=tenant,
                role=role,
                name=name,
                created_at_us=to_micros(created),
            )
        )
        store.audit.append(conn, "apikey.created", _entry(key, secret_hash(secret)))
    return key, f"{PREFIX}_{key_id}_{secret}"


def revoke_key(store: Store, key_id: str) -> ApiKey:
    """Revoke a key at once (any server notices at its next request)."""
    with store.write() as conn:
        row = conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(f"API key {key_id!r} does not exist")
        if row.revoked_at_us is not None:
            return _key(row)
        now = to_micros(now_utc())
        conn.execute(update(t.api_keys).where(t.api_keys.c.id == key_id).values(revoked_at_us=now))
        key = _key({**row._mapping, "revoked_at_us": now})
        store.audit.append(conn, "apikey.revoked", _entry(key, row.secret_hash))
    return key


def list_keys(store: Store, tenant: str | None = None) -> list[ApiKey]:
    q = select(t.api_keys).order_by(t.api_keys.c.created_at_us, t.api_keys.c.id)
    if tenant is not None:
        q = q.where(t.api_keys.c.tenant == tenant)
    with store.read() as conn:
        return [_key(r) for r in conn.execute(q)]


class KeyCache:
    """Authenticates tokens, remembering the rows of keys seen so far; ``clear``
    when a key is created or revoked (the application does so when the log
    shows it, whichever process wrote it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._rows: dict[str, tuple[str, Principal, bool]] = {}
        self.generation = 0
        """Incremented by every ``clear``: work checked under an older generation
        checks its key again before it is logged."""

    def clear(self) -> None:
        self._rows = {}
        self.generation += 1

    def check_still_valid(self, key_id: str) -> None:
        """Refuse a key that has since been revoked (read from the store, not the cache)."""
        with self.store.read() as conn:
            row = conn.execute(
                select(t.api_keys.c.revoked_at_us).where(t.api_keys.c.id == key_id)
            ).first()
        if row is None or row.revoked_at_us is not None:
            raise Unauthenticated("Authorization: unknown or revoked API key")

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("Authorization: no API key (send 'Authorization: Bearer tgk_…')")
        m = _TOKEN.fullmatch(token)
        if m is None:
            raise Unauthenticated("Authorization: not a trainguard API key")
        key_id, secret = m.groups()
        generation = self.generation  # before the lookup: a clear after it is noticed
        found = self._rows.get(key_id)
        if found is None:
            with self.store.read() as conn:
                row = conn.execute(select(t.api_keys).where(t.api_keys.c.id == key_id)).first()
            if row is None:
                raise Unauthenticated("Authorization: unknown or revoked API key")
            found = (
                row.secret_hash,
                Principal(row.id, row.role, row.tenant),
                row.revoked_at_us is not None,
            )
            self._rows[key_id] = found
        stored, principal, revoked = found
        # Constant time: how much of a guess matched must not show in the timing.
        if not hmac.compare_digest(stored, secret_hash(secret)) or revoked:
            raise Unauthenticated("Authorization: unknown or revoked API key")
        return replace(principal, key_generation=generation)


def _key(row: Any) -> ApiKey:
    r = row if isinstance(row, dict) else row._mapping
    revoked = r["revoked_at_us"]
    return ApiKey(
        r["id"],
        r["tenant"],
        r["role"],
        r["name"],
        from_micros(r["created_at_us"]),
        from_micros(revoked) if revoked is not None else None,
    )


def _entry(key: ApiKey, hashed_secret: str) -> dict[str, Any]:
    """Every column of the key's row, as its audit entry carries it."""
    out = key.to_json()
    # Free text a person typed is not for an append-only log: its digest is enough
    # to hold the row to the entry.
    out["name_sha256"] = name_digest(out.pop("name"))
    out["secret_hash"] = hashed_secret  # the hash, never the secret
    return out
