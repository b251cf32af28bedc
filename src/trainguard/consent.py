"""Consent events and the in-memory ledger that ``decide`` consults.

Events are append-only: a grant or a withdrawal, by a person acting as the
tenant's account admin (for the whole tenant) or as themselves (for their own
content), over category and use patterns, under a policy version. An event's
id is derived from its content, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .canonical import canonical_json
from .errors import ConsentError, TaxonomyError
from .taxonomy import Taxonomy, any_matches
from .timeutil import format_instant, parse_instant, to_micros

Kind = Literal["grant", "withdraw"]
Role = Literal["account_admin", "self"]
Mode = Literal["explicit", "implied"]


class ConsentEvent(BaseModel):
    """One grant or withdrawal, exactly as recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1)
    kind: Kind
    subject: str = Field(min_length=1)
    role: Role
    categories: tuple[str, ...] = Field(min_length=1)
    uses: tuple[str, ...] = Field(min_length=1)
    mode: Mode | None = None
    policy_version: str = Field(min_length=1, description="content hash of the version")
    notice_id: str | None = None
    at: datetime

    @field_validator("at", mode="before")
    @classmethod
    def _parse_at(cls, v: Any) -> datetime:
        if isinstance(v, datetime):
            if v.tzinfo is None:
                raise ValueError("at needs a timezone")
            return v
        if not isinstance(v, str):
            raise ValueError("at must be an ISO 8601 date-time with a timezone")
        try:
            return parse_instant(v, "at")
        except Exception as exc:
            raise ValueError(str(exc).removeprefix("at: ")) from exc

    @model_validator(mode="after")
    def _grant_has_mode(self) -> ConsentEvent:
        if self.kind == "grant" and self.mode is None:
            raise ValueError("a grant needs a mode (explicit or implied)")
        return self

    def canonical(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        body["at"] = format_instant(self.at)
        body["categories"] = sorted(self.categories)
        body["uses"] = sorted(self.uses)
        return body

    @property
    def event_id(self) -> str:
        return "ce_" + hashlib.sha256(canonical_json(self.canonical())).hexdigest()[:24]

    def check_taxonomy(self, taxonomy: Taxonomy) -> None:
        for c in self.categories:
            taxonomy.check_category_pattern(c)
        for u in self.uses:
            taxonomy.check_use_pattern(u)

    def covers(self, category: str, use: str) -> bool:
        return any_matches(self.categories, category) and any_matches(self.uses, use)


def parse_event(data: Mapping[str, Any], source: str, taxonomy: Taxonomy) -> ConsentEvent:
    """Validate one event from a mapping (a JSONL line, an API body)."""
    try:
        event = ConsentEvent.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "event"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        raise ConsentError(f"{source}: {field}: {msg}") from None
    try:
        event.check_taxonomy(taxonomy)
    except TaxonomyError as exc:
        raise ConsentError(f"{source}: {exc}") from None
    return event


@dataclass(frozen=True)
class StoredEvent:
    """An event as the ledger holds it: with its id and a sortable time."""

    id: str
    event: ConsentEvent
    at_micros: int


class Ledger:
    """All consent events, grouped by tenant and ordered by time then id."""

    def __init__(self, events: Iterable[ConsentEvent] = ()) -> None:
        self._by_tenant: dict[str, list[StoredEvent]] = defaultdict(list)
        for e in events:
            self._by_tenant[e.tenant].append(StoredEvent(e.event_id, e, to_micros(e.at)))
        for items in self._by_tenant.values():
            items.sort(key=lambda s: (s.at_micros, s.id))

    def add(self, event: ConsentEvent) -> None:
        items = self._by_tenant[event.tenant]
        items.append(StoredEvent(event.event_id, event, to_micros(event.at)))
        items.sort(key=lambda s: (s.at_micros, s.id))

    def tenant_events(self, tenant: str) -> list[StoredEvent]:
        return self._by_tenant.get(tenant, [])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_tenant.values())
