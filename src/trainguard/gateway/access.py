"""Who may see what, as the platform says at the time of the request.

The gateway never decides visibility itself: the platform plugs in an
:class:`AccessCheck` — a Python callable, an HTTP hook it serves, or (for tests
and small deployments) the reference :class:`InMemoryAcl`. Every check is
asked at request time, for exactly the records about to be used, and fails
closed: an error, a timeout or an answer that does not parse means nothing
is visible.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..decision.identity import check_record_id, check_subject, check_tenant
from ..errors import InputError
from ..yamlfile import parse_yaml, read_text

Item = tuple[str, str]  # (record id, container)
EVERYONE = "*"


class AccessCheck(Protocol):
    def visible(self, tenant: str, user: str, items: Sequence[Item]) -> set[str]:
        """The ids among ``items`` that ``user`` of ``tenant`` may see now."""
        ...


@dataclass(frozen=True)
class CallableAccess:
    """A platform's own function ``(tenant, user, record_id, container) -> bool``."""

    check: Callable[[str, str, str, str], bool]

    def visible(self, tenant: str, user: str, items: Sequence[Item]) -> set[str]:
        out = set()
        for record_id, container in items:
            try:
                if self.check(tenant, user, record_id, container) is True:
                    out.add(record_id)
            except Exception:  # the platform's bug must not let content through
                continue
        return out


@dataclass
class InMemoryAcl:
    """Per tenant, who may see each container or record: a list of users, or
    ``"*"`` for everyone of the tenant (a public channel). Anything not listed
    is visible to nobody."""

    grants: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    def allow(self, tenant: str, target: str, users: Sequence[str]) -> None:
        self.grants.setdefault(tenant, {})[target] = frozenset(users)

    def revoke(self, tenant: str, target: str, user: str) -> None:
        users = self.grants.get(tenant, {}).get(target, frozenset())
        self.grants.setdefault(tenant, {})[target] = users - {user}

    def visible(self, tenant: str, user: str, items: Sequence[Item]) -> set[str]:
        mine = self.grants.get(tenant, {})
        out = set()
        for record_id, container in items:
            for target in (record_id, container):
                users = mine.get(target) if target else None
                if users is not None and (user in users or EVERYONE in users):
                    out.add(record_id)
                    break
        return out


def load_acl(path: str | Path) -> InMemoryAcl:
    """An ACL file: ``{tenant: {container or record id: [users] | "*"}}`` (YAML or JSON)."""
    try:
        data, _ = parse_yaml(read_text(path))
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: an ACL is a mapping of tenants")
    acl = InMemoryAcl()
    for tenant, targets in data.items():
        check_tenant(tenant, f"{path}: tenant")
        if not isinstance(targets, Mapping):
            raise InputError(f"{path}: {tenant}: a mapping of containers or record ids to users")
        for target, users in targets.items():
            check_record_id(target, f"{path}: {tenant}: target")
            if users == EVERYONE:
                acl.allow(tenant, target, [EVERYONE])
                continue
            if not isinstance(users, list):
                raise InputError(f'{path}: {tenant}.{target}: a list of users or "*"')
            acl.allow(
                tenant, target, [check_subject(u, f"{path}: {tenant}.{target}") for u in users]
            )
    return acl


@dataclass(frozen=True)
class HttpAccessHook:
    """The platform's hook: POST ``{"tenant", "user", "records": [{"id",
    "container"}]}``, answered ``{"visible": [ids]}``. Only ids are sent."""

    url: str
    timeout: float = 2.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InputError(f"access hook {self.url!r}: an http:// or https:// URL")

    def visible(self, tenant: str, user: str, items: Sequence[Item]) -> set[str]:
        body = {
            "tenant": tenant,
            "user": user,
            "records": [{"id": i, "container": c} for i, c in items],
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: Any = json.loads(response.read(4 * 1024 * 1024))
        except (OSError, urllib.error.URLError, ValueError):
            return set()
        asked = {i for i, _ in items}
        shown = answer.get("visible") if isinstance(answer, dict) else None
        if not isinstance(shown, list):
            return set()
        # An id the gateway did not ask about is ignored, never added.
        return {i for i in shown if isinstance(i, str) and i in asked}
