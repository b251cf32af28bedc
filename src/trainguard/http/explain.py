"""Routes that explain: notices people are shown (rendered from the terms, served
to a person and acknowledged by them, as a consent screen records them), a
model's public training-content summary and the auditor's report.

Notices are the terms in plain language: any key may render them. Notice
events are a tenant's: recorded with its admin or service key, read with its
admin or auditor key. A summary and the report are platform-wide: the
operator reads them whole (or one tenant's part, ``?tenant=``), a tenant's
admin or auditor key only its own tenant's part (counted over its records and
entries alone). HTML answers carry a Content-Security-Policy that lets the page
fetch and run nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from ..app import Application
from ..explain.notice_events import ACKNOWLEDGED, SERVED
from ..explain.notices import notice_html, notice_text
from ..explain.summary import summary_html
from . import schemas as s
from .app import Caller, JSONBytes

router = APIRouter(prefix="/v1")

# The pages are self-contained (inline styles and SVG): nothing else may load or run.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_TEXT = {"schema": {"type": "string"}}
_PAGES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": _TEXT, "text/plain": _TEXT}}
}
_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": _TEXT}}}


def _core(request: Request) -> Application:
    application: Application = request.app.state.application
    return application


Core = Annotated[Application, Depends(_core)]
Ref = Annotated[str, PathParam(max_length=s.MAX_NAME_CHARS)]
NoticeId = Annotated[str, PathParam(max_length=64)]


def page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_POLICY})


# --- notices ------------------------------------------------------------------------


@router.get(
    "/policies/{ref}/notices/{audience}",
    tags=["notices"],
    summary="A plain-language notice of a version for an audience, with its id "
    "(?format=json|html|text)",
    response_model=dict[str, Any],
    responses=_PAGES,
)
def notice_render(
    core: Core,
    who: Caller,
    ref: Ref,
    audience: Annotated[s.Audience, PathParam()],
    fmt: Annotated[s.NoticeFormat, Query(alias="format")] = "json",
) -> Response:
    notice = core.notice(who, ref, audience)
    if fmt == "html":
        return page(notice_html(notice))
    if fmt == "text":
        return PlainTextResponse(notice_text(notice))
    return JSONBytes(notice.to_json())


@router.post(
    "/notices/{notice_id}/served",
    tags=["notices"],
    summary="Record that a person of the key's tenant was shown a notice "
    "(an audit entry; not consent)",
    response_model=s.NoticeEventRecorded,
)
def notice_served(
    core: Core, who: Caller, notice_id: NoticeId, body: s.NoticeEventRequest
) -> Response:
    return JSONBytes(core.record_notice(who, SERVED, notice_id, body.subject, body.at, body.tenant))


@router.post(
    "/notices/{notice_id}/acknowledged",
    tags=["notices"],
    summary="Record that a person acknowledged a notice served to them "
    "(an audit entry; not consent)",
    response_model=s.NoticeEventRecorded,
)
def notice_acknowledged(
    core: Core, who: Caller, notice_id: NoticeId, body: s.NoticeEventRequest
) -> Response:
    return JSONBytes(
        core.record_notice(who, ACKNOWLEDGED, notice_id, body.subject, body.at, body.tenant)
    )


@router.get(
    "/notices/events",
    tags=["notices"],
    summary="Notices served to and acknowledged by the key's tenant's people "
    "(?subject=S), in the order recorded",
    response_model=list[s.NoticeEventRow],
)
def notice_events(core: Core, who: Caller, subject: s.Name | None = None) -> Response:
    return JSONBytes(core.notice_events(who, subject))


# --- summary and report -------------------------------------------------------------


@router.get(
    "/models/{name}/summary",
    tags=["models"],
    summary="A model's public training-content summary (a tenant key: its own records' part)",
    response_model=dict[str, Any],
    responses=_HTML,
)
def model_summary(
    core: Core,
    who: Caller,
    name: Ref,
    fmt: Annotated[s.SummaryFormat, Query(alias="format")] = "json",
    provider: s.Name | None = None,
    contact: s.Name | None = None,
    tenant: s.Name | None = None,
) -> Response:
    data = core.training_summary(who, name, provider, contact, tenant)
    return page(summary_html(data)) if fmt == "html" else JSONBytes(data)


@router.get(
    "/audit/report",
    tags=["audit"],
    summary="The auditor's report, one HTML page (a tenant key: what is about its tenant)",
    # Not response_class=HTMLResponse: the error answers would be documented as HTML too.
    response_model=None,
    responses=_HTML,
)
def audit_report(core: Core, who: Caller, tenant: s.Name | None = None) -> Response:
    return page(core.report(who, tenant))
