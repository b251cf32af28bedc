"""The service's error contract: one JSON shape, a stable code, never a 5xx for
anything a client can send.

Every error answer is ``{"error": {"code", "message", "field"}}``: the message
is one printable line that names the input and the problem, ``field`` the
request field it is about (or null). Messages never echo a client's value
raw: a lone surrogate or a NaN echoed back would break the JSON of the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ..app.access import Forbidden, Unauthenticated
from ..app.context import NotReady
from ..app.scans import Busy
from ..errors import ConflictError, InputError, IntegrityError, NotFoundError, TrainguardError

MAX_MESSAGE_CHARS = 500


class ErrorDetail(BaseModel):
    code: str = Field(
        description="unauthenticated, forbidden, not_found, conflict, too_large, "
        "invalid_input, invalid_request, method_not_allowed, busy, integrity, not_ready or internal."
    )
    message: str = Field(description="One line naming the input and the problem.")
    field: str | None = Field(description="The request field it is about, if one is.")


class ErrorBody(BaseModel):
    error: ErrorDetail


def _doc(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("A body the JSON reader could not take (not UTF-8, say)"),
    401: _doc("No API key, or an unknown, malformed or revoked one"),
    403: _doc("The key's role may not do this"),
    404: _doc("Not there, or not the key's tenant's"),
    409: _doc("Conflicts with what the store holds"),
    413: _doc("Request body over the limit"),
    422: _doc("Bad input: does not fit the schema, or a value the library refused"),
    429: _doc("Too many scans waiting"),
    500: _doc("Stored data fails verification"),
    503: _doc("The store is not initialized"),
}


class FieldError(InputError):
    """Bad input in one named request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def one_line(message: str) -> str:
    """``message`` as one printable line of bounded length."""
    line = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in message)
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return line


def error_json(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": one_line(message), "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_json(code, message, field), status_code=status, headers=headers)


def library_status(exc: TrainguardError) -> tuple[int, str]:
    if isinstance(exc, Unauthenticated):
        return 401, "unauthenticated"
    if isinstance(exc, Forbidden):
        return 403, "forbidden"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    if isinstance(exc, Busy):
        return 429, "busy"
    if isinstance(exc, IntegrityError):
        return 500, "integrity"
    if isinstance(exc, NotReady):
        return 503, "not_ready"
    return 422, "invalid_input"


def _field_of(loc: tuple[Any, ...]) -> str | None:
    # ("body", "records", "id", 3) -> "records.id.3"; ("query", "from") -> "from"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else []
    return ".".join(parts) or None


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def install(app: FastAPI, body_limit: Callable[[str], int]) -> None:
    """The error handlers and the request-body limit (``body_limit(path)`` bytes)."""

    @app.exception_handler(TrainguardError)
    def _library(request: Request, exc: TrainguardError) -> JSONResponse:
        status, code = library_status(exc)
        return error_response(status, code, str(exc), getattr(exc, "field", None))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "json_invalid":
            field, msg = None, "the body is not valid JSON"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return error_response(422, "invalid_request", f"{field or 'request'}: {msg}{more}", field)

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "invalid_request")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    def _bug(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")

    app.add_middleware(BodyLimit, limit_for=body_limit)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuses a request body over the limit with 413 before the application has
    read all of it: by its Content-Length when it states one, else by counting."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        too_large = f"body: the request body is over {limit:,} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await error_response(413, "too_large", too_large, "body")(scope, receive, send)
                    return
                if declared < 0:
                    response = error_response(
                        422, "invalid_request", "Content-Length: not a number", "Content-Length"
                    )
                    await response(scope, receive, send)
                    return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, counted, send)
