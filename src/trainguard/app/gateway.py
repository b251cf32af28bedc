"""The gateway's operations, with their audit entries, for the CLI and the service.

One request: parse the platform's records, retrieve through the gateway
(provider, decisions, access), run the feature, and append one
``gateway.request`` entry holding ids, decisions and digests — never a word of
the content, the question or the output. The content exists only in this
call's memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..decision.decide import DecisionContext
from ..errors import InputError
from ..gateway import (
    AccessCheck,
    GatewayRequest,
    Providers,
    parse_sources,
    retrieve,
    run_feature,
)
from ..timeutil import parse_instant
from .access import Principal
from .context import NotReady

GATEWAY_REQUEST = "gateway.request"
ASK = ("service", "admin")  # the platform's AI features ask with a service (or admin) key
MAX_QUESTION_CHARS = 2_000


class NoAccessCheck(NotReady):
    """Started without an access check: nothing can be shown to anyone (HTTP 503)."""


def serve_feature(
    context: DecisionContext,
    append: Callable[[str, dict[str, Any]], int],
    access: AccessCheck | None,
    providers: Providers,
    request: GatewayRequest,
    records: Any,
    question: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """Answer one feature request; the answer includes its audit entry's index."""
    if access is None:
        raise NoAccessCheck(
            "no access check is configured (--acl FILE or --access-hook URL): refusing to guess"
        )
    if request.feature == "question":
        if not isinstance(question, str) or not question.strip():
            raise InputError("question: the question feature needs a question")
        if len(question) > MAX_QUESTION_CHARS or "\x00" in question:
            raise InputError(f"question: at most {MAX_QUESTION_CHARS:,} characters, no NUL")
    elif question is not None:
        raise InputError("question: only the question feature takes one")
    sources = parse_sources(records, request.tenant, "records")
    when = parse_instant(at, "at") if at else None
    retrieval = retrieve(context, access, providers, request, sources, when)
    answered = run_feature(retrieval, question)
    out = answered.to_json()
    out["audit_index"] = append(GATEWAY_REQUEST, answered.audit_entry(question))
    return out


@dataclass
class GatewayOperations:
    """The gateway as the HTTP service runs it, over its :class:`~.Application`."""

    application: Any  # trainguard.app.Application (kept loose: the service imports this lazily)
    access: AccessCheck | None = None
    providers: Providers = field(default_factory=Providers)

    def ask(
        self,
        who: Principal,
        *,
        feature: str,
        user: str,
        purpose: str,
        provider: str,
        records: Any,
        question: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """A feature request of the key's tenant, decided now (never as of another time)."""
        mine = who.own_tenant(*ASK)
        who.check_tenant(tenant)
        request = GatewayRequest(mine, user, feature, purpose, provider)
        app = self.application
        return serve_feature(
            app.context(), app.journal.append, self.access, self.providers,
            request, records, question,
        )  # fmt: skip
