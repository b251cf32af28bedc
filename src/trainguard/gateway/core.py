"""The gateway: the one way an AI feature gets customer content.

For each request it (1) refuses a provider the tenant does not allow, or a
third party without zero retention, before looking at any record; (2) decides
every record with the decision core, for the request's purpose, at request
time; (3) asks the platform's access check which of the allowed records the
requesting user may see now; and hands the feature only records that pass
all three. Denied or invisible records never reach the feature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..canonical import canonical_json
from ..decision.decide import Decision, DecisionContext, decide
from ..timeutil import format_instant, now_utc
from .access import AccessCheck
from .features import Output, answer, summarize
from .providers import Providers
from .request import GatewayRequest
from .sources import Source

OUTPUT_CATEGORY = "customer.ai_output"


@dataclass(frozen=True)
class Retrieval:
    """What one request may use, and why each record was or was not used."""

    request: GatewayRequest
    at: datetime
    sources: list[Source]  # allowed and visible, in the order given
    decisions: list[Decision]
    visible: set[str]

    def outcomes(self) -> list[dict[str, Any]]:
        return [
            {
                "id": d.record.id,
                "allowed": d.allowed,
                "reasons": list(d.reasons),
                "visible": d.record.id in self.visible,
                "used": d.allowed and d.record.id in self.visible,
            }
            for d in self.decisions
        ]


def retrieve(
    ctx: DecisionContext,
    access: AccessCheck,
    providers: Providers,
    request: GatewayRequest,
    candidates: Sequence[Source],
    at: datetime | None = None,
) -> Retrieval:
    providers.check(request)
    when = at or now_utc()
    for s in candidates:
        if s.record.tenant != request.tenant:
            raise ValueError("a source of another tenant was handed to the gateway")
    decisions = [decide(ctx, s.record, request.purpose, when) for s in candidates]
    allowed = [s for s, d in zip(candidates, decisions, strict=True) if d.allowed]
    # Only records the terms allow are shown to the access check at all.
    visible = access.visible(request.tenant, request.user, [(s.id, s.container) for s in allowed])
    used = [s for s in allowed if s.id in visible]
    return Retrieval(request, when, used, decisions, visible)


@dataclass(frozen=True)
class Answered:
    """A feature's output, its provenance, and what may be logged about it."""

    output: Output
    retrieval: Retrieval
    output_id: str
    nonce: bytes  # returned to the caller only: it opens the logged commitments

    def record(self) -> dict[str, Any]:
        """The output as a record: customer content, derived from what it used."""
        return {
            "id": self.output_id,
            "tenant": self.retrieval.request.tenant,
            "categories": [OUTPUT_CATEGORY],
            "collected_at": format_instant(self.retrieval.at),
            "derived_from": [s.id for s in self.retrieval.sources],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.output.to_json(),
            "record": self.record(),
            "decisions": self.retrieval.outcomes(),
            "commitment_key": self.nonce.hex(),
        }

    def audit_entry(self, question: str | None) -> dict[str, Any]:
        """Ids, decisions and digests; no text of any input or output.

        Digests of short texts could be reversed by guessing, so the output and
        the question are committed with HMAC-SHA256 under a random key that only
        the caller receives: with it, the caller can later show which output a
        logged request produced; without it, the log reveals nothing of either."""
        r = self.retrieval
        q = r.request
        decisions = [canonical_json(d.to_json()) for d in r.decisions]
        return {
            "tenant": q.tenant,
            "user": q.user,
            "feature": q.feature,
            "purpose": q.purpose,
            "provider": q.provider,
            "at": format_instant(r.at),
            "output_id": self.output_id,
            "records": r.outcomes(),
            "decisions_sha256": hashlib.sha256(b"".join(decisions)).hexdigest(),
            "output_commitment": self._commit(canonical_json(self.output.to_json())),
            "question_commitment": None if question is None else self._commit(question.encode()),
        }

    def _commit(self, data: bytes) -> str:
        return hmac.new(self.nonce, data, hashlib.sha256).hexdigest()


def run_feature(retrieval: Retrieval, question: str | None = None) -> Answered:
    if retrieval.request.feature == "summary":
        output = summarize(retrieval.sources)
    else:
        if question is None:
            raise ValueError("the question feature needs a question")
        output = answer(retrieval.sources, question)
    return Answered(output, retrieval, "ai-" + secrets.token_hex(12), secrets.token_bytes(32))
