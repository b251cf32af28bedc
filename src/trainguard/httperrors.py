"""The HTTP error contract, for any FastAPI service over trainguard.

Whatever a client sends, the answer is never a 5xx: bad input is a 4xx whose
body is always ``{"error": {"code", "message", "field"}}`` — one line that
names the problem, and the request field it is about (or null). Only stored
data that fails verification (500, ``integrity``) and a bug (500,
``internal``) are 5xx. Messages never echo a client's value raw: a lone
surrogate or a NaN echoed back would itself break the JSON of the answer.

``install(app)`` adds the handlers and the body-size limit to an application;
``ERROR_RESPONSES`` documents them in its OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException

from .errors import ConflictError, InputError, IntegrityError, NotFoundError, TrainguardError
from .identity import IdentityError
from .limits import (
    MAX_BODY_BYTES,
    MAX_NAME_CHARS,
    MAX_TIME_CHARS,
    check_name,
    one_line,
    text_problem,
)

MAX_MESSAGE_CHARS = 500


class ErrorDetail(BaseModel):
    code: str = Field(
        description="invalid_input, invalid_request, not_found, conflict, too_large, "
        "method_not_allowed, integrity or internal."
    )
    message: str = Field(description="One line naming the input and the problem.")
    field: str | None = Field(description="The request field it is about, if one is.")


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Bad input (a time without a timezone, an unknown use…)",
    },
    404: {"model": ErrorBody, "description": "Not there"},
    405: {"model": ErrorBody, "description": "Method not allowed"},
    409: {"model": ErrorBody, "description": "Conflicts with what the store holds"},
    413: {"model": ErrorBody, "description": "Request body over the limit"},
    422: {"model": ErrorBody, "description": "Request does not fit the schema"},
    500: {"model": ErrorBody, "description": "Stored data fails verification"},
}


class FieldError(InputError):
    """Bad input in one named request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _valid_name(value: str) -> str:
    try:
        return check_name(value, "value")
    except InputError as exc:
        raise ValueError(str(exc).removeprefix("value ")) from None


def _valid_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(f"the text {problem}")
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_valid_name),
]
"""An id, tenant, subject, category, use or reference."""
Time = Annotated[
    str,
    Field(max_length=MAX_TIME_CHARS, description="ISO 8601; a bare date is 00:00 UTC."),
    AfterValidator(_valid_text),
]
Text = Annotated[str, AfterValidator(_valid_text)]


def error_json(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The body of every error answer."""
    line = one_line(message)
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return {"error": {"code": code, "message": line, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_json(code, message, field), status_code=status)


def _library_error(exc: TrainguardError) -> tuple[int, str]:
    # A tenant, subject or id outside its character set: the request names no one.
    if isinstance(exc, IdentityError):
        return 422, "invalid_identity"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    if isinstance(exc, IntegrityError):
        return 500, "integrity"
    return 400, "invalid_input"


def _field_of(loc: tuple[Any, ...]) -> str | None:
    # ("body", "documents", 3, "id") -> "documents.3.id"; ("query", "from") -> "from"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else []
    return ".".join(parts) or None


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def install(app: FastAPI, body_limit: Callable[[str], int] | None = None) -> None:
    """Error handlers and a request-body limit (``body_limit(path)`` bytes, by default
    MAX_BODY_BYTES for every path)."""

    @app.exception_handler(TrainguardError)
    def _library(request: Request, exc: TrainguardError) -> JSONResponse:
        status, code = _library_error(exc)
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
        response = error_response(exc.status_code, code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    def _bug(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")

    app.add_middleware(BodyLimit, limit_for=body_limit or (lambda path: MAX_BODY_BYTES))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """Refuses a request body over the limit with 413, before the application sees
    all of it: by its Content-Length when it states one, else by counting."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        limit_for: Callable[[str], int],
    ) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        too_large = f"the request body is over {limit:,} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    message = too_large if declared > limit else "Content-Length is not a number"
                    status = 413 if declared > limit else 400
                    code = "too_large" if status == 413 else "invalid_request"
                    await error_response(status, code, message)(scope, receive, send)
                    return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Starlette's HTTPException passes through the framework's body
                    # parsing untouched and reaches the handler above as a 413.
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, counted, send)
