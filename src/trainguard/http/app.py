"""The HTTP service: routes over :class:`trainguard.app.Application`.

Each route authenticates the caller's API key, parses the request, calls one
operation of the application layer and returns its answer as JSON; who may
do what, and every audit entry, is the application's business. Routes are
versioned under ``/v1`` and documented in the OpenAPI schema
(``/openapi.json``); ``/healthz`` and ``/metrics`` (Prometheus) need no key.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..app import Application, BatchColumns, Principal
from ..app.context import NotReady
from ..decision.consent_input import MAX_BODY_BYTES as MAX_CONSENT_BODY_BYTES
from ..errors import InputError
from . import schemas as s
from .errors import ERROR_RESPONSES, FieldError, install
from .fastlane import DecisionLane
from .metrics import Metrics, MetricsMiddleware
from .workers import WORKER_DB, WORKER_KEYS, WORKER_REGISTRY

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024
MAX_UPLOAD_BODY_BYTES = 16 * 1024 * 1024

_LIMITS = {
    "/v1/decisions/batch": MAX_BATCH_BODY_BYTES,
    "/v1/consent/events": MAX_CONSENT_BODY_BYTES,
    "/v1/scans": MAX_UPLOAD_BODY_BYTES,
    "/v1/registry/items": MAX_UPLOAD_BODY_BYTES,
}


def body_limit(path: str) -> int:
    return _LIMITS.get(path, MAX_BODY_BYTES)


class JSONBytes(Response):
    """JSON rendered by orjson, returned as is (the response models document it)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `trainguard apikey create`: `Authorization: Bearer tgk_…`.",
)


def caller(
    request: Request, creds: HTTPAuthorizationCredentials | None = Security(_bearer)
) -> Principal:
    """The principal of the request's API key (401 without one, or with a bad one)."""
    application: Application = request.app.state.application
    return application.authenticate(creds.credentials if creds else None)


Caller = Annotated[Principal, Depends(caller)]


async def decider(
    request: Request, creds: HTTPAuthorizationCredentials | None = Security(_bearer)
) -> Principal:
    """The principal of a request for decisions: taken from the key cache without
    asking the store whether the log moved, since the journal checks the key
    again, under the log's lock, before the decision is logged."""
    application: Application = request.app.state.application
    token = creds.credentials if creds else None
    return application.authenticate(token, fresh=not application.contexts.loaded)


Decider = Annotated[Principal, Depends(decider)]


