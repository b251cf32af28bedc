"""A model's public training-content summary and the auditor's report: the
operations behind ``trainguard summary``, ``trainguard report``,
``/v1/models/{name}/summary`` and ``/v1/audit/report``.

Both are platform-wide artefacts. The operator (and the local operator) reads
them whole, or one tenant's part; a tenant's key reads its own tenant's part
only: every number counted over that tenant's records and entries, so neither
tells it anything of another tenant. Reading them writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..decision.identity import check_model_name, check_tenant
from ..errors import NotFoundError
from .access import REPORT_READ, SUMMARY_READ, FieldNotFound, Principal, server_paths_hidden

if TYPE_CHECKING:
    from ..explain.report import AuditFacts
    from ..store import Store


def summary(
    who: Principal,
    store: Store,
    model: str,
    provider: str | None = None,
    contact: str | None = None,
    tenant: str | None = None,
    *,
    model_field: str = "name",
    tenant_field: str = "tenant",
) -> dict[str, Any]:
    """The summary of ``model``'s training content (JSON-ready): the caller's part."""
    from ..explain.summary import training_summary
    from ..lineage import get_model

    part = who.part_of(tenant, *SUMMARY_READ, field=tenant_field)
    check_model_name(model, model_field)
    if part is not None:
        check_tenant(part, tenant_field)
    try:
        get_model(store, model)
    except NotFoundError as exc:
        raise FieldNotFound(model_field, str(exc)) from None
    with server_paths_hidden(who, f"model {model!r}: its gate manifests"):
        return training_summary(store, model, provider, contact, tenant=part)


def report(
    who: Principal, store: Store, tenant: str | None = None, *, tenant_field: str = "tenant"
) -> AuditFacts:
    """What the auditor's report shows: the caller's part of the log."""
    from ..explain.report import gather

    part = who.part_of(tenant, *REPORT_READ, field=tenant_field)
    if part is not None:
        check_tenant(part, tenant_field)
    return gather(store, part)
