"""Who is asking, and what each role may do.

A caller is a :class:`Principal`: a role and, for every role but ``operator``,
the one tenant it is bound to. The operations of :mod:`trainguard.app` take a
principal and check it here, so every adapter enforces the same rules:

=========  =============================================================
role       may
=========  =============================================================
admin      its tenant's consent (append, list, state), notice events and
           registry; its tenant's decisions, scans, audit entries, model
           impact, training summaries and report
service    decisions, notices served and acknowledged, and registry writes
           for its tenant; its scans
auditor    read only: its tenant's consent, notice events, registry, scans,
           audit entries, proofs, model impact, training summaries and report
operator   the platform: policies, tenant assignment, models and their whole
           training summaries, the whole report, every audit entry and
           proof; bound to no tenant, so no tenant's consent, notice
           events, registry, decisions or scans
=========  =============================================================

A tenant's summary of a model and its report count that tenant's records and
entries only; the operator's count everyone's.

Everyone with a key may read the terms (policies, notices, diffs), the latest
checkpoint and consistency proofs: they say nothing about any one tenant.

The CLI acts as :meth:`Principal.local`: the person at the machine who holds
the store itself. Whoever can open the database can change it, so the local
operator may do everything, for any tenant it names; the roles above protect
the service from its callers, not a store from its owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import InputError, IntegrityError, NotFoundError, TrainguardError

ROLES = ("admin", "service", "auditor", "operator")
TENANT_ROLES = ("admin", "service", "auditor")
LOCAL = "local"  # not a key's role: no API key acts as the local operator

# Who may do what, operation by operation (the table above).
DECIDE = ("service", "admin")
CONSENT_WRITE = ("admin",)
CONSENT_READ = ("admin", "auditor")
REGISTRY_WRITE = ("admin", "service")
REGISTRY_READ = ("admin", "service", "auditor")
SCAN_SUBMIT = ("admin", "service")
SCAN_READ = ("admin", "service", "auditor")
TENANT_READ = ("admin", "service", "auditor")
IMPACT_READ = ("admin", "auditor", "operator")
NOTICE_WRITE = ("admin", "service")  # a consent screen records what it showed
NOTICE_READ = ("admin", "auditor")
SUMMARY_READ = ("admin", "auditor", "operator")
REPORT_READ = ("admin", "auditor", "operator")
OPERATOR = ("operator",)


class Unauthenticated(TrainguardError):
    """No key, or a key that is unknown, malformed or revoked."""


class Forbidden(TrainguardError):
    """A known key whose role may not do this (on its own tenant)."""


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    tenant: str | None  # None only for the operator and the local operator
    key_generation: int = field(default=0, compare=False)
    """The key cache's generation when the key was checked (see ``KeyCache``)."""

    @classmethod
    def local(cls) -> Principal:
        """The local operator: the CLI, run by whoever holds the store."""
        return cls("local", LOCAL, None)

    def is_local(self) -> bool:
        return self.role == LOCAL

    def require(self, *roles: str) -> None:
        """Refuse unless this principal has one of ``roles`` (the local operator has all)."""
        if self.role not in roles and not self.is_local():
            raise Forbidden(
                f"key {self.key_id}: role {self.role} may not do this (needs {' or '.join(roles)})"
            )

    def own_tenant(self, *roles: str) -> str:
        """The tenant this principal acts for, refusing the operator and other roles."""
        self.require(*roles)
        if self.is_local():  # bound to no tenant: operations for it use acting_for
            raise InputError("tenant: name the tenant")
        assert self.tenant is not None  # every role but operator is bound to a tenant
        return self.tenant

    def check_tenant(self, tenant: str | None, field: str = "tenant") -> None:
        """A tenant named in a request must be the key's own. Another tenant's is
        answered as if it did not exist, whether it does or not: 404, never 403,
        so a key cannot learn which other tenants there are."""
        if tenant is not None and tenant != self.tenant:
            raise FieldNotFound(field, f"{field}: no such tenant for this key")

    def acting_for(self, tenant: str | None, *roles: str, field: str = "tenant") -> str:
        """The tenant an operation acts for: a key's own (a tenant the request names
        must be that one), or the tenant the local operator names."""
        if self.is_local():
            if tenant is None:
                raise InputError(f"{field}: name the tenant")
            return tenant
        mine = self.own_tenant(*roles)
        self.check_tenant(tenant, field)
        return mine

    def sees_everything(self) -> bool:
        return self.role in ("operator", LOCAL)

    def part_of(self, tenant: str | None, *roles: str, field: str = "tenant") -> str | None:
        """Whose part of a platform-wide artefact (a model's summary, the report) to
        show: a tenant key's own tenant (a tenant the request names must be that
        one); for the operator, the tenant named, or None: every tenant's."""
        self.require(*roles)
        if self.sees_everything():
            return tenant
        self.check_tenant(tenant, field)
        return self.tenant


class FieldNotFound(NotFoundError):
    """Not found, about one named request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def server_paths_hidden(who: Principal, what: str) -> Iterator[None]:
    """Errors met reading files on the server (a model's manifests) name their paths:
    the operator sees them as they are; a tenant's key learns only that ``what``
    could not be read, not where the server keeps its files."""
    try:
        yield
    except (InputError, IntegrityError) as exc:
        if who.tenant is None:
            raise
        raise IntegrityError(
            f"{what}: could not be read on the server (the operator can see why)"
        ) from exc
