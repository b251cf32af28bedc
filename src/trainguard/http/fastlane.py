"""The decision routes without the framework's per-request machinery.

``POST /v1/decisions`` sits on the request path of AI features, where the
framework's dependency solving, body handling and validation layers cost
several times the decision itself. This ASGI layer answers a well-formed
decision request directly: the same key check, the same request model
(validated from the raw bytes in one pass), the same application call and
the same answer. Anything else — no or a bad key, a body that does not
validate, a value the library refuses, a query string, another content type —
is handed, body and all, to the framework's route, which answers it as it
always has. So the routes' contract (schema, errors, OpenAPI) has one
definition, and this layer only ever answers the requests it is sure of.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..app import Application, BatchColumns, Principal
from ..errors import TrainguardError
from . import schemas as s
from .errors import ASGIApp, Message, Receive, Scope, Send, error_response, library_status
from .metrics import Metrics

SINGLE = "/v1/decisions"
BATCH = "/v1/decisions/batch"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class DecisionLane:
    def __init__(self, app: ASGIApp, core: Application, metrics: Callable[[], Metrics]) -> None:
        self.app = app
        self.core = core
        self.metrics = metrics
        self._routes: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or path not in (SINGLE, BATCH)
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:  # over the body limit, counted as it arrived
            await error_response(exc.status_code, "too_large", str(exc.detail), "body")(
                scope, receive, send
            )
            return
        started = self._start(scope, body)
        if started is None:
            await self.app(scope, _replay(body), send)
            return
        # The route the framework would have matched, for the metrics' labels.
        scope["route"] = self._route(scope, path)
        try:
            payload = await started
        except TrainguardError as exc:
            status, code = library_status(exc)
            response = error_response(status, code, str(exc), getattr(exc, "field", None))
            await response(scope, receive, send)
            return
        except Exception as exc:
            response = error_response(500, "internal", f"internal error: {type(exc).__name__}")
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _start(self, scope: Scope, body: bytes) -> Awaitable[bytes] | None:
        """The decision under way, or None when the framework's route should answer:
        nothing here has effects before the request is known to be good."""
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return None
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            who = self.core.authenticate(token, fresh=not self.core.contexts.loaded)
            if scope["path"] == SINGLE:
                return self._single(who, s.DecisionRequest.model_validate_json(body))
            return self._batch(who, s.BatchRequest.model_validate_json(body))
        except (ValidationError, TrainguardError, ValueError):
            return None

    def _single(self, who: Principal, body: s.DecisionRequest) -> Awaitable[bytes]:
        pending = self.core.submit_decide(
            who,
            categories=body.categories,
            use=body.use,
            collected_at=body.collected_at,
            subjects=body.subjects,
            at=body.at,
            record_id=body.id,
            tenant=body.tenant,
        )

        async def answer() -> bytes:
            out = await asyncio.wrap_future(pending)
            self.metrics().decided(int(out["allowed"]), int(not out["allowed"]))
            return orjson.dumps(out)

        return answer()

    def _batch(self, who: Principal, body: s.BatchRequest) -> Awaitable[bytes] | None:
        r = body.records
        columns = BatchColumns(r.id, r.categories, r.collected_at, r.subjects)
        if len({len(r.id), len(r.categories), len(r.collected_at)}) != 1:
            return None  # the route's own error names the column

        async def answer() -> bytes:
            # Deciding 10,000 records takes milliseconds: off the event loop.
            pending: Future[Any] = await run_in_threadpool(
                self.core.submit_decide_batch, who, body.use, columns, body.at, body.tenant
            )
            out = await asyncio.wrap_future(pending)
            self.metrics().decided(out.summary["allowed"], out.summary["denied"])
            return bytes(out.to_bytes())

        return answer()

    def _route(self, scope: Scope, path: str) -> Any:
        if path not in self._routes:
            router = scope["app"].router
            self._routes[path] = next(
                (r for r in router.routes if getattr(r, "path", None) == path), None
            )
        return self._routes[path]


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A receive that gives ``body`` once, then waits as a finished request does."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
