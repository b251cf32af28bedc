"""The HTTP service: a thin FastAPI adapter over the library, like the CLI.

Endpoints parse a request, call the core, and return its answer as JSON;
there is no logic here that the CLI does not share::

    GET  /healthz                               is the service up, and on which store
    POST /v1/decisions                          decide one record and use (recorded in the log)
    POST /v1/consent/events                     record consent events ({"events": [...]})
    POST /v1/scan                               scan documents for registered content
    GET  /v1/policies/{ref}/notice              what a version of the terms allows, use by use
    GET  /v1/policies/diff                      what changed between two (?from=REF&to=REF)
    GET  /v1/audit/checkpoint                   the latest signed tree head (a signed note)
    GET  /v1/audit/entries/{index}              one log entry with its leaf hash
    GET  /v1/audit/proofs/inclusion/{index}     RFC 9162 inclusion proof (?size=N)
    GET  /v1/audit/proofs/consistency           RFC 9162 consistency proof (?from=N1&to=N2)

Errors follow trainguard.httperrors: never a 5xx for anything a client can
send; every error body is ``{"error": {"code", "message", "field"}}``: 400
for bad input, 404 for what is not there, 409 for a conflict with what the
store holds, 413 for a body over the limit, 422 for a request that does not
fit the schema, 500 only when stored data fails verification. A denied use is
not an error: it is a decision. Fields are bounded (trainguard.limits), so
nothing oversized reaches the audit log.

Needs the ``server`` extra (FastAPI, uvicorn); ``trainguard serve`` runs it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from . import __version__
from .consent import UnmatchedWithdrawalError
from .consent_input import MAX_BODY_BYTES as MAX_CONSENT_BODY_BYTES
from .consent_input import read_events_body
from .decide import Record, decide
from .errors import ConsentError, InputError, NotFoundError
from .explain import diff, notice
from .httperrors import ERROR_RESPONSES, FieldError, Name, Text, Time, install
from .identity import check_record_id, check_subject, check_tenant
from .limits import (
    MAX_BODY_BYTES,
    MAX_INT64,
    MAX_NAME_CHARS,
    MAX_NAMES,
    MAX_SCAN_BODY_BYTES,
    MAX_SCAN_DOCUMENTS,
    check_name,
)
from .scan import Fields, ScanConfig, ScanOptions
from .scan.engine import matcher_for
from .scan.keys import KeyRing
from .scan.registry import Registry
from .store import Store
from .timeutil import parse_instant

Index = Annotated[int, PathParam(ge=0, le=MAX_INT64)]
Ref = Annotated[str, PathParam(min_length=1, max_length=MAX_NAME_CHARS)]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: Name
    categories: list[Name] = Field(
        min_length=1, max_length=MAX_NAMES, description="Several mean a derived record."
    )
    use: Name
    collected_at: Time
    subjects: list[Name] = Field(
        default_factory=list, max_length=MAX_NAMES, description="Whose content it is."
    )
    at: Time | None = Field(default=None, description="Time of use (default: now).")
    id: Name = "-"


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Name
    text: Text


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[Document] = Field(max_length=MAX_SCAN_DOCUMENTS)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    near_duplicates: bool = True


def _instant(value: str, field: str) -> datetime:
    try:
        return parse_instant(value, field)
    except InputError as exc:
        raise FieldError(field, str(exc)) from None


def _ref(value: str, field: str) -> str:
    try:
        return check_name(value, field)
    except InputError as exc:
        raise FieldError(field, str(exc)) from None


def _body_limit(path: str) -> int:
    return MAX_SCAN_BODY_BYTES if path == "/v1/scan" else MAX_BODY_BYTES


def create_app(
    db: str | None = None, registry: str | Path | None = None, keys: str | Path | None = None
) -> FastAPI:
    """The service over the store ``db`` (as ``--db``) and, for scans, the registry
    and key folder (as ``--registry`` and ``--keys``; their defaults otherwise)."""
    app = FastAPI(title="trainguard", version=__version__, responses=ERROR_RESPONSES)
    install(app, _body_limit)
    store = Store(db)
    ring = KeyRing(keys)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        store.check_ready()
        return {"status": "ok", "version": __version__, "store": store.display_url}

    @app.post("/v1/decisions")
    def decisions(body: DecisionRequest) -> dict[str, Any]:
        store.check_ready()
        record = Record(
            check_record_id(body.id, "id"),
            check_tenant(body.tenant, "tenant"),
            tuple(body.categories),
            _instant(body.collected_at, "collected_at"),
            tuple(check_subject(s, f"subjects[{i}]") for i, s in enumerate(body.subjects)),
        )
        when = _instant(body.at, "at") if body.at else None
        decision = decide(store.context(), record, body.use, when)
        # A decision someone asked for is evidence: it goes into the audit log, as
        # with `trainguard decide`.
        store.audit.record("decision", decision.to_json())
        return decision.to_json()

    @app.post("/v1/consent/events")
    async def consent_events(request: Request, allow_unmatched: bool = False) -> dict[str, Any]:
        """Events as ``trainguard consent import`` takes them, read as strictly: the
        raw body is parsed by the library (a JSON parser would keep the last of
        duplicate keys), and read only up to its size limit."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_CONSENT_BODY_BYTES:
                raise ConsentError(
                    f"body: over {MAX_CONSENT_BODY_BYTES:,} bytes; send fewer events"
                )
        return await run_in_threadpool(record_events, bytes(body), allow_unmatched)

    def record_events(body: bytes, allow_unmatched: bool) -> dict[str, Any]:
        store.check_ready()
        policies = store.policy_set()
        events = read_events_body(
            body, "body", lambda ref: policies.resolve(ref).hash, store.taxonomy()
        )
        try:
            added, present = store.add_consent_events(events, allow_unmatched=allow_unmatched)
        except UnmatchedWithdrawalError as exc:
            raise UnmatchedWithdrawalError(
                f"{exc} (?allow_unmatched=true records it anyway)"
            ) from None
        return {
            "recorded": added,
            "already_on_record": present,
            "ids": [e.event_id for e in events],
        }

    @app.post("/v1/scan")
    def scan(body: ScanRequest) -> dict[str, Any]:
        # Read afresh each time: the registry may have changed since the last request.
        reg = Registry(registry, ring).require().require_keys()
        config = ScanConfig(
            min_confidence=body.min_confidence, near_duplicates=body.near_duplicates
        )
        # The scanner's own per-process matcher: segments mapped once, rebuilt when
        # the registry changes.
        matcher = matcher_for(ScanOptions(str(reg.path), str(ring.path), config, Fields()))
        results = matcher.scan_many([d.text for d in body.documents])
        findings = []
        for doc, (spans, n_tokens) in zip(body.documents, results, strict=True):
            if not spans:
                continue
            covered: set[int] = set()
            for s in spans:
                covered.update(range(s.first_token, s.last_token + 1))
            findings.append(
                {
                    "doc_id": doc.id,
                    "spans": [s.to_json() for s in spans],
                    "matched_tokens": len(covered),
                    "doc_tokens": n_tokens,
                    "coverage": round(len(covered) / n_tokens, 4) if n_tokens else 0.0,
                }
            )
        return {"documents": len(body.documents), "findings": findings}

    @app.get("/v1/policies/{ref}/notice")
    def policy_notice(ref: Ref) -> dict[str, Any]:
        store.check_ready()
        return notice(store.policy_set().resolve(_ref(ref, "ref")).version, store.taxonomy())

    @app.get("/v1/policies/diff")
    def policy_diff(
        old: str = Query(alias="from", min_length=1, max_length=MAX_NAME_CHARS),
        new: str = Query(alias="to", min_length=1, max_length=MAX_NAME_CHARS),
    ) -> list[Any]:
        store.check_ready()
        policies = store.policy_set()
        before = policies.resolve(_ref(old, "from")).version
        after = policies.resolve(_ref(new, "to")).version
        return [c.to_json() for c in diff(before, after, store.taxonomy())]

    @app.get("/v1/audit/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> str:
        store.check_ready()
        note = store.audit.latest_checkpoint()
        if note is None:
            raise NotFoundError(
                "audit log has no checkpoint yet (run `trainguard audit checkpoint`)"
            )
        return note

    @app.get("/v1/audit/entries/{index}")
    def entry(index: Index) -> dict[str, Any]:
        store.check_ready()
        return store.audit.entry(index)

    @app.get("/v1/audit/proofs/inclusion/{index}")
    def inclusion(
        index: Index, size: int | None = Query(default=None, ge=0, le=MAX_INT64)
    ) -> dict[str, Any]:
        store.check_ready()
        return store.audit.inclusion_proof(index, size)

    @app.get("/v1/audit/proofs/consistency")
    def consistency(
        old: int = Query(alias="from", ge=0, le=MAX_INT64),
        new: int = Query(alias="to", ge=0, le=MAX_INT64),
    ) -> dict[str, Any]:
        store.check_ready()
        return store.audit.consistency_proof(old, new)

    return app
