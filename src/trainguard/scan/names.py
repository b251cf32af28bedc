"""What the registry accepts as a tenant and a category, and the ids it makes.

Tenants are checked by the identity rules every entry point shares
(:mod:`trainguard.decision.identity`).
"""

from __future__ import annotations

import hashlib
import hmac

from ..decision.identity import check_tenant

__all__ = ["DEFAULT_ID_PREFIX", "check_category", "check_tenant", "default_item_id"]
from ..decision.taxonomy import DEFAULT_TAXONOMY, Taxonomy

DEFAULT_ID_PREFIX = "hmac-sha256:"


def check_category(category: str | None, taxonomy: Taxonomy | None = None) -> str | None:
    """A known category (the built-in taxonomy, or the store's with its extensions)."""
    if category is not None:
        (taxonomy or DEFAULT_TAXONOMY).check_category(category)
    return category


def default_item_id(tenant_key: bytes, name: str) -> str:
    """The id of an item registered without one: a MAC of its name (a file's path
    relative to the argument that named it, with the line for a record of a JSONL
    or Parquet file) under the tenant's key. Stable, so registering the same
    files again finds them already registered; keyed, because file names often
    name people and an unkeyed hash of a guessable name can be reversed by
    trying names."""
    mac = hmac.new(tenant_key, name.encode("utf-8"), hashlib.sha256).hexdigest()
    return DEFAULT_ID_PREFIX + mac[:32]