async def known_query(request: Request) -> None:
    """Refuse query parameters a route does not take: a misspelt ``?sise=`` must
    not be quietly ignored (the answer would be for another question)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = {p.alias for p in _all_query_params(dependant)}
    for name in request.query_params:
        if name not in known:
            raise FieldError(name or "query", f"query parameter {name!r}: not taken by this route")


def _all_query_params(dependant: Any) -> list[Any]:
    out = list(dependant.query_params)
    for sub in dependant.dependencies:
        out += _all_query_params(sub)
    return out


_CONSENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events"],
                    "additionalProperties": False,
                    "properties": {
                        "events": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": "Consent events, each as a line of "
                            "`trainguard consent import` (tenant: the key's own).",
                        }
                    },
                }
            }
        },
    }
}


def create_app(
    db: str | None = None,
    registry: str | Path | None = None,
    keys: str | Path | None = None,
    *,
    application: Application | None = None,
) -> FastAPI:
    """The service over the store ``db`` (as ``--db``) and, for the registry and
    scans, the registry and key folders (as ``--registry`` and ``--keys``)."""
    core = application or Application(db, registry, keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up(core)
        yield
        core.close()

    app = FastAPI(
        lifespan=lifespan,
        title="trainguard",
        version=__version__,
        description="Decisions, consent, terms, notices, registry, scans, models, "
        "training summaries, audit proofs and reports "
        "for the promise that customer content never trains AI models.",
        responses=ERROR_RESPONSES,
        dependencies=[Depends(known_query)],
    )
    app.state.application = core
    metrics = Metrics(core)
    app.state.metrics = metrics
    # Innermost first: the decision lane sees bodies already held to their limit.
    app.add_middleware(DecisionLane, core=core, metrics=lambda: metrics)
    install(app, body_limit)
    app.add_middleware(MetricsMiddleware, metrics=lambda: metrics)

    # Here: they import this module.
    from .explain import router as explain_router
    from .gateway import router as gateway_router

    app.include_router(gateway_router)
    app.include_router(explain_router)

    # --- service --------------------------------------------------------------------

    @app.get("/healthz", tags=["service"], summary="Is the service up, and on which store")
    def healthz() -> dict[str, Any]:
        return {**core.health(), "version": __version__}

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # --- decisions ------------------------------------------------------------------

    @app.post(
        "/v1/decisions",
        tags=["decisions"],
        summary="Decide one record and use (an audit entry)",
        response_model=s.Decision,
    )
    async def decision(body: s.DecisionRequest, who: Decider) -> Response:
        pending = core.submit_decide(
            who,
            categories=body.categories,
            use=body.use,
            collected_at=body.collected_at,
            subjects=body.subjects,
            at=body.at,
            record_id=body.id,
            tenant=body.tenant,
        )
        out = await asyncio.wrap_future(pending)
        metrics.decided(int(out["allowed"]), int(not out["allowed"]))
        return JSONBytes(out)

    @app.post(
        "/v1/decisions/batch",
        tags=["decisions"],
        summary="Decide up to 10,000 records for one use (one audit entry: their Merkle root)",
        response_model=s.BatchResult,
    )
    async def decision_batch(body: s.BatchRequest, who: Decider) -> Response:
        r = body.records
        columns = BatchColumns(r.id, r.categories, r.collected_at, r.subjects)
        # Deciding 10,000 records takes milliseconds: off the event loop.
        pending = await run_in_threadpool(
            core.submit_decide_batch, who, body.use, columns, body.at, body.tenant
        )
        out = await asyncio.wrap_future(pending)
        metrics.decided(out.summary["allowed"], out.summary["denied"])
        return Response(out.to_bytes(), media_type="application/json")

    # --- consent --------------------------------------------------------------------

    @app.post(
        "/v1/consent/events",
        tags=["consent"],
        summary="Record consent events of the key's tenant (audit entries; all or nothing)",
        response_model=s.ConsentResult,
        openapi_extra=_CONSENT_BODY,
    )
    async def consent_append(
        request: Request, who: Caller, allow_unmatched: bool = False
    ) -> Response:
        # The raw body goes to the library's strict reader: a JSON parser would
        # keep the last of duplicate keys.
        body = await request.body()
        out = await run_in_threadpool(core.add_consent, who, body, allow_unmatched)
        return JSONBytes(out)

    @app.get(
        "/v1/consent/events",
        tags=["consent"],
        summary="The key's tenant's consent events, in time order",
        response_model=list[dict[str, Any]],
    )
    def consent_list(who: Caller, subject: s.Name | None = None) -> Response:
        return JSONBytes(core.consent_events(who, subject))

    @app.get(
        "/v1/consent/subjects/{subject}",
        tags=["consent"],
        summary="What a person's consent on record covers at a time (default now)",
        response_model=dict[str, Any],
    )
    def consent_state(
        who: Caller, subject: Annotated[str, PathParam(max_length=256)], at: s.Time | None = None
    ) -> Response:
        return JSONBytes(core.consent_state(who, subject, at))

    # --- terms ----------------------------------------------------------------------

    @app.get("/v1/policies", tags=["policies"], summary="Every version of the terms")
    def policies(who: Caller) -> list[dict[str, Any]]:
        return core.policies(who)

    @app.post(
        "/v1/policies",
        tags=["policies"],
        summary="Add a version of the terms (operator)",
        response_model=dict[str, Any],
    )
    def policy_add(body: s.PolicyRequest, who: Caller) -> Response:
        return JSONBytes(core.add_policy(who, body.yaml, body.source))

    @app.get(
        "/v1/policies/diff",
        tags=["policies"],
        summary="What changed between two versions (?from=REF&to=REF)",
    )
    def policy_diff(
        who: Caller,
        old: Annotated[s.Name, Query(alias="from")],
        new: Annotated[s.Name, Query(alias="to")],
    ) -> list[dict[str, Any]]:
        return core.policy_diff(who, old, new)

    @app.get("/v1/policies/{ref}", tags=["policies"], summary="One version of the terms")
    def policy(who: Caller, ref: Annotated[str, PathParam(max_length=256)]) -> dict[str, Any]:
        return core.policy(who, ref)

    @app.get(
        "/v1/policies/{ref}/notice",
        tags=["policies"],
        summary="What a version allows, use by use",
    )
    def policy_notice(
        who: Caller, ref: Annotated[str, PathParam(max_length=256)]
    ) -> dict[str, Any]:
        return core.policy_notice(who, ref)

    @app.put(
        "/v1/tenants/{tenant}/family",
        tags=["policies"],
        summary="Put a tenant under a family of terms (operator)",
    )
    def tenant_family(
        who: Caller, tenant: Annotated[str, PathParam(max_length=256)], body: s.FamilyRequest
    ) -> dict[str, Any]:
        return core.assign_tenant(who, tenant, body.family)

    # --- registry -------------------------------------------------------------------

    @app.post(
        "/v1/registry/items",
        tags=["registry"],
        summary="Register content of the key's tenant (fingerprints only are kept)",
    )
    def registry_add(body: s.RegistryAdd, who: Caller) -> dict[str, Any]:
        items = [(i.id, i.text, i.category) for i in body.items]
        return core.registry_add(who, items)

    @app.get("/v1/registry/items", tags=["registry"], summary="The key's tenant's items")
    def registry_items(who: Caller) -> list[dict[str, Any]]:
        return core.registry_items(who)

    @app.delete(
        "/v1/registry/items/{item_id}",
        tags=["registry"],
        summary="Remove an item of the key's tenant",
    )
    def registry_remove(
        who: Caller, item_id: Annotated[str, PathParam(max_length=256)]
    ) -> dict[str, Any]:
        return core.registry_remove(who, item_id)

    # --- scans ----------------------------------------------------------------------

    @app.post(
        "/v1/scans",
        tags=["scans"],
        summary="Queue a scan of posted texts, or (operator) of corpus paths on the server",
        status_code=202,
        response_model=s.ScanJob,
    )
    def scan_submit(body: s.ScanRequest, who: Caller) -> Response:
        if (body.documents is None) == (body.paths is None):
            raise InputError("body: give either documents or paths")
        if body.documents is not None:
            docs = [(d.id, d.text) for d in body.documents]
            out = core.scan_documents(who, docs, body.min_confidence, body.near_duplicates)
        else:
            out = core.scan_corpus(who, body.paths or [], body.min_confidence)
        return JSONBytes(out, status_code=202)

    @app.get(
        "/v1/scans/{scan_id}", tags=["scans"], summary="A scan's status", response_model=s.ScanJob
    )
    def scan_status(who: Caller, scan_id: Annotated[str, PathParam(max_length=64)]) -> Response:
        return JSONBytes(core.scan_status(who, scan_id))

    @app.get(
        "/v1/scans/{scan_id}/findings",
        tags=["scans"],
        summary="A scan's findings (those about the key's tenant)",
        response_model=s.ScanFindings,
    )
    def scan_findings(who: Caller, scan_id: Annotated[str, PathParam(max_length=64)]) -> Response:
        return JSONBytes(core.scan_findings(who, scan_id))

    # --- models ---------------------------------------------------------------------

    @app.post("/v1/models", tags=["models"], summary="Register a model's gate manifests (operator)")
    def model_register(body: s.ModelRequest, who: Caller) -> dict[str, Any]:
        return core.register_model(who, body.name, body.manifests, body.trained_at)

    @app.get("/v1/models", tags=["models"], summary="Every registered model (operator)")
    def models(who: Caller) -> list[dict[str, Any]]:
        return core.models(who)

    @app.get("/v1/models/{name}", tags=["models"], summary="One model (operator)")
    def model(who: Caller, name: Annotated[str, PathParam(max_length=256)]) -> dict[str, Any]:
        return core.model(who, name)

    @app.get(
        "/v1/impact",
        tags=["models"],
        summary="Which models' training records are now denied (a tenant key: its own records)",
    )
    def model_impact(
        who: Caller, model: s.Name | None = None, at: s.Time | None = None
    ) -> list[dict[str, Any]]:
        return core.impact(who, model, at)

    # --- audit ----------------------------------------------------------------------

    @app.get(
        "/v1/audit/checkpoint",
        tags=["audit"],
        summary="The latest signed tree head (a signed note)",
        response_class=PlainTextResponse,
    )
    def checkpoint(who: Caller) -> str:
        return core.checkpoint(who)

    @app.get(
        "/v1/audit/entries/{index}",
        tags=["audit"],
        summary="One log entry (a tenant key: entries about its tenant only)",
    )
    def entry(
        who: Caller, index: Annotated[int, PathParam(ge=0, le=s.MAX_INT64)]
    ) -> dict[str, Any]:
        return core.entry(who, index)

    @app.get(
        "/v1/audit/proofs/inclusion/{index}",
        tags=["audit"],
        summary="RFC 9162 inclusion proof (?size=N)",
    )
    def inclusion(
        who: Caller,
        index: Annotated[int, PathParam(ge=0, le=s.MAX_INT64)],
        size: s.Index | None = None,
    ) -> dict[str, Any]:
        return core.inclusion_proof(who, index, size)

    @app.get(
        "/v1/audit/proofs/consistency",
        tags=["audit"],
        summary="RFC 9162 consistency proof (?from=N1&to=N2)",
    )
    def consistency(
        who: Caller,
        old: Annotated[s.Index, Query(alias="from")],
        new: Annotated[s.Index, Query(alias="to")],
    ) -> dict[str, Any]:
        return core.consistency_proof(who, old, new)

    return app


def app_for_worker() -> FastAPI:
    """The service in a worker process of `trainguard serve --workers N`."""
    return create_app(
        os.environ.get(WORKER_DB), os.environ.get(WORKER_REGISTRY), os.environ.get(WORKER_KEYS)
    )


def warm_up(core: Application) -> None:
    """Load the decision context before the first request, then keep it and
    everything loaded so far out of the garbage collector's full passes: with
    a large ledger those passes cost more than the requests that trigger them
    (a 10,000-record batch allocates enough to set off several)."""
    try:
        core.context()
    except NotReady:
        return  # the first request answers 503, and tries again
    gc.freeze()
