"""Request and response bodies of the service, as its OpenAPI schema shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..app.decisions import MAX_BATCH_RECORDS
from ..limits import MAX_SCAN_DOCUMENTS

MAX_NAME_CHARS = 256
MAX_TIME_CHARS = 64
MAX_NAMES = 1_000
MAX_INT64 = 2**63 - 1


def _valid_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid UTF-8 (it holds a lone surrogate)") from None
    return value


Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_valid_text),
]
"""An id, tenant, subject, category, use or reference."""
Time = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TIME_CHARS,
        description="ISO 8601 with a timezone; a bare date is 00:00 UTC.",
    ),
    AfterValidator(_valid_text),
]
Text = Annotated[str, AfterValidator(_valid_text)]
Index = Annotated[int, Field(ge=0, le=MAX_INT64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionRequest(Strict):
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
    tenant: Name | None = Field(
        default=None, description="The key's tenant (the default); any other is not found."
    )


class BatchRecords(Strict):
    """Records by column, each list as long as ``id``."""

    id: list[Annotated[str, Field(max_length=MAX_NAME_CHARS)]] = Field(max_length=MAX_BATCH_RECORDS)
    categories: list[list[Annotated[str, Field(max_length=MAX_NAME_CHARS)]]] = Field(
        max_length=MAX_BATCH_RECORDS
    )
    collected_at: list[Annotated[str, Field(max_length=MAX_TIME_CHARS)]] = Field(
        max_length=MAX_BATCH_RECORDS
    )
    subjects: list[list[Annotated[str, Field(max_length=MAX_NAME_CHARS)]]] | None = Field(
        default=None, max_length=MAX_BATCH_RECORDS
    )


class BatchRequest(Strict):
    use: Name
    at: Time | None = Field(default=None, description="Time of use (default: now).")
    tenant: Name | None = None
    records: BatchRecords


class Decision(BaseModel):
    record: dict[str, Any]
    use: str
    at: str
    allowed: bool
    reasons: list[str]
    rules: list[str]
    policy_at_use: str | None
    policy_at_collection: str | None
    consents: list[str]
    consent_required: dict[str, Any] | None
    audit_index: int = Field(description="The decision's entry in the audit log.")


class BatchDecision(BaseModel):
    id: str | None
    allowed: bool
    reasons: list[str]
    rules: list[str]
    policy_at_use: str | None
    policy_at_collection: str | None
    consents: list[str]


class BatchResult(BaseModel):
    tenant: str
    use: str
    at: str
    records: int
    allowed: int
    denied: int
    root: str | None = Field(description="Merkle root over the decisions' canonical JSON.")
    audit_index: int
    decisions: list[BatchDecision]


class ConsentResult(BaseModel):
    recorded: int
    already_on_record: int
    ids: list[str]


class PolicyRequest(Strict):
    yaml: Annotated[str, Field(max_length=256 * 1024), AfterValidator(_valid_text)] = Field(
        description="A policy version as its YAML file holds it."
    )
    source: Name = Field(default="policy.yaml", description="A name for messages and the log.")


class FamilyRequest(Strict):
    family: Name


class RegistryItem(Strict):
    id: Name
    text: Annotated[str, Field(max_length=4 * 1024 * 1024), AfterValidator(_valid_text)]
    category: Name | None = None


class RegistryAdd(Strict):
    items: list[RegistryItem] = Field(min_length=1, max_length=MAX_SCAN_DOCUMENTS)


class ScanDocument(Strict):
    id: Name
    text: Text


class ScanRequest(Strict):
    documents: list[ScanDocument] | None = Field(
        default=None,
        max_length=MAX_SCAN_DOCUMENTS,
        description="Texts to scan (any key that may scan).",
    )
    paths: list[Name] | None = Field(
        default=None,
        max_length=1_000,
        description="Corpus files or folders on the server (operator keys only).",
    )
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    near_duplicates: bool = True


class ScanJob(BaseModel):
    id: str
    status: str = Field(description="queued, running, done or failed")
    documents: int
    submitted_at: str
    findings: int
    summary: dict[str, Any]
    error: str | None


class ScanFindings(BaseModel):
    id: str
    status: str
    findings: list[dict[str, Any]]


class ModelRequest(Strict):
    name: Name
    manifests: list[Name] = Field(min_length=1, max_length=1_000)
    trained_at: Time | None = None


Audience = Literal["participant", "admin"]
NoticeFormat = Literal["json", "html", "text"]
SummaryFormat = Literal["json", "html"]


class NoticeEventRequest(Strict):
    subject: Name = Field(description="The person shown the notice, or acknowledging it.")
    at: Time | None = Field(default=None, description="When (default: now).")
    tenant: Name | None = Field(
        default=None, description="The key's tenant (the default); any other is not found."
    )


class NoticeEvent(BaseModel):
    id: str = Field(description="The same event recorded twice has the same id.")
    notice_id: str
    kind: str = Field(description="served or acknowledged")
    tenant: str
    subject: str
    at: str
    recorded_at: str


class NoticeEventRecorded(NoticeEvent):
    recorded: bool = Field(description="False: the same event was already on record.")


class NoticeEventRow(NoticeEvent):
    policy_version: str = Field(description="The hash of the version of the terms it shows.")
