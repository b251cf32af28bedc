"""The inference gateway's routes: AI features ask here, with the service's keys.

``POST /v1/gateway/summary`` and ``POST /v1/gateway/question`` take the records
the feature would use (their metadata and text, held in memory for the
request only), the requesting user, the purpose and the provider; the answer
is the feature's output with a citation for every source used, the decision
for every record, and the index of the request's audit entry (ids, decisions
and digests only). The access check and the provider allowlist are the
service's configuration (:func:`configure`, ``trainguard serve --acl`` /
``--access-hook`` / ``--providers``). Records are decided at the time of the
request, always: a client cannot ask as of a moment before a withdrawal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..app.gateway import GatewayOperations
from ..gateway import LOCAL, AccessCheck, Providers
from ..gateway.sources import MAX_SOURCES
from . import schemas as s
from .app import Caller, JSONBytes

router = APIRouter(prefix="/v1/gateway", tags=["gateway"])


class Turn(s.Strict):
    speaker: s.Text = Field(default="", max_length=200)
    text: s.Text


class GatewayRecord(s.Strict):
    id: s.Name
    categories: list[s.Name] = Field(min_length=1, max_length=s.MAX_NAMES)
    collected_at: s.Time
    subjects: list[s.Name] = Field(default_factory=list, max_length=s.MAX_NAMES)
    container: s.Text = Field(
        default="",
        max_length=s.MAX_NAME_CHARS,
        description="Where the platform shows it (a meeting, a channel): what the access check is asked about.",
    )
    text: s.Text | None = None
    turns: list[Turn] | None = None


class FeatureRequest(s.Strict):
    user: s.Name = Field(description="The person asking: only what they may see now is used.")
    purpose: s.Name = Field(
        default="infer.feature", description="infer.feature or infer.third_party."
    )
    provider: s.Name = Field(
        default=LOCAL, description="The model provider; must be on the tenant's allowlist."
    )
    records: list[GatewayRecord] = Field(max_length=MAX_SOURCES)
    tenant: s.Name | None = None


class QuestionRequest(FeatureRequest):
    question: s.Text = Field(min_length=1, max_length=2_000)


class FeatureAnswer(BaseModel):
    feature: str
    text: str
    html: str
    points: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    record: dict[str, Any]
    decisions: list[dict[str, Any]]
    commitment_key: str
    audit_index: int


def configure(app: FastAPI, access: AccessCheck | None, providers: Providers | None = None) -> None:
    """Give the service its access check and provider allowlist."""
    app.state.gateway = GatewayOperations(app.state.application, access, providers or Providers())


def _operations(request: Request) -> GatewayOperations:
    ops = getattr(request.app.state, "gateway", None)
    if ops is None:  # not configured: no access check, so every request is refused
        ops = request.app.state.gateway = GatewayOperations(request.app.state.application)
    return ops


def _ask(
    request: Request, who: Any, feature: str, body: FeatureRequest, question: str | None
) -> Response:
    records = [r.model_dump(exclude_none=True) for r in body.records]
    for r in records:
        if "turns" in r:
            r["turns"] = [{"speaker": t["speaker"], "text": t["text"]} for t in r["turns"]]
    out = _operations(request).ask(
        who,
        feature=feature,
        user=body.user,
        purpose=body.purpose,
        provider=body.provider,
        records=records,
        question=question,
        tenant=body.tenant,
    )
    return JSONBytes(out)


@router.post(
    "/summary",
    summary="An extractive summary of the records the user may see, every source cited",
    response_model=FeatureAnswer,
)
def summary(request: Request, body: FeatureRequest, who: Caller) -> Response:
    return _ask(request, who, "summary", body, None)


@router.post(
    "/question",
    summary="The turns that answer a question, from the records the user may see, cited",
    response_model=FeatureAnswer,
)
def question(request: Request, body: QuestionRequest, who: Caller) -> Response:
    return _ask(request, who, "question", body, body.question)
